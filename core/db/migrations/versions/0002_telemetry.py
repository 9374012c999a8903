"""Telemetry: per-minute log counts, metric points and event records (alerts, k8s events,
changes, notes) that the engine and the weekly report read.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _bigint_id() -> sa.Column:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "log_counts",
        _ts("minute"),
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "entity_id", "template_id"),
    )
    op.create_index("ix_log_counts_entity_id_minute", "log_counts", ["entity_id", "minute"])

    op.create_table(
        "metric_points",
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        _ts("ts"),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "metric", "ts"),
    )
    op.create_index("ix_metric_points_ts", "metric_points", ["ts"])

    op.create_table(
        "event_records",
        _bigint_id(),
        sa.Column("key", sa.String(255), nullable=False),
        _ts("ts"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("entity_id", sa.String(255), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_event_records_key"),
    )
    op.create_index("ix_event_records_kind_ts", "event_records", ["kind", "ts"])
    op.create_index("ix_event_records_entity_id_ts", "event_records", ["entity_id", "ts"])


def downgrade() -> None:
    for table in ("event_records", "metric_points", "log_counts"):
        op.drop_table(table)
