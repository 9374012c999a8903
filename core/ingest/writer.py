"""One relational transaction per ingested chunk: claim the idempotency keys and write the rows.

Why one transaction: `log_counts` rows are *added to* (a minute's count grows with every line),
so they are not idempotent on their own. Claiming the keys (`seen_events`) and writing the log
lines, counts, metric points and event records in the same transaction makes the pair atomic:
either the keys are marked *and* the data is there, or neither. A crash before the commit loses
nothing (the sender retries; at-least-once delivery), a retry after the commit finds the keys
and changes nothing (idempotent), so the effect is exactly once.

Keys are claimed with INSERT ... ON CONFLICT DO NOTHING RETURNING, inside the transaction: two
ingesters racing on one key cannot both get it back, and the loser drops that event's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from core.db.store import RelationalStore
from core.db.tables import EventRecord, LogCount, LogLine, MetricPoint, SeenEvent
from core.db.types import utcnow

_CHUNK = 500

_LEVEL_RANK = {"debug": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}


def level_rank(level: str) -> int:
    return _LEVEL_RANK.get(level, 1)


@dataclass(slots=True)
class PendingLog:
    """A log line ready to store; `entity_id` is what counts are kept per."""

    key: str
    ts: datetime
    entity_id: str
    host: str | None
    level: str
    template_id: str
    message: str


@dataclass
class PendingRows:
    """Everything one chunk writes to the relational store, each row tagged with its event's key."""

    keys: list[str] = field(default_factory=list)
    logs: list[PendingLog] = field(default_factory=list)
    metrics: list[tuple[str, str, str, datetime, float]] = field(default_factory=list)  # key, entity, metric, ts, v
    records: list[dict[str, Any]] = field(default_factory=list)  # EventRecord columns, `key` included


@dataclass
class Written:
    """Which keys this transaction claimed and how many rows went in."""

    claimed: set[str]
    log_lines: int = 0
    log_counts: int = 0
    metric_points: int = 0
    event_records: int = 0


def _table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def _insert(db: RelationalStore, table: sa.Table) -> Any:
    return postgresql.insert(table) if db.backend == "postgresql" else sqlite.insert(table)


def already_seen(db: RelationalStore, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that were claimed before (a read; the claim itself is in `commit`)."""
    with db.session() as s:
        return _existing(db, s, list(keys))


def _existing(db: RelationalStore, s: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    if db.backend == "sqlite":
        # one statement with one JSON parameter instead of a compiled IN (...) per 500 keys
        rows = s.connection().exec_driver_sql(
            "SELECT key FROM seen_events WHERE key IN (SELECT value FROM json_each(?))", (json.dumps(keys),)
        )
        return {r[0] for r in rows}
    table = _table(SeenEvent)
    seen: set[str] = set()
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        seen.update(s.execute(sa.select(table.c.key).where(table.c.key.in_(chunk))).scalars())
    return seen


def sqlite_ts(ts: datetime) -> str:
    """How UTCDateTime stores a timestamp on SQLite: naive UTC text with microseconds."""
    if ts.tzinfo is not UTC:  # Event timestamps already are UTC: skip the conversion on the hot path
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(" ", "microseconds")


def minute_of(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def count_rows(logs: Iterable[PendingLog]) -> dict[tuple[datetime, str, str], list[Any]]:
    """(minute, entity, template) → [most severe level, lines]."""
    counts: dict[tuple[datetime, str, str], list[Any]] = {}
    for line in logs:
        k = (minute_of(line.ts), line.entity_id, line.template_id)
        cur = counts.get(k)
        if cur is None:
            counts[k] = [line.level, 1]
        else:
            cur[1] += 1
            if level_rank(line.level) > level_rank(cur[0]):
                cur[0] = line.level
    return counts


def _claim(db: RelationalStore, s: Session, keys: list[str], now: datetime) -> set[str]:
    """Insert the keys not yet in `seen_events`; return those this transaction inserted."""
    if db.backend == "postgresql":
        # one statement, one array parameter; RETURNING names exactly the rows this call inserted
        stmt = sa.text(
            "INSERT INTO seen_events (key, first_seen) SELECT k, :now FROM unnest(CAST(:keys AS text[])) AS k "
            "ON CONFLICT DO NOTHING RETURNING key"
        )
        return set(s.execute(stmt, {"keys": keys, "now": now}).scalars())
    # SQLite: the session holds the database write lock (BEGIN IMMEDIATE), so no other writer can
    # insert between this read and the insert below
    existing = _existing(db, s, keys)
    new = [k for k in keys if k not in existing]
    if new:
        stamp = sqlite_ts(now)
        s.connection().exec_driver_sql(
            "INSERT INTO seen_events (key, first_seen) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(k, stamp) for k in new],
        )
    return set(new)


def _write_logs(db: RelationalStore, s: Session, logs: list[PendingLog]) -> int:
    """Raw lines, then their per-minute counts (added to what is stored); returns count rows touched."""
    counts = count_rows(logs)
    if db.backend == "sqlite":
        # the hot path: plain executemany, timestamps pre-formatted the way UTCDateTime stores them
        conn = s.connection()
        conn.exec_driver_sql(
            "INSERT INTO log_lines (ts, service, host, level, template_id, message, ingest_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(sqlite_ts(x.ts), x.entity_id, x.host, x.level, x.template_id, x.message, x.key) for x in logs],
        )
        conn.exec_driver_sql(
            "INSERT INTO log_counts (minute, entity_id, template_id, level, count) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (minute, entity_id, template_id) DO UPDATE SET count = log_counts.count + excluded.count",
            [(sqlite_ts(m), e, t, lvl, n) for (m, e, t), (lvl, n) in counts.items()],
        )
        return len(counts)
    lines_t, counts_t = _table(LogLine), _table(LogCount)
    s.execute(
        _insert(db, lines_t).on_conflict_do_nothing(),
        [
            {
                "ts": x.ts,
                "service": x.entity_id,
                "host": x.host,
                "level": x.level,
                "template_id": x.template_id,
                "message": x.message,
                "ingest_key": x.key,
            }
            for x in logs
        ],
    )
    stmt = _insert(db, counts_t)
    stmt = stmt.on_conflict_do_update(
        index_elements=["minute", "entity_id", "template_id"],
        set_={"count": counts_t.c.count + stmt.excluded.count},
    )
    s.execute(
        stmt,
        [
            {"minute": m, "entity_id": e, "template_id": t, "level": lvl, "count": n}
            for (m, e, t), (lvl, n) in counts.items()
        ],
    )
    return len(counts)


def commit(db: RelationalStore, rows: PendingRows) -> Written:
    """Claim `rows.keys` and write the rows of the claimed ones, in one transaction."""
    records_t = _table(EventRecord)
    now = utcnow()
    with db.session(lock=True) as s:
        claimed = _claim(db, s, list(dict.fromkeys(rows.keys)), now)
        out = Written(claimed=claimed)
        if not claimed:
            return out
        logs = [line for line in rows.logs if line.key in claimed]
        if logs:
            out.log_counts = _write_logs(db, s, logs)
            out.log_lines = len(logs)
        points = [(e, m, ts, v) for k, e, m, ts, v in rows.metrics if k in claimed]
        if points:
            if db.backend == "sqlite":
                s.connection().exec_driver_sql(
                    "INSERT INTO metric_points (entity_id, metric, ts, value) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [(e, m, sqlite_ts(ts), v) for e, m, ts, v in points],
                )
            else:
                s.execute(
                    _insert(db, _table(MetricPoint)).on_conflict_do_nothing(),
                    [{"entity_id": e, "metric": m, "ts": ts, "value": v} for e, m, ts, v in points],
                )
            out.metric_points = len(points)
        records = [r for r in rows.records if r["key"] in claimed]
        if records:
            s.execute(_insert(db, records_t).on_conflict_do_nothing(), records)
            out.event_records = len(records)
    return out


def purge_seen(db: RelationalStore, cutoff: datetime) -> int:
    """Forget idempotency keys first seen before `cutoff`; returns how many went."""
    table = _table(SeenEvent)
    with db.session() as s:
        result = s.execute(sa.delete(table).where(table.c.first_seen < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
