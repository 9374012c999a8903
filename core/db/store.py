"""The relational store: incidents and their timeline, thread memory, cursors, seen-event keys,
raw log lines and report records, on SQLite (default) or PostgreSQL (same models).

`RelationalStore(url)` connects, migrates the schema to the newest revision, and then offers
`session()` for ad-hoc work plus the small repository methods the rest of Sherlog needs.
Every vendor failure comes out as a Sherlog error (BackendUnavailable, MigrationError,
BackendError); bad arguments raise InputError naming the argument.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError, StatementError
from sqlmodel import Session, col, select

from core.db.engine import backend_error, describe, make_engine, parse_url, safe_url
from core.db.investigations import InvestigationRepo
from core.db.migrate import connection_revision, upgrade_engine
from core.db.tables import (
    METADATA,
    STATUS_ORDER,
    Cursor,
    Incident,
    LogLine,
    ReportRecord,
    SeenEvent,
    ThreadMemory,
    TimelineEntry,
    TimelineKind,
)
from core.db.telemetry import TelemetryRepo
from core.db.types import utcnow
from core.errors import BackendError, InputError, NotFound, SherlogError
from core.model import IncidentStatus
from core.ports import StoreStatus
from core.settings import Settings

# Rows per multi-row INSERT: well under SQLite's bound-parameter limit and PostgreSQL's 65535.
_CHUNK = 500
_AUTO_KEY = re.compile(r"^INC-(\d+)$", re.IGNORECASE)
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_STATUS_TS = {
    IncidentStatus.ACKNOWLEDGED: "acknowledged_at",
    IncidentStatus.MITIGATED: "mitigated_at",
    IncidentStatus.RESOLVED: "resolved_at",
}
_EDITABLE = frozenset(
    {"title", "severity", "service", "lead", "channel", "thread", "summary", "root_cause", "fault_kind"}
    | {"change_id", "resolution"}
)
# Child tables first, so deleting never trips a foreign key.
_TABLES_FOR_DELETE = [t for t in reversed(METADATA.sorted_tables)]


def _aware(value: datetime | None, name: str) -> datetime:
    if value is None:
        return utcnow()
    if not isinstance(value, datetime):
        raise InputError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name} is a naive datetime ({value.isoformat()}): give it a timezone, e.g. tzinfo=UTC")
    return value


def _text(value: Any, name: str, *, max_len: int = 255, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InputError(f"{name} must not be empty")
    if len(value) > max_len:
        raise InputError(f"{name} is {len(value)} characters long; the limit is {max_len}")
    return value


def _severity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
        raise InputError(f"severity must be an integer from 1 (worst) to 4, got {value!r}")
    return value


def normalize_incident_key(key: str) -> str:
    """Canonical spelling of an incident key: `inc-7` and `7` both mean `INC-7`."""
    key = key.strip()
    if key.isdigit():
        return f"INC-{int(key)}"
    m = _AUTO_KEY.match(key)
    return f"INC-{int(m.group(1))}" if m else key


class RelationalStore(TelemetryRepo, InvestigationRepo):
    """Sherlog's relational data on SQLite or PostgreSQL, migrated on open.

    Build it with `RelationalStore(url)` or `RelationalStore.from_settings(settings)`; close it with
    `close()` (or use it as a context manager). Returned rows are detached model objects.
    """

    def __init__(self, url: str, *, echo: bool = False, migrate: bool = True) -> None:
        self.url = parse_url(url)
        self.backend: str = self.url.get_backend_name()
        self.engine: Engine = make_engine(self.url, echo=echo)
        try:
            if migrate:
                self.revision: str | None = upgrade_engine(self.engine)
            else:
                with self.engine.connect() as conn:
                    self.revision = connection_revision(conn)
        except SQLAlchemyError as e:
            self.engine.dispose()
            raise backend_error(e, self.url, "opening the store") from e
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> RelationalStore:
        """The store named by `settings.db_url` (SQLite under the data dir unless SHERLOG_DB__URL is set)."""
        if settings.db.url is None:
            settings.ensure_data_dir()
        return cls(settings.db_url, echo=settings.db.echo)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    @property
    def location(self) -> str:
        """Where the data lives, password masked."""
        return safe_url(self.url)

    @contextmanager
    def session(self, *, lock: bool = False) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back on any exception.

        Objects stay usable after the block (no expiry on commit). Driver errors surface as
        BackendUnavailable/BackendError; values a column cannot take as InputError.
        `lock=True` is for read-modify-write blocks on SQLite: it takes the database write lock
        up front (BEGIN IMMEDIATE), as SQLite has no SELECT ... FOR UPDATE; on PostgreSQL lock
        rows with `with_for_update()` instead.
        """
        s = Session(self.engine, expire_on_commit=False)
        try:
            if lock and self.backend == "sqlite":
                s.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield s
            s.commit()
        except SherlogError:
            s.rollback()
            raise
        except IntegrityError as e:
            s.rollback()
            raise BackendError(
                f"{describe(self.url)} rejected a write: {str(e.orig).splitlines()[0]}",
                backend=self.backend,
                hint="a unique or check constraint was violated",
            ) from e
        except StatementError as e:
            s.rollback()
            # a value our column types refused before it reached the driver (e.g. a naive datetime)
            if e.orig is not None and not isinstance(e, sa.exc.DBAPIError):
                raise InputError(f"bad value for the database: {e.orig}") from e
            raise backend_error(e, self.url, "running a statement") from e
        except SQLAlchemyError as e:
            s.rollback()
            raise backend_error(e, self.url, "running a statement") from e
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def _insert(self, table: sa.Table) -> Any:
        # ON CONFLICT needs the dialect's own insert construct
        return postgresql.insert(table) if self.backend == "postgresql" else sqlite.insert(table)

    # ---------------------------------------------------------------- incidents

    def create_incident(
        self,
        title: str,
        *,
        severity: int = 3,
        service: str | None = None,
        lead: str | None = None,
        channel: str | None = None,
        thread: str | None = None,
        author: str | None = None,
        key: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        """Declare an incident (status open) and write its `declared` timeline entry.

        Without `key` it gets `INC-<id>`; an explicit key (e.g. a uuid-ish slug from a chaos run)
        must not look like `INC-<n>`, which is reserved for generated keys.
        """
        title = _text(title, "title", max_len=10_000).strip()
        severity = _severity(severity)
        created = _aware(at, "at")
        if key is not None:
            key = _text(key, "key", max_len=64).strip()
            if not _KEY_SHAPE.match(key):
                raise InputError(f"incident key {key!r} must be letters, digits, '-', '_', '.' or ':' (max 64)")
            if _AUTO_KEY.match(key):
                raise InputError(f"incident key {key!r} is reserved: INC-<number> keys are generated by Sherlog")
        # the generated key needs the row id: insert under a unique placeholder, then rename in the same transaction
        placeholder = key or f"pending-{uuid.uuid4().hex}"
        incident = Incident(
            key=placeholder,
            title=title,
            severity=severity,
            status=IncidentStatus.OPEN.value,
            service=service,
            lead=lead,
            channel=channel,
            thread=thread,
            created_at=created,
        )
        try:
            with self.session() as s:
                s.add(incident)
                s.flush()
                if key is None:
                    incident.key = f"INC-{incident.id}"
                assert incident.id is not None
                s.add(
                    TimelineEntry(
                        incident_id=incident.id, ts=created, kind=TimelineKind.DECLARED.value, author=author, text=title
                    )
                )
        except BackendError as e:
            if key is not None and isinstance(e.__cause__, IntegrityError):
                raise InputError(f"an incident with key {key!r} already exists") from e
            raise
        return incident

    def find_incident(self, key: str) -> Incident | None:
        """The incident with this key (`INC-7`, `inc-7` or `7`), or None."""
        key = normalize_incident_key(_text(key, "key", max_len=64))
        with self.session() as s:
            return s.exec(select(Incident).where(Incident.key == key)).first()

    def get_incident(self, key: str) -> Incident:
        """The incident with this key; NotFound otherwise."""
        incident = self.find_incident(key)
        if incident is None:
            raise NotFound(f"no incident {normalize_incident_key(key)!r}", hint="`/incident list` shows open incidents")
        return incident

    def list_open_incidents(self) -> list[Incident]:
        """Incidents not yet resolved, newest first."""
        with self.session() as s:
            rows = s.exec(
                select(Incident)
                .where(Incident.status != IncidentStatus.RESOLVED.value)
                .order_by(col(Incident.created_at).desc(), col(Incident.id).desc())
            )
            return list(rows)

    def list_incidents(self, *, since: datetime | None = None, limit: int | None = None) -> list[Incident]:
        """All incidents (optionally created at or after `since`), newest first."""
        stmt = select(Incident).order_by(col(Incident.created_at).desc(), col(Incident.id).desc())
        if since is not None:
            stmt = stmt.where(Incident.created_at >= _aware(since, "since"))
        if limit is not None:
            if limit < 1:
                raise InputError(f"limit must be at least 1, got {limit}")
            stmt = stmt.limit(limit)
        with self.session() as s:
            return list(s.exec(stmt))

    def add_timeline_entry(
        self,
        key: str,
        kind: str,
        text: str = "",
        *,
        author: str | None = None,
        at: datetime | None = None,
    ) -> TimelineEntry:
        """Append an entry (kind: declared, update, sev, lead, note, alert, rca, ...) to an incident's timeline."""
        try:
            kind = TimelineKind(kind).value
        except ValueError:
            allowed = ", ".join(k.value for k in TimelineKind)
            raise InputError(f"unknown timeline kind {kind!r}; use one of: {allowed}") from None
        text = _text(text, "text", max_len=100_000, allow_empty=True)
        ts = _aware(at, "at")
        with self.session() as s:
            incident = self._incident_in(s, key)
            assert incident.id is not None
            entry = TimelineEntry(incident_id=incident.id, ts=ts, kind=kind, author=author, text=text)
            s.add(entry)
        return entry

    def timeline(self, key: str) -> list[TimelineEntry]:
        """An incident's timeline, oldest first."""
        with self.session() as s:
            incident = self._incident_in(s, key)
            rows = s.exec(
                select(TimelineEntry)
                .where(TimelineEntry.incident_id == incident.id)
                .order_by(col(TimelineEntry.ts), col(TimelineEntry.id))
            )
            return list(rows)

    def set_incident_status(
        self,
        key: str,
        status: str | IncidentStatus,
        *,
        at: datetime | None = None,
        author: str | None = None,
        text: str | None = None,
    ) -> Incident:
        """Move an incident forward along open → acknowledged → mitigated → resolved.

        Each milestone timestamp is set exactly once: the first time the incident reaches (or
        passes) it, and never overwritten. Skipping ahead (open → resolved) stamps the skipped
        milestones with the same time, so MTTA/MTTR are defined for every resolved incident.
        Setting the current status again changes nothing. Moving backwards raises InputError.
        """
        try:
            target = IncidentStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in STATUS_ORDER)
            raise InputError(f"unknown incident status {status!r}; use one of: {allowed}") from None
        ts = _aware(at, "at")
        with self.session(lock=True) as s:
            # locked (row lock on PostgreSQL, write lock on SQLite) so two concurrent transitions
            # cannot both see a milestone unset and both stamp it
            incident = self._incident_in(s, key, for_update=True)
            current = IncidentStatus(incident.status)
            cur_i, new_i = STATUS_ORDER.index(current), STATUS_ORDER.index(target)
            if new_i == cur_i:
                return incident
            if new_i < cur_i:
                raise InputError(f"incident {incident.key} is {current.value}; it cannot move back to {target.value}")
            latest = max(
                t
                for t in (incident.created_at, incident.acknowledged_at, incident.mitigated_at, incident.resolved_at)
                if t is not None
            )
            if ts < latest:
                raise InputError(
                    f"{target.value} time {ts.isoformat()} is before the incident's last milestone {latest.isoformat()}"
                )
            for step in STATUS_ORDER[1 : new_i + 1]:
                attr = _STATUS_TS[step]
                if getattr(incident, attr) is None:
                    setattr(incident, attr, ts)
            incident.status = target.value
            s.add(incident)
            assert incident.id is not None
            s.add(
                TimelineEntry(
                    incident_id=incident.id,
                    ts=ts,
                    kind=TimelineKind(target.value).value,
                    author=author,
                    text=text if text is not None else f"status: {current.value} → {target.value}",
                )
            )
        return incident

    def update_incident(self, key: str, **changes: Any) -> Incident:
        """Set descriptive fields (title, severity, lead, summary, root_cause, resolution, ...).

        Status and its timestamps change only through `set_incident_status`. Writes no timeline
        entry: the caller knows what the change means (a `sev` entry, a `lead` entry, ...).
        """
        unknown = sorted(set(changes) - _EDITABLE)
        if unknown:
            raise InputError(
                f"cannot set {', '.join(unknown)} on an incident; editable: {', '.join(sorted(_EDITABLE))}"
            )
        if "severity" in changes:
            changes["severity"] = _severity(changes["severity"])
        if "title" in changes:
            changes["title"] = _text(changes["title"], "title", max_len=10_000).strip()
        with self.session(lock=True) as s:
            incident = self._incident_in(s, key, for_update=True)
            for name, value in changes.items():
                setattr(incident, name, value)
            s.add(incident)
        return incident

    def _incident_in(self, s: Session, key: str, *, for_update: bool = False) -> Incident:
        norm = normalize_incident_key(_text(key, "key", max_len=64))
        stmt = select(Incident).where(Incident.key == norm)
        if for_update:
            stmt = stmt.with_for_update()
        incident = s.exec(stmt).first()
        if incident is None:
            raise NotFound(f"no incident {norm!r}", hint="`/incident list` shows open incidents")
        return incident

    # ---------------------------------------------------------------- thread memory

    def get_thread_memory(self, platform: str, channel: str, thread: str) -> dict[str, Any]:
        """What was remembered for this thread ({} if nothing)."""
        with self.session() as s:
            row = s.exec(
                select(ThreadMemory).where(
                    ThreadMemory.platform == platform, ThreadMemory.channel == channel, ThreadMemory.thread == thread
                )
            ).first()
            return dict(row.data) if row is not None else {}

    def put_thread_memory(self, platform: str, channel: str, thread: str, data: Mapping[str, Any]) -> None:
        """Replace this thread's memory with `data` (JSON values only); an atomic upsert."""
        for value, name in ((platform, "platform"), (channel, "channel"), (thread, "thread")):
            _text(value, name)
        payload = dict(data)
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as e:
            raise InputError(
                f"thread memory must hold JSON values only (str, number, bool, None, list, dict): {e}"
            ) from e
        now = utcnow()
        table = ThreadMemory.__table__  # type: ignore[attr-defined]
        stmt = self._insert(table).values(
            platform=platform, channel=channel, thread=thread, data=payload, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["platform", "channel", "thread"],
            set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at},
        )
        with self.session() as s:
            s.execute(stmt)

    # ---------------------------------------------------------------- cursors

    def get_cursor(self, name: str) -> str | None:
        """The saved position of a shipper/puller, or None if it never saved one."""
        with self.session() as s:
            row = s.get(Cursor, _text(name, "cursor name"))
            return row.value if row is not None else None

    def set_cursor(self, name: str, value: str) -> None:
        """Save a position (upsert)."""
        name = _text(name, "cursor name")
        value = _text(value, "cursor value", max_len=1_000_000, allow_empty=True)
        now = utcnow()
        stmt = self._insert(Cursor.__table__).values(name=name, value=value, updated_at=now)  # type: ignore[attr-defined]
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}
        )
        with self.session() as s:
            s.execute(stmt)

    # ---------------------------------------------------------------- idempotency

    def mark_seen(self, keys: Iterable[str], *, at: datetime | None = None) -> set[str]:
        """Record idempotency keys; return those never seen before.

        Race-safe: the insert skips keys already present (primary key + ON CONFLICT DO NOTHING)
        and reports only the rows it inserted, so two ingesters given the same key never both
        get it back as new.
        """
        unique: dict[str, None] = {}
        for k in keys:
            unique[_text(k, "seen-event key")] = None
        if not unique:
            return set()
        ts = _aware(at, "at")
        table = SeenEvent.__table__  # type: ignore[attr-defined]
        new: set[str] = set()
        ordered = list(unique)
        with self.session() as s:
            for i in range(0, len(ordered), _CHUNK):
                rows = [{"key": k, "first_seen": ts} for k in ordered[i : i + _CHUNK]]
                stmt = self._insert(table).values(rows).on_conflict_do_nothing().returning(table.c.key)
                new.update(s.execute(stmt).scalars())
        return new

    # ---------------------------------------------------------------- raw log lines

    def insert_log_lines(self, lines: Sequence[LogLine | Mapping[str, Any]]) -> int:
        """Store raw log lines; returns how many were new (a repeated `ingest_key` is skipped).

        Each line needs `ts` (timezone-aware), `service` and `message`; `host`, `level`,
        `template_id` and `ingest_key` are optional.
        """
        rows: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            d = line.model_dump() if isinstance(line, LogLine) else dict(line)
            where = f"log line {i}"
            unknown = set(d) - {"id", "ts", "service", "host", "level", "template_id", "message", "ingest_key"}
            if unknown:
                raise InputError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
            if d.get("ts") is None:
                raise InputError(f"{where} has no ts")
            rows.append(
                {
                    "ts": _aware(d["ts"], f"{where} ts"),
                    "service": _text(d.get("service"), f"{where} service"),
                    "host": d.get("host"),
                    "level": _text(d.get("level") or "info", f"{where} level", max_len=16),
                    "template_id": d.get("template_id"),
                    "message": _text(d.get("message"), f"{where} message", max_len=10_000_000, allow_empty=True),
                    "ingest_key": d.get("ingest_key"),
                }
            )
        if not rows:
            return 0
        table = LogLine.__table__  # type: ignore[attr-defined]
        inserted = 0
        with self.session() as s:
            for i in range(0, len(rows), _CHUNK):
                stmt = self._insert(table).values(rows[i : i + _CHUNK]).on_conflict_do_nothing().returning(table.c.id)
                inserted += len(s.execute(stmt).all())
        return inserted

    def log_lines(
        self, *, service: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[LogLine]:
        """Stored lines, oldest first, optionally for one service and a [since, until) window."""
        stmt = select(LogLine).order_by(col(LogLine.ts), col(LogLine.id))
        if service is not None:
            stmt = stmt.where(LogLine.service == service)
        if since is not None:
            stmt = stmt.where(LogLine.ts >= _aware(since, "since"))
        if until is not None:
            stmt = stmt.where(LogLine.ts < _aware(until, "until"))
        with self.session() as s:
            return list(s.exec(stmt))

    def purge_logs_older_than(self, ts: datetime) -> int:
        """Delete raw log lines with a timestamp before `ts` (retention); returns how many went."""
        cutoff = _aware(ts, "ts")
        with self.session() as s:
            result = s.execute(sa.delete(LogLine.__table__).where(LogLine.__table__.c.ts < cutoff))  # type: ignore[attr-defined]
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- reports

    def record_report(self, kind: str, period: str, posted_to: str, path: str | None = None) -> bool:
        """Record that report `kind` for `period` went to `posted_to`; False if it already had.

        Atomic, so a scheduler that restarts mid-week (or runs twice) posts each report once:
        post only when this returns True.
        """
        kind, period = _text(kind, "report kind", max_len=64), _text(period, "report period", max_len=32)
        posted_to = _text(posted_to, "posted_to", allow_empty=True)
        table = ReportRecord.__table__  # type: ignore[attr-defined]
        stmt = (
            self._insert(table)
            .values(kind=kind, period=period, posted_to=posted_to, path=path, created_at=utcnow())
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        with self.session() as s:
            return s.execute(stmt).first() is not None

    # ---------------------------------------------------------------- housekeeping

    def counts(self) -> dict[str, int]:
        """Row count of every table."""
        with self.session() as s:
            return {
                t.name: int(s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in METADATA.sorted_tables
            }

    def status(self) -> StoreStatus:
        """What `sherlog status` shows; never raises for an unreachable database, it says so instead."""
        try:
            counts = self.counts()
            with self.engine.connect() as conn:
                revision = connection_revision(conn)
        except BackendError as e:
            return StoreStatus("relational", self.backend, False, self.location, {}, str(e))
        except SQLAlchemyError as e:
            return StoreStatus(
                "relational", self.backend, False, self.location, {}, str(backend_error(e, self.url, "status"))
            )
        return StoreStatus("relational", self.backend, True, self.location, counts, f"schema revision {revision}")

    def delete_all(self) -> None:
        """Delete every row of every table, keeping the schema (used by `sherlog reset`)."""
        with self.session() as s:
            for table in _TABLES_FOR_DELETE:
                s.execute(sa.delete(table))
