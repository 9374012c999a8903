"""Malformed input is rejected item by item, naming index and field; the good items are stored."""

from __future__ import annotations

from ingest_helpers import T0, change, log, metric

from core.ingest import Ingestor
from core.wiring import Stack


def test_bad_items_are_reported_and_good_ones_stored(ingestor: Ingestor, stack: Stack) -> None:
    items = [
        log(0, "service started on port 8080"),  # 0 good
        {**log(1, "x"), "ts": "yesterday-ish"},  # 1 bad timestamp
        {**log(2, "y"), "kind": "trace"},  # 2 unknown kind
        {**log(3, "z"), "servce": "checkout"},  # 3 unknown field (typo)
        metric(4, "cpu", None),  # 4 metric without a value
        metric(5, "cpu", "lots"),  # 5 non-numeric value
        {**metric(6, "cpu", 1.0), "attributes": {"value": 1.0}},  # 6 metric without a name
        "\x00\x9f\x92\x96 binary \udcff garbage",  # 7 a string, not an object
        b"\x89PNG\r\n\x1a\n",  # 8 bytes
        None,  # 9
        {**log(10, "w"), "attributes": "not-a-map"},  # 10 attributes of the wrong type
        {**log(11, ""), "ingest_id": "empty-line"},  # 11 a log event with no line
        metric(12, "cpu", 0.25),  # 12 good
        change(13),  # 13 good
        {**log(14, "v"), "entity": {"service": 42}},  # 14 entity field of the wrong type
        {"kind": "alert", "source": "am", "ts": T0.isoformat(), "attributes": {"status": "firing"}},  # 15 no alertname
        {"kind": "alert", "source": "am", "ts": T0.isoformat(), "attributes": {"alertname": "X", "status": "on"}},  # 16
        log(17, "service stopped"),  # 17 good
    ]
    report = ingestor.ingest_events(items)
    assert report.accepted == 4
    assert report.by_kind == {"log": 2, "metric": 1, "change": 1}
    got = {e.index: e.field for e in report.rejected}
    assert got == {
        1: "ts",
        2: "kind",
        3: "servce",
        4: "attributes.value",
        5: "attributes.value",
        6: "attributes.metric",
        7: "(event)",
        8: "(event)",
        9: "(event)",
        10: "attributes",
        11: "body",
        14: "entity.service",
        15: "attributes.alertname",
        16: "attributes.status",
    }
    for e in report.rejected:
        assert e.message, e
    assert "lots" in next(e.message for e in report.rejected if e.index == 5)
    counts = stack.db.counts()
    assert (counts["log_lines"], counts["metric_points"], counts["event_records"]) == (2, 1, 1)
    # only what was stored is marked seen
    assert counts["seen_events"] == 4


def test_a_batch_of_only_garbage_writes_nothing(ingestor: Ingestor, stack: Stack) -> None:
    report = ingestor.ingest_events(["a", 1, [], {}])
    assert report.accepted == 0 and len(report.rejected) == 4
    assert stack.db.counts()["seen_events"] == 0
    assert stack.graph.count_nodes() == 0
