"""Sherlog's relational tables as sqlmodel models.

Every timestamp is a timezone-aware UTC datetime (`UTCDateTime`); free-form key-values are
SQLAlchemy `JSON`. Constraint and index names are spelled out so the hand-written Alembic
migrations in core/db/migrations/versions create exactly the same schema (a test compares the
migrated database against `METADATA` on SQLite and PostgreSQL).

Column names are a contract: change them only together with a new migration.
The tables live in their own registry/metadata, so nothing else that uses sqlmodel can leak
tables into Sherlog's migrations or its schema comparison.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from core.db.types import UTCDateTime, utcnow
from core.model import IncidentStatus

__all__ = [
    "METADATA",
    "AuditEntry",
    "Cursor",
    "EventRecord",
    "Feedback",
    "Incident",
    "IncidentStatus",
    "InvestigationRecord",
    "InvestigationStatus",
    "LogCount",
    "LogLine",
    "MetricPoint",
    "ReportRecord",
    "SeenEvent",
    "ThreadMemory",
    "TimelineEntry",
    "TimelineKind",
]

METADATA = MetaData()


class SherlogTable(SQLModel, registry=registry(metadata=METADATA)):
    """Base of every Sherlog table: binds them to Sherlog's own `METADATA`."""


class TimelineKind(StrEnum):
    """What a timeline entry records. Stored as plain text so new kinds need no migration."""

    DECLARED = "declared"
    ACKNOWLEDGED = "acknowledged"
    UPDATE = "update"
    SEV = "sev"
    LEAD = "lead"
    NOTE = "note"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    ALERT = "alert"
    RCA = "rca"


# Progress order of the lifecycle; an incident only moves forward along it.
STATUS_ORDER: tuple[IncidentStatus, ...] = (
    IncidentStatus.OPEN,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.MITIGATED,
    IncidentStatus.RESOLVED,
)

_STATUS_SQL = ", ".join(f"'{s.value}'" for s in STATUS_ORDER)


def _ts(*, nullable: bool = False) -> Any:
    """A UTC timestamp column; required ones default to now."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Incident(SherlogTable, table=True):
    """An incident declared in chat or by an alert; its timestamps feed MTTA/MTTR."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("key", name="uq_incidents_key"),
        CheckConstraint("severity BETWEEN 1 AND 4", name="ck_incidents_severity"),
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="ck_incidents_status"),
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_service", "service"),
        Index("ix_incidents_created_at", "created_at"),
        # never reuse a deleted incident's id on SQLite: INC-<id> keys are quoted in chat history
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=String(64), description='public key, e.g. "INC-42"')
    title: str = Field(sa_type=Text)
    severity: int = Field(default=3, description="1 (worst) .. 4")
    status: str = Field(default=IncidentStatus.OPEN.value, sa_type=String(16))
    service: str | None = Field(default=None, sa_type=String(255))
    lead: str | None = Field(default=None, sa_type=String(255))
    channel: str | None = Field(default=None, sa_type=String(255))
    thread: str | None = Field(default=None, sa_type=String(255))
    created_at: datetime = _ts()
    acknowledged_at: datetime | None = _ts(nullable=True)
    mitigated_at: datetime | None = _ts(nullable=True)
    resolved_at: datetime | None = _ts(nullable=True)
    summary: str | None = Field(default=None, sa_type=Text)
    root_cause: str | None = Field(default=None, sa_type=Text)
    fault_kind: str | None = Field(default=None, sa_type=String(64))
    change_id: str | None = Field(default=None, sa_type=String(255))
    resolution: str | None = Field(default=None, sa_type=Text)


class TimelineEntry(SherlogTable, table=True):
    """One line of an incident's timeline (declared, update, sev change, resolved, ...)."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_incident_id_ts", "incident_id", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(
        sa_type=Integer,
        sa_column_args=[ForeignKey("incidents.id", name="fk_timeline_entries_incident_id", ondelete="CASCADE")],
    )
    ts: datetime = _ts()
    kind: str = Field(sa_type=String(32))
    author: str | None = Field(default=None, sa_type=String(255))
    text: str = Field(default="", sa_type=Text)


class ThreadMemory(SherlogTable, table=True):
    """What Sherlog remembers about one chat thread (last entities, intent, time window)."""

    __tablename__ = "thread_memory"
    __table_args__ = (
        UniqueConstraint("platform", "channel", "thread", name="uq_thread_memory_platform_channel_thread"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(sa_type=String(32))
    channel: str = Field(sa_type=String(255))
    thread: str = Field(sa_type=String(255))
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_at: datetime = _ts()


class Feedback(SherlogTable, table=True):
    """A user's verdict on one answer. `user_id`, not `user`: USER is reserved in PostgreSQL."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_answer_id", "answer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    answer_id: str = Field(sa_type=String(255))
    platform: str = Field(sa_type=String(32))
    user_id: str = Field(sa_type=String(255))
    helpful: bool
    comment: str | None = Field(default=None, sa_type=Text)
    ts: datetime = _ts()


class ReportRecord(SherlogTable, table=True):
    """A report that was produced and posted; unique per (kind, period, destination) so a
    restarted scheduler never posts the same report twice."""

    __tablename__ = "report_records"
    __table_args__ = (UniqueConstraint("kind", "period", "posted_to", name="uq_report_records_kind_period_posted_to"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(64))
    period: str = Field(sa_type=String(32), description='e.g. "2026-W47"')
    posted_to: str = Field(sa_type=String(255), description='destination, e.g. "slack:#sre"; "" for none')
    path: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()


class AuditEntry(SherlogTable, table=True):
    """Who did what through Sherlog (commands, resets, chaos injections)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_ts", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = _ts()
    actor: str = Field(sa_type=String(255))
    action: str = Field(sa_type=String(64))
    target: str | None = Field(default=None, sa_type=String(255))
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Cursor(SherlogTable, table=True):
    """Where a shipper or puller got to (a file offset, a Loki timestamp, ...)."""

    __tablename__ = "cursors"

    name: str = Field(sa_type=String(255), primary_key=True)
    value: str = Field(sa_type=Text)
    updated_at: datetime = _ts()


class LogLine(SherlogTable, table=True):
    """A raw log line, kept for the retention window. `ingest_key` makes re-ingestion idempotent."""

    __tablename__ = "log_lines"
    __table_args__ = (
        UniqueConstraint("ingest_key", name="uq_log_lines_ingest_key"),
        Index("ix_log_lines_ts", "ts"),
        Index("ix_log_lines_service_ts", "service", "ts"),
    )

    # BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    ts: datetime = _ts()
    service: str = Field(sa_type=String(255))
    host: str | None = Field(default=None, sa_type=String(255))
    level: str = Field(default="info", sa_type=String(16))
    template_id: str | None = Field(default=None, sa_type=String(64))
    message: str = Field(sa_type=Text)
    ingest_key: str | None = Field(default=None, sa_type=String(128))


class SeenEvent(SherlogTable, table=True):
    """An idempotency key already ingested; the primary key makes `mark_seen` race-safe."""

    __tablename__ = "seen_events"
    __table_args__ = (Index("ix_seen_events_first_seen", "first_seen"),)

    key: str = Field(sa_type=String(255), primary_key=True)
    first_seen: datetime = _ts()


class LogCount(SherlogTable, table=True):
    """Lines per (minute, entity, template): what log signals are computed from."""

    __tablename__ = "log_counts"
    __table_args__ = (Index("ix_log_counts_entity_id_minute", "entity_id", "minute"),)

    minute: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    entity_id: str = Field(sa_type=String(255), primary_key=True)
    template_id: str = Field(sa_type=String(64), primary_key=True)
    level: str = Field(default="info", sa_type=String(16))
    count: int = Field(default=0)


class MetricPoint(SherlogTable, table=True):
    """One sample of one metric of one entity. The primary key makes re-ingestion idempotent."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_ts", "ts"),)

    entity_id: str = Field(sa_type=String(255), primary_key=True)
    metric: str = Field(sa_type=String(128), primary_key=True)
    ts: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    value: float


class EventRecord(SherlogTable, table=True):
    """Every accepted alert, k8s event, change and incident note, with its attributes."""

    __tablename__ = "event_records"
    __table_args__ = (
        UniqueConstraint("key", name="uq_event_records_key"),
        Index("ix_event_records_kind_ts", "kind", "ts"),
        Index("ix_event_records_entity_id_ts", "entity_id", "ts"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    key: str = Field(sa_type=String(255), description="the event's dedup key")
    ts: datetime = _ts()
    kind: str = Field(sa_type=String(32))
    source: str = Field(sa_type=String(200))
    entity_id: str | None = Field(default=None, sa_type=String(255))
    severity: str = Field(default="info", sa_type=String(16))
    body: str = Field(default="", sa_type=Text)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class InvestigationStatus(StrEnum):
    """Where an investigation Sherlog started on its own (from a firing alert) stands."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


_INVESTIGATION_STATUS_SQL = ", ".join(f"'{s.value}'" for s in InvestigationStatus)


class InvestigationRecord(SherlogTable, table=True):
    """An investigation Sherlog started on its own when an alert fired: its trigger, question,
    the Answer (JSON) or the error, and where the answer was posted."""

    __tablename__ = "investigations"
    __table_args__ = (
        CheckConstraint(f"status IN ({_INVESTIGATION_STATUS_SQL})", name="ck_investigations_status"),
        Index("ix_investigations_created_at", "created_at"),
        # ids are quoted in logs and URLs (GET /investigations/{id}): never reuse a deleted one's
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    status: str = Field(default=InvestigationStatus.RUNNING.value, sa_type=String(16))
    source: str = Field(sa_type=String(32), description='"alertmanager" or "grafana"')
    alertname: str = Field(sa_type=String(255))
    labels: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    fingerprints: list[str] = Field(default_factory=list, sa_type=JSON)
    question: str = Field(sa_type=Text)
    answer: dict[str, Any] | None = Field(default=None, sa_type=JSON, nullable=True)
    error: str | None = Field(default=None, sa_type=Text)
    posted_to: list[str] = Field(default_factory=list, sa_type=JSON)
