"""Investigations Sherlog ran on its own (a firing alert's webhook triggered them).

A mixin of RelationalStore (it needs `session()`), like TelemetryRepo. An investigation is
created `running` when the alert is accepted, then finished exactly once as `done` (with the
Answer as JSON) or `failed` (with the error); where its answer was posted is added after.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.db.tables import InvestigationRecord, InvestigationStatus
from core.db.types import utcnow
from core.errors import InputError, NotFound
from core.model import Answer

MAX_LIST = 500


def _when(value: datetime | None, name: str) -> datetime:
    if value is None:
        return utcnow()
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def _required(value: Any, name: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"investigation {name} must be a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise InputError(f"investigation {name} is {len(value)} characters long; the limit is {max_len}")
    return value


def _status(value: str) -> str:
    try:
        return InvestigationStatus(value).value
    except ValueError:
        allowed = ", ".join(s.value for s in InvestigationStatus)
        raise InputError(f"unknown investigation status {value!r}; use one of {allowed}") from None


class InvestigationRepo:
    """Investigation records (mixed into RelationalStore)."""

    session: Callable[..., AbstractContextManager[Session]]

    def create_investigation(
        self,
        *,
        source: str,
        alertname: str,
        question: str,
        labels: Mapping[str, str] | None = None,
        fingerprints: Sequence[str] = (),
        status: str = InvestigationStatus.RUNNING.value,
        error: str | None = None,
        at: datetime | None = None,
    ) -> InvestigationRecord:
        """Record a new investigation (`running` unless told otherwise, e.g. `failed` when it was dropped)."""
        st = _status(status)
        created = _when(at, "at")
        record = InvestigationRecord(
            created_at=created,
            finished_at=None if st == InvestigationStatus.RUNNING.value else created,
            status=st,
            source=_required(source, "source", 32),
            alertname=_required(alertname, "alertname", 255),
            labels={str(k): str(v) for k, v in (labels or {}).items()},
            fingerprints=[str(f) for f in fingerprints],
            question=_required(question, "question", 100_000),
            error=error,
            posted_to=[],
        )
        with self.session() as s:
            s.add(record)
        return record

    def finish_investigation(
        self,
        investigation_id: int,
        *,
        status: str,
        answer: Answer | None = None,
        error: str | None = None,
        at: datetime | None = None,
    ) -> InvestigationRecord:
        """Mark a running investigation done (with its answer) or failed (with the error).

        Finishing one that is already finished is refused: its outcome is a fact, not a draft.
        """
        st = _status(status)
        if st == InvestigationStatus.RUNNING.value:
            raise InputError("an investigation finishes as 'done' or 'failed', not 'running'")
        if st == InvestigationStatus.DONE.value and answer is None:
            raise InputError("a 'done' investigation needs its answer")
        if st == InvestigationStatus.FAILED.value and not error:
            raise InputError("a 'failed' investigation needs the error that stopped it")
        finished = _when(at, "at")
        with self.session(lock=True) as s:
            record = self._locked(s, investigation_id)
            if record.status != InvestigationStatus.RUNNING.value:
                raise InputError(f"investigation {investigation_id} is already {record.status}")
            record.status = st
            record.finished_at = finished
            record.answer = answer.model_dump(mode="json") if answer is not None else None
            record.error = error
            s.add(record)
        return record

    def add_investigation_posts(
        self, investigation_id: int, posted_to: Sequence[str], *, error: str | None = None
    ) -> InvestigationRecord:
        """Add where the answer was posted, and (optionally) what went wrong posting it elsewhere."""
        with self.session(lock=True) as s:
            record = self._locked(s, investigation_id)
            # a new list, so the JSON column sees the change
            record.posted_to = [*record.posted_to, *[str(p) for p in posted_to]]
            if error:
                record.error = f"{record.error}; {error}" if record.error else error
            s.add(record)
        return record

    def get_investigation(self, investigation_id: int) -> InvestigationRecord:
        """The investigation with this id; NotFound otherwise."""
        with self.session() as s:
            record = s.get(InvestigationRecord, investigation_id)
        if record is None:
            raise NotFound(
                f"no investigation {investigation_id}", hint="GET /investigations lists the most recent ones"
            )
        return record

    def list_investigations(
        self, *, limit: int = 20, since: datetime | None = None, source: str | None = None
    ) -> list[InvestigationRecord]:
        """Investigations newest first (at most `limit`, 1..500), optionally created at/after `since`."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise InputError(f"limit must be an integer from 1 to {MAX_LIST}, got {limit!r}")
        stmt = select(InvestigationRecord)
        if since is not None:
            stmt = stmt.where(InvestigationRecord.created_at >= _when(since, "since"))
        if source is not None:
            stmt = stmt.where(InvestigationRecord.source == source)
        stmt = stmt.order_by(col(InvestigationRecord.created_at).desc(), col(InvestigationRecord.id).desc())
        with self.session() as s:
            return list(s.exec(stmt.limit(limit)).all())

    def fail_running_investigations(self, error: str, *, at: datetime | None = None) -> int:
        """Mark every still-running investigation failed with `error` (a restart interrupted them)."""
        finished = _when(at, "at")
        with self.session(lock=True) as s:
            rows = list(
                s.exec(
                    select(InvestigationRecord).where(InvestigationRecord.status == InvestigationStatus.RUNNING.value)
                ).all()
            )
            for record in rows:
                record.status = InvestigationStatus.FAILED.value
                record.finished_at = finished
                record.error = error
                s.add(record)
        return len(rows)

    @staticmethod
    def _locked(s: Session, investigation_id: int) -> InvestigationRecord:
        stmt = select(InvestigationRecord).where(InvestigationRecord.id == investigation_id).with_for_update()
        record = s.exec(stmt).first()
        if record is None:
            raise NotFound(f"no investigation {investigation_id}")
        return record
