"""Initial schema: incidents and their timeline, thread memory, feedback, reports, audit,
cursors, raw log lines and seen-event keys.

Written by hand as explicit DDL (not metadata.create_all) so this revision stays what it is
when the models move on; a test checks the migrated schema equals core.db.tables.METADATA.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    # Stored as timestamptz on PostgreSQL; SQLite keeps naive UTC text (see core.db.types.UTCDateTime).
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("service", sa.String(255), nullable=True),
        sa.Column("lead", sa.String(255), nullable=True),
        sa.Column("channel", sa.String(255), nullable=True),
        sa.Column("thread", sa.String(255), nullable=True),
        _ts("created_at"),
        _ts("acknowledged_at", nullable=True),
        _ts("mitigated_at", nullable=True),
        _ts("resolved_at", nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("fault_kind", sa.String(64), nullable=True),
        sa.Column("change_id", sa.String(255), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_incidents_key"),
        sa.CheckConstraint("severity BETWEEN 1 AND 4", name="ck_incidents_severity"),
        sa.CheckConstraint("status IN ('open', 'acknowledged', 'mitigated', 'resolved')", name="ck_incidents_status"),
        # never reuse a deleted incident's id on SQLite: INC-<id> keys are quoted in chat history
        sqlite_autoincrement=True,
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_service", "incidents", ["service"])
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])

    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        _ts("ts"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("author", sa.String(255), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_timeline_entries_incident_id", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_timeline_entries_incident_id_ts", "timeline_entries", ["incident_id", "ts"])

    op.create_table(
        "thread_memory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(255), nullable=False),
        sa.Column("thread", sa.String(255), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "channel", "thread", name="uq_thread_memory_platform_channel_thread"),
    )

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.String(255), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _ts("ts"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feedback_answer_id", "feedback", ["answer_id"])

    op.create_table(
        "report_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("posted_to", sa.String(255), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "period", "posted_to", name="uq_report_records_kind_period_posted_to"),
    )

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        _ts("ts"),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entries_ts", "audit_entries", ["ts"])

    op.create_table(
        "cursors",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("name"),
    )

    op.create_table(
        "log_lines",
        # BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        _ts("ts"),
        sa.Column("service", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("ingest_key", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ingest_key", name="uq_log_lines_ingest_key"),
    )
    op.create_index("ix_log_lines_ts", "log_lines", ["ts"])
    op.create_index("ix_log_lines_service_ts", "log_lines", ["service", "ts"])

    op.create_table(
        "seen_events",
        sa.Column("key", sa.String(255), nullable=False),
        _ts("first_seen"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_seen_events_first_seen", "seen_events", ["first_seen"])


def downgrade() -> None:
    for table in (
        "seen_events",
        "log_lines",
        "cursors",
        "audit_entries",
        "report_records",
        "feedback",
        "thread_memory",
        "timeline_entries",
        "incidents",
    ):
        op.drop_table(table)
