"""Dedup and idempotency: a re-sent batch changes nothing; keys are claimed only with the data."""

from __future__ import annotations

from datetime import timedelta

from ingest_helpers import CHECKOUT, T0, log, metric, mixed_batch, store_counts

from core.ingest import Ingestor
from core.wiring import Stack


def test_same_batch_twice_is_all_duplicates_and_changes_nothing(ingestor: Ingestor, stack: Stack) -> None:
    batch = mixed_batch()
    first = ingestor.ingest_events(batch)
    assert first.rejected == []
    assert first.accepted == len(batch)
    assert first.by_kind == {"log": 60, "metric": 10, "alert": 1, "change": 1, "k8s_event": 1, "incident_note": 1}
    before = store_counts(stack)
    assert before["db.log_lines"] == 60
    assert before["db.metric_points"] == 10
    assert before["db.event_records"] == 4
    assert before["db.seen_events"] == len(batch)

    second = ingestor.ingest_events(batch)
    assert (second.accepted, second.duplicates, second.rejected) == (0, len(batch), [])
    assert second.new_templates == 0 and second.embedded == 0
    assert store_counts(stack) == before


def test_duplicates_within_one_batch_are_stored_once(ingestor: Ingestor, stack: Stack) -> None:
    ev = log(1, "user u1 logged in")
    report = ingestor.ingest_events([ev, ev, dict(ev)])
    assert (report.accepted, report.duplicates) == (1, 2)
    assert stack.db.counts()["log_lines"] == 1


def test_events_without_ingest_id_dedup_by_content_hash(ingestor: Ingestor, stack: Stack) -> None:
    a = log(5, "cache warmed in 12 ms", ingest=False)
    assert "ingest_id" not in a
    assert ingestor.ingest_events([a]).accepted == 1
    again = ingestor.ingest_events([dict(a)])
    assert (again.accepted, again.duplicates) == (0, 1)
    # the same text at another time is another event
    other = ingestor.ingest_events([log(6, "cache warmed in 12 ms", ingest=False)])
    assert other.accepted == 1
    assert stack.db.counts()["log_lines"] == 2


def test_per_minute_counts_are_exactly_once_under_resends(ingestor: Ingestor, stack: Stack) -> None:
    lines = [log(i, f"GET /items/{i} 200") for i in range(150)]  # 2.5 minutes
    ingestor.ingest_events(lines[:100])
    ingestor.ingest_events(lines[50:])  # overlapping resend
    ingestor.ingest_events(lines)  # and everything again
    counts = stack.db.log_counts(since=T0, until=T0 + timedelta(hours=1), entity_ids=[CHECKOUT])
    assert sum(c.count for c in counts) == 150
    assert [c.count for c in counts] == [60, 60, 30]
    assert stack.db.counts()["log_lines"] == 150


def test_a_rejected_event_is_not_marked_seen(ingestor: Ingestor, stack: Stack) -> None:
    bad = {**metric(1, "cpu", None), "ingest_id": "m/1"}
    report = ingestor.ingest_events([bad])
    assert report.accepted == 0 and [e.field for e in report.rejected] == ["attributes.value"]
    fixed = {**metric(1, "cpu", 0.5), "ingest_id": "m/1"}
    assert ingestor.ingest_events([fixed]).accepted == 1
    assert stack.db.counts()["metric_points"] == 1


def test_a_second_ingestor_sees_what_the_first_stored(stack: Stack) -> None:
    batch = mixed_batch()
    Ingestor(stack).ingest_events(batch)
    report = Ingestor(stack).ingest_events(batch)
    assert (report.accepted, report.duplicates) == (0, len(batch))
