"""Retention: raw lines go after log_retention_days, counts/points/records/keys after 30 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.ingest import Ingestor
from core.wiring import Stack

NOW = datetime.now(UTC).replace(microsecond=0)


def _log(ts: datetime, n: int) -> dict:
    return {
        "source": "t",
        "kind": "log",
        "ts": ts.isoformat(),
        "entity": {"service": "api"},
        "body": f"request {n} done",
        "ingest_id": f"l{n}",
    }


def _metric(ts: datetime, n: int) -> dict:
    return {
        "source": "t",
        "kind": "metric",
        "ts": ts.isoformat(),
        "entity": {"service": "api"},
        "attributes": {"metric": "rps", "value": n},
    }


def test_purge_keeps_what_is_inside_each_retention_window(ingestor: Ingestor, stack: Stack) -> None:
    assert stack.settings.ingest.log_retention_days == 7
    old, older, recent = NOW - timedelta(days=10), NOW - timedelta(days=40), NOW - timedelta(hours=1)
    items = [_log(old, 1), _log(recent, 2), _log(older, 3), _metric(old, 1), _metric(older, 2), _metric(recent, 3)]
    assert ingestor.ingest_events(items).accepted == 6

    removed = ingestor.purge(NOW)
    assert removed["log_lines"] == 2  # the 10- and 40-day-old lines
    assert removed["telemetry_rows"] == 2  # the 40-day-old line's count row and metric point
    assert removed["seen_keys"] == 0  # keys were all claimed just now
    assert [line.message for line in stack.db.log_lines()] == ["request 2 done"]
    counts = stack.db.counts()
    assert (counts["log_counts"], counts["metric_points"], counts["seen_events"]) == (2, 2, 6)
    # a late resend of a purged line is still a duplicate: its key outlives the line
    assert ingestor.ingest_events([_log(old, 1)]).duplicates == 1

    later = ingestor.purge(NOW + timedelta(days=31))
    assert later["seen_keys"] == 6 and stack.db.counts()["seen_events"] == 0
