"""Pure rules of ingestion: entity placement and defaults, kind-specific fields, keys, runbook choice,
the Poisson tail, and the past-incident input model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from core.ingest.graph_writes import pick_runbook
from core.ingest.incidents import PastIncidentIn
from core.ingest.records import (
    MAX_KEY_LEN,
    alert_state,
    change_props,
    entity_tuple,
    ingest_key,
    json_ready,
    metric_sample,
    place,
    with_defaults,
)
from core.ingest.signals import poisson_tail
from core.ingest.writer import PendingLog, count_rows, sqlite_ts
from core.model import EntityRef, Event
from core.sources.common import ItemProblem

TS = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def _event(**kw: object) -> Event:
    return Event.parse({"source": "t", "kind": "metric", "ts": TS, **kw})


def test_defaults_fill_only_what_the_envelope_lacks() -> None:
    d = entity_tuple(EntityRef(cluster="prod", namespace="shop", service="fallback"))
    assert with_defaults((None, None, "cart", None, None, None), d) == ("prod", "shop", "cart", None, None, None)
    # a node event keeps its node, gets the cluster, and no namespace or service
    assert with_defaults((None, None, None, None, "n1", None), d) == ("prod", None, None, None, "n1", None)
    # an event naming nothing takes the default workload
    assert with_defaults((None, None, None, None, None, None), d) == ("prod", "shop", "fallback", None, None, None)
    assert with_defaults(("eu", "ops", "cart", None, None, None), d) == ("eu", "ops", "cart", None, None, None)


def test_placement_ids_match_topology_ids() -> None:
    p = place(("sim", "boutique", "cart", "cart-7f-x", "node-2", None))
    assert (p.primary, p.primary_label) == ("service:sim/boutique/cart", "Service")
    assert p.pod == "pod:sim/boutique/cart-7f-x" and p.node == "node:sim/node-2"
    assert p.metric_entity == p.pod  # pod series stay on the pod
    assert place((None, None, None, None, "node-2", None)).primary == "node:node-2"
    assert place((None, None, None, None, None, "web-1")).primary == "host:web-1"
    assert place((None, None, None, "lonely-pod", None, None)).primary == "pod:lonely-pod"
    assert place((None, None, None, None, None, None)).primary is None


@pytest.mark.parametrize(
    ("attrs", "field"),
    [
        ({"value": 1}, "attributes.metric"),
        ({"metric": "", "value": 1}, "attributes.metric"),
        ({"metric": "cpu"}, "attributes.value"),
        ({"metric": "cpu", "value": True}, "attributes.value"),
        ({"metric": "cpu", "value": "high"}, "attributes.value"),
        ({"metric": "cpu", "value": float("nan")}, "attributes.value"),
        ({"metric": "cpu", "value": [1]}, "attributes.value"),
    ],
)
def test_metric_sample_rejects_with_the_field(attrs: dict, field: str) -> None:
    with pytest.raises(ItemProblem) as e:
        metric_sample(_event(attributes=attrs))
    assert e.value.field == field


def test_metric_sample_accepts_numbers_and_numeric_text() -> None:
    assert metric_sample(_event(attributes={"metric": " cpu ", "value": "0.25"})) == ("cpu", 0.25)
    assert metric_sample(_event(attributes={"metric": "rps", "value": 3})) == ("rps", 3.0)


def test_alert_state_reads_both_attribute_shapes() -> None:
    mapped = _event(
        kind="alert",
        attributes={
            "alertname": "HighLatency",
            "status": "resolved",
            "fingerprint": "abc",
            "labels": {"alertname": "HighLatency", "severity": "critical"},
            "summary": "p99 high token=abcd1234",
            "starts_at": TS.timestamp(),
            "ends_at": TS.timestamp() + 60,
        },
    )
    s = alert_state(mapped)
    assert (s.node_id, s.status, s.severity, s.ends_at) == ("alert:abc", "resolved", "critical", TS.timestamp() + 60)
    assert "abcd1234" not in s.summary
    am_style = _event(
        kind="alert",
        attributes={
            "status": "firing",
            "labels": {"alertname": "DiskFull", "node": "n1"},
            "annotations": {"description": "disk", "runbook_url": "https://x/diskfull"},
            "startsAt": "2025-03-03T11:00:00.000Z",
            "endsAt": "0001-01-01T00:00:00Z",
        },
    )
    s = alert_state(am_style)
    assert s.alertname == "DiskFull" and s.ends_at is None and s.starts_at == TS.timestamp() - 3600
    assert s.runbook_url == "https://x/diskfull" and len(s.fingerprint) == 16


def test_keys_are_per_tenant_and_fit_the_column() -> None:
    ev = _event(attributes={"metric": "cpu", "value": 1}, ingest_id="x" * 256)
    assert len(ingest_key(ev, "default")) <= MAX_KEY_LEN
    assert ingest_key(ev, "default") != ingest_key(ev, "acme")
    short = _event(attributes={"metric": "cpu", "value": 1}, ingest_id="a1")
    assert ingest_key(short, "default") == "id:a1"


def test_change_props_and_json_ready() -> None:
    ev = _event(kind="change", body="deploy", attributes={"change_type": "deploy", "version": "v2"}, ingest_id="c1")
    props = change_props(ev, "id:c1")
    assert props["id"] == "change:c1" and props["version"] == "v2" and props["ts"] == TS.timestamp()
    assert json_ready({"a": [TS, float("inf"), "password=x1"]}) == {"a": [TS.isoformat(), None, "password=[REDACTED]"]}


def test_pick_runbook_prefers_url_then_stem_then_alias() -> None:
    books = [
        {"id": "runbook:a", "aliases": ["other", "kubepodcrashlooping"], "url": "https://rb/a"},
        {"id": "runbook:b", "aliases": ["kubepodcrashlooping"], "url": "https://rb/b"},
    ]
    assert pick_runbook("KubePodCrashLooping", None, books) == "runbook:b"
    assert pick_runbook("KubePodCrashLooping", "https://rb/a/", books) == "runbook:a"
    assert pick_runbook("Other", None, books) == "runbook:a"
    assert pick_runbook("Nothing", "https://elsewhere/x", books) is None


def test_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - 2.718281828**-2.0)
    assert poisson_tail(30, 5.0) < 1e-9 < poisson_tail(10, 5.0) < 0.1


def test_counts_per_minute_keep_the_most_severe_level() -> None:
    t = datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC)
    logs = [PendingLog(f"k{i}", t, "e", None, lvl, "1", "m") for i, lvl in enumerate(["info", "error", "warning"])]
    assert count_rows(logs) == {(t.replace(second=0), "e", "1"): ["error", 3]}
    assert sqlite_ts(t) == "2025-01-01 00:00:30.000000"


def test_past_incident_input() -> None:
    inc = PastIncidentIn.model_validate(
        {"id": "INC-7", "title": "db down", "severity": "sev2", "declared_at": "2025-01-01T00:00:00"}
    )
    assert inc.key() == "hist-INC-7" and inc.severity == 2 and inc.declared_at.tzinfo is not None
    assert PastIncidentIn(title="x", declared_at=TS, id="PD-1").key() == "PD-1"
    assert PastIncidentIn(title="x", declared_at=TS).key().startswith("hist-")
    with pytest.raises(ValidationError):
        PastIncidentIn.model_validate({"title": "x", "declared_at": TS, "severity": 0})
