"""The FalkorDB plumbing both FalkorDB stores share: URI parsing, graph-name check, error classes."""

from __future__ import annotations

import pytest
import redis

from core.errors import ConfigError
from core.graph.falkordb_conn import (
    Failure,
    FalkorDBAddress,
    FalkorDBConnection,
    address_from_uri,
    check_graph_name,
    classify,
)


def test_uri_parts_become_an_address() -> None:
    addr = address_from_uri("falkors://ops:p%40ss@10.1.2.3:7000", "from-settings")
    assert addr == FalkorDBAddress("10.1.2.3", 7000, "ops", "p@ss", True)


def test_uri_defaults_port_and_falls_back_to_the_settings_password() -> None:
    assert address_from_uri("redis://graph.internal", "pw") == FalkorDBAddress(
        "graph.internal", 6379, None, "pw", False
    )
    assert address_from_uri("rediss://graph.internal", None).ssl is True


@pytest.mark.parametrize(("uri", "match"), [("falkor://:6379", "names no host"), ("falkor://h:notaport", "invalid")])
def test_bad_uris_are_config_errors(uri: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        address_from_uri(uri, None)


@pytest.mark.parametrize("name", ["", "has space", "tab\there"])
def test_unusable_graph_names_are_refused_with_the_callers_hint(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid FalkorDB graph name") as exc:
        check_graph_name(name, hint="try 'kg'")
    assert exc.value.hint == "try 'kg'"
    assert check_graph_name("kg", hint="unused") == "kg"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (redis.TimeoutError("read"), Failure.TIMEOUT),
        (redis.ResponseError("Query timed out"), Failure.TIMEOUT),
        (TimeoutError("timed out"), Failure.TIMEOUT),
        (redis.AuthenticationError("invalid password"), Failure.AUTH),
        (redis.ConnectionError("refused"), Failure.UNREACHABLE),
        (ConnectionRefusedError("refused"), Failure.UNREACHABLE),
        (redis.ResponseError("Unknown function 'nosuch'"), Failure.OTHER),
    ],
)
def test_client_errors_are_classified(error: BaseException, kind: Failure) -> None:
    assert classify(error) is kind


def test_location_names_scheme_host_port_and_graph() -> None:
    plain = FalkorDBConnection(FalkorDBAddress("h", 1, None, None, False), "g", query_timeout_ms=1, connect_timeout_s=1)
    tls = FalkorDBConnection(FalkorDBAddress("h", 2, "u", "p", True), "g", query_timeout_ms=1, connect_timeout_s=1)
    assert (plain.location, tls.location) == ("falkor://h:1/g", "falkors://h:2/g")
    plain.close()  # nothing was opened: closing is a no-op
