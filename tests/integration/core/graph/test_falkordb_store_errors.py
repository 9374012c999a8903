"""How FalkorDBGraphStore turns server failures into Sherlog's typed errors, against the real server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from core.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.graph.falkordb_store import FalkorDBGraphStore
from tests.fixtures.net import free_port


def _store(server: EmbeddedFalkorDB, **kw: object) -> FalkorDBGraphStore:
    return FalkorDBGraphStore(server.host, server.port, f"err_{uuid.uuid4().hex[:12]}", **kw)  # type: ignore[arg-type]


def test_slow_query_is_a_timeout(falkordb_server: EmbeddedFalkorDB) -> None:
    store = _store(falkordb_server, query_timeout_ms=1)
    # a cross product streams rows, so the server-side deadline fires at once
    with pytest.raises(BackendTimeout, match="exceeded 1 ms: Query timed out") as exc:
        store.query(
            "UNWIND range(1, 5000) AS a UNWIND range(1, 5000) AS b WITH a, b WHERE (a * b) % 7 = 0 RETURN count(*)"
        )
    assert exc.value.hint and "QUERY_TIMEOUT_MS" in exc.value.hint


def test_rejected_query_names_the_query(falkordb_server: EmbeddedFalkorDB) -> None:
    store = _store(falkordb_server)
    with pytest.raises(BackendError, match="FalkorDB rejected the query") as exc:
        store.query("MATCH (n) RETURN nosuchfunction(n) AS x")
    assert type(exc.value) is BackendError
    assert exc.value.hint and "nosuchfunction" in exc.value.hint


def test_bad_graph_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="graph name"):
        FalkorDBGraphStore("127.0.0.1", 6479, "has space")


def test_reconnects_after_an_external_restart(tmp_path: Path) -> None:
    """A server restarted by someone else leaves our pooled socket dead: the store reconnects once, quietly."""
    server = EmbeddedFalkorDB(tmp_path, port=free_port())
    server.ensure_running()
    try:
        store = _store(server)  # no manager: it must not start anything itself
        store.upsert_nodes("Service", [{"id": "service:a"}])
        server.stop()
        server.ensure_running()
        assert store.count_nodes("Service") == 1  # the pooled socket died with the old process
        server.stop()
        with pytest.raises(BackendUnavailable, match="cannot reach FalkorDB") as exc:
            store.count_nodes()
        assert exc.value.hint and "SHERLOG_GRAPH__URI" in exc.value.hint
        assert not server.info().running
    finally:
        server.stop()
