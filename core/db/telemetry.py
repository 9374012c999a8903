"""Telemetry rows: per-minute log counts, metric points and event records.

A mixin of RelationalStore (it needs `session()` and the dialect's `_insert`), kept
apart so the incident/memory repository and the telemetry repository each stay small.
Writes are idempotent: counts add up per key, points and records skip duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.db.tables import EventRecord, LogCount, MetricPoint

_CHUNK = 500


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), _CHUNK):
        yield rows[i : i + _CHUNK]


class TelemetryRepo:
    """Log counts, metric points and event records (mixed into RelationalStore)."""

    session: Callable[..., AbstractContextManager[Session]]
    _insert: Callable[[sa.Table], Any]

    # -- log counts -------------------------------------------------------
    def add_log_counts(self, counts: Mapping[tuple[datetime, str, str], tuple[str, int]]) -> int:
        """Add `{(minute, entity_id, template_id): (level, n)}` to the stored per-minute counts."""
        rows = [
            {"minute": m, "entity_id": e, "template_id": t, "level": lvl, "count": n}
            for (m, e, t), (lvl, n) in counts.items()
        ]
        table = LogCount.__table__  # type: ignore[attr-defined]
        with self.session() as s:
            for chunk in _chunks(rows):
                stmt = self._insert(table).values(list(chunk))
                stmt = stmt.on_conflict_do_update(
                    index_elements=["minute", "entity_id", "template_id"],
                    set_={"count": table.c.count + stmt.excluded.count},
                )
                s.execute(stmt)
        return len(rows)

    def log_counts(
        self, *, since: datetime, until: datetime, entity_ids: Iterable[str] | None = None
    ) -> list[LogCount]:
        """Per-minute counts in [since, until), optionally for some entities, oldest first."""
        stmt = select(LogCount).where(LogCount.minute >= since, LogCount.minute < until)
        if entity_ids is not None:
            stmt = stmt.where(col(LogCount.entity_id).in_(list(entity_ids)))
        with self.session() as s:
            return list(s.exec(stmt.order_by(col(LogCount.minute))).all())

    # -- metric points ----------------------------------------------------
    def insert_metric_points(self, points: Iterable[tuple[str, str, datetime, float]]) -> int:
        """Store `(entity_id, metric, ts, value)` samples; a repeated (entity, metric, ts) is skipped."""
        rows = [{"entity_id": e, "metric": m, "ts": ts, "value": float(v)} for e, m, ts, v in points]
        table = MetricPoint.__table__  # type: ignore[attr-defined]
        inserted = 0
        with self.session() as s:
            for chunk in _chunks(rows):
                stmt = self._insert(table).values(list(chunk)).on_conflict_do_nothing()
                # RETURNING counts what was really inserted on both dialects (rowcount does not)
                inserted += len(s.execute(stmt.returning(table.c.entity_id)).all())
        return inserted

    def metric_points(
        self,
        *,
        since: datetime,
        until: datetime,
        entity_ids: Iterable[str] | None = None,
        metrics: Iterable[str] | None = None,
    ) -> list[MetricPoint]:
        """Samples in [since, until), oldest first."""
        stmt = select(MetricPoint).where(MetricPoint.ts >= since, MetricPoint.ts < until)
        if entity_ids is not None:
            stmt = stmt.where(col(MetricPoint.entity_id).in_(list(entity_ids)))
        if metrics is not None:
            stmt = stmt.where(col(MetricPoint.metric).in_(list(metrics)))
        with self.session() as s:
            return list(s.exec(stmt.order_by(col(MetricPoint.ts))).all())

    # -- event records ----------------------------------------------------
    def insert_event_records(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Store events (keys: key, ts, kind, source, entity_id, severity, body, attributes); duplicates skipped."""
        rows = [dict(r) for r in records]
        table = EventRecord.__table__  # type: ignore[attr-defined]
        inserted = 0
        with self.session() as s:
            for chunk in _chunks(rows):
                stmt = self._insert(table).values(list(chunk)).on_conflict_do_nothing()
                inserted += len(s.execute(stmt.returning(table.c.id)).all())
        return inserted

    def event_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Iterable[str] | None = None,
        entity_ids: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        """Event records, oldest first."""
        stmt = select(EventRecord)
        if since is not None:
            stmt = stmt.where(EventRecord.ts >= since)
        if until is not None:
            stmt = stmt.where(EventRecord.ts < until)
        if kinds is not None:
            stmt = stmt.where(col(EventRecord.kind).in_(list(kinds)))
        if entity_ids is not None:
            stmt = stmt.where(col(EventRecord.entity_id).in_(list(entity_ids)))
        stmt = stmt.order_by(col(EventRecord.ts), col(EventRecord.id))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.session() as s:
            return list(s.exec(stmt).all())

    def purge_telemetry_older_than(self, ts: datetime) -> int:
        """Drop log counts, metric points and event records older than `ts`."""
        n = 0
        with self.session() as s:
            for table, column in (
                (LogCount.__table__, "minute"),  # type: ignore[attr-defined]
                (MetricPoint.__table__, "ts"),  # type: ignore[attr-defined]
                (EventRecord.__table__, "ts"),  # type: ignore[attr-defined]
            ):
                result: Any = s.execute(sa.delete(table).where(table.c[column] < ts))
                n += result.rowcount or 0
        return n
