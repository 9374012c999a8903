"""Shared adapter helpers: JSON decoding errors, timestamps, labels → entity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import InvalidPayload
from core.model import EntityRef
from core.sources.common import (
    ItemProblem,
    decode_json,
    did_you_mean,
    entity_from_labels,
    parse_time,
    strip_port,
)


def test_truncated_json_says_truncated_and_where() -> None:
    with pytest.raises(InvalidPayload) as err:
        decode_json(b'{"alerts": [{"status": "fir', "alertmanager webhook")
    msg = str(err.value)
    assert msg.startswith("alertmanager webhook: truncated JSON at line 1 column")


def test_invalid_json_in_the_middle_is_not_called_truncated() -> None:
    with pytest.raises(InvalidPayload) as err:
        decode_json('{"a": 1,, "b": 2}', "x")
    assert "invalid JSON at line 1 column 9" in str(err.value)


def test_binary_garbage_names_the_bad_byte() -> None:
    with pytest.raises(InvalidPayload) as err:
        decode_json(b"\x1f\x8b\x08\x00garbage", "loki push")
    assert "not UTF-8" in str(err.value) and "0x8b at byte 1" in str(err.value)


@pytest.mark.parametrize("body", [b"", b"   \n", ""])
def test_empty_body(body: bytes | str) -> None:
    with pytest.raises(InvalidPayload, match="empty body"):
        decode_json(body, "x")


def test_parse_time_accepts_rfc3339_with_nanoseconds_and_offsets() -> None:
    assert parse_time("2024-05-14T10:02:13.123456789Z", "t") == datetime(2024, 5, 14, 10, 2, 13, 123456, tzinfo=UTC)
    assert parse_time("2021-10-12T09:51:03.157076+02:00", "t") == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    assert parse_time(1715680933, "t") == datetime(2024, 5, 14, 10, 2, 13, tzinfo=UTC)


def test_go_zero_time_is_unset_only_when_allowed() -> None:
    assert parse_time("0001-01-01T00:00:00Z", "endsAt", allow_zero=True) is None
    with pytest.raises(ItemProblem) as err:
        parse_time("0001-01-01T00:00:00Z", "startsAt")
    assert err.value.field == "startsAt"


@pytest.mark.parametrize("bad", ["yesterday", "", None, True, [1], float("nan")])
def test_bad_timestamps_name_the_field(bad: object) -> None:
    with pytest.raises(ItemProblem) as err:
        parse_time(bad, "alerts[2].startsAt")
    assert err.value.field == "alerts[2].startsAt"


def test_entity_from_prometheus_alert_labels_prefers_container_over_exporter_job() -> None:
    ref = entity_from_labels(
        {"job": "kube-state-metrics", "namespace": "shop", "pod": "cart-1", "container": "cart", "cluster": "prod"}
    )
    assert ref == EntityRef(cluster="prod", namespace="shop", service="cart", pod="cart-1")


def test_job_names_the_service_only_when_nothing_better_exists() -> None:
    assert entity_from_labels({"job": "checkout", "instance": "10.0.0.5:8080"}) == EntityRef(
        service="checkout", host="10.0.0.5"
    )
    # Promtail's kubernetes job label is namespace/app
    assert entity_from_labels({"job": "boutique/frontend"}).service == "frontend"
    assert entity_from_labels({"job": "kube-state-metrics", "pod": "x"}).service is None


def test_otel_and_loki_label_spellings() -> None:
    ref = entity_from_labels(
        {
            "service_name": "cart",
            "k8s_pod_name": "cart-7f9c",
            "k8s_namespace_name": "shop",
            "k8s_node_name": "node-2",
            "k8s_cluster_name": "prod",
        }
    )
    assert ref == EntityRef(cluster="prod", namespace="shop", service="cart", pod="cart-7f9c", node="node-2")
    # Loki's placeholder for "no service" names nothing
    assert entity_from_labels({"service_name": "unknown_service", "app": "web"}).service == "web"


def test_labels_override_defaults_and_fill_gaps() -> None:
    ref = entity_from_labels({"service": "cart"}, EntityRef(cluster="sim", namespace="boutique", service="x"))
    assert ref == EntityRef(cluster="sim", namespace="boutique", service="cart")


@pytest.mark.parametrize(
    ("raw", "host"), [("10.0.0.5:9100", "10.0.0.5"), ("[::1]:9090", "::1"), ("web-1", "web-1"), ("::1", "::1")]
)
def test_strip_port(raw: str, host: str) -> None:
    assert strip_port(raw) == host


def test_did_you_mean() -> None:
    assert did_you_mean("cartt", ["cart", "checkout"]) == " (did you mean 'cart'?)"
    assert did_you_mean("zzz", ["cart"]) == ""


def test_batch_error_summary_and_extend() -> None:
    from core.sources.common import ItemError, ParsedBatch

    a = ParsedBatch(errors=[ItemError(i, f"alerts[{i}].status", "bad") for i in range(7)])
    b = ParsedBatch(warnings=[ItemError(None, "x", "unknown field ignored")])
    a.extend(b)
    assert a.error_summary(limit=2) == "alerts[0].status: bad; alerts[1].status: bad; and 5 more"
    assert [str(w) for w in a.warnings] == ["x: unknown field ignored"]
    assert str(ItemError(None, "", "whole body")) == "whole body"
