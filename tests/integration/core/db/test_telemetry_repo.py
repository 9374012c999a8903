"""Telemetry rows on SQLite and PostgreSQL: counts add up, points and records are idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.db.store import RelationalStore

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_log_counts_add_up_per_key(store: RelationalStore) -> None:
    key = (T0, "service:checkout", "t1")
    store.add_log_counts({key: ("error", 3), (T0, "service:cart", "t2"): ("info", 1)})
    store.add_log_counts({key: ("error", 4)})
    rows = store.log_counts(since=T0, until=T0 + timedelta(minutes=1), entity_ids=["service:checkout"])
    assert [(r.template_id, r.count, r.level) for r in rows] == [("t1", 7, "error")]
    assert store.log_counts(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2)) == []


def test_metric_points_are_idempotent_and_filtered(store: RelationalStore) -> None:
    pts = [("service:db", "cpu", T0 + timedelta(seconds=15 * i), float(i)) for i in range(8)]
    assert store.insert_metric_points(pts) == 8
    assert store.insert_metric_points(pts[:3]) == 0
    got = store.metric_points(since=T0, until=T0 + timedelta(minutes=1), entity_ids=["service:db"], metrics=["cpu"])
    assert [p.value for p in got] == [0.0, 1.0, 2.0, 3.0]
    assert got[0].ts == T0


def test_event_records_dedupe_by_key_and_filter(store: RelationalStore) -> None:
    rec = {
        "key": "id:a1",
        "ts": T0,
        "kind": "alert",
        "source": "alertmanager",
        "entity_id": "service:checkout",
        "severity": "critical",
        "body": "HighErrorRate",
        "attributes": {"alertname": "HighErrorRate", "labels": {"service": "checkout"}},
    }
    assert store.insert_event_records([rec]) == 1
    assert store.insert_event_records([rec, {**rec, "key": "id:a2", "kind": "change"}]) == 1
    alerts = store.event_records(kinds=["alert"], since=T0 - timedelta(hours=1))
    assert len(alerts) == 1 and alerts[0].attributes["labels"]["service"] == "checkout"
    assert store.purge_telemetry_older_than(T0 + timedelta(seconds=1)) == 2
    assert store.event_records() == []
