"""The Event envelope and friends: validation names the field, dedup keys are stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import InvalidEvent, SherlogError
from core.model import Answer, EntityKind, EntityRef, Event, EventKind, Severity, entity_id


def _event(**kw: object) -> dict:
    base = {"source": "test", "kind": "log", "ts": "2026-11-21T10:00:00Z", "body": "hello"}
    base.update(kw)
    return base


def test_valid_event_normalises_time_and_severity() -> None:
    e = Event.parse(_event(ts="2026-11-21T11:00:00+01:00", severity="WARN", entity={"service": "checkout"}))
    assert e.ts == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert e.severity is Severity.WARNING
    assert e.kind is EventKind.LOG
    assert e.entity.primary_id() == "service:checkout"


def test_naive_timestamps_are_utc() -> None:
    e = Event.parse(_event(ts="2026-11-21T10:00:00"))
    assert e.ts.tzinfo is not None and e.ts.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"kind": "weird"}, "kind"),
        ({"ts": "yesterday-ish"}, "ts"),
        ({"source": ""}, "source"),
        ({"entity": {"service": "a", "color": "red"}}, "entity.color"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"schema_version": 99}, "(event)"),
    ],
)
def test_invalid_events_name_the_field(patch: dict, field: str) -> None:
    with pytest.raises(InvalidEvent) as ei:
        Event.parse(_event(**patch))
    assert ei.value.field == field
    assert field in str(ei.value)
    assert isinstance(ei.value, SherlogError)


def test_dedup_key_prefers_ingest_id_and_is_stable() -> None:
    a = Event.parse(_event(ingest_id="abc"))
    b = Event.parse(_event(ingest_id="abc", body="different"))
    assert a.dedup_key() == b.dedup_key() == "id:abc"
    c = Event.parse(_event())
    d = Event.parse(_event(ts=datetime(2026, 11, 21, 11, 0, tzinfo=timezone(timedelta(hours=1)))))
    assert c.dedup_key() == d.dedup_key()  # same instant, same content
    assert c.dedup_key() != Event.parse(_event(body="other")).dedup_key()


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (0, "critical"),
        (3, "error"),
        (4, "warning"),
        (7, "debug"),
        ("ERR", "error"),
        ("fatal", "critical"),
        (None, "info"),
        ("??", "info"),
    ],
)
def test_severity_spellings(raw: object, want: str) -> None:
    assert Severity.parse(raw) == want  # type: ignore[arg-type]


def test_entity_ids_are_stable() -> None:
    assert entity_id(EntityKind.SERVICE, "prod", "payments", "checkout") == "service:prod/payments/checkout"
    assert EntityRef(node="n1", cluster="c").primary_id() == "node:c/n1"
    assert EntityRef().primary_id() is None


def test_answer_evidence_ids() -> None:
    a = Answer(question="q", summary="s", evidence=[])
    assert a.evidence_ids() == set()
