"""Sherlog's relational store: sqlmodel tables, Alembic migrations, SQLite or PostgreSQL."""

from core.db.migrate import current_revision, upgrade
from core.db.store import RelationalStore

__all__ = ["RelationalStore", "current_revision", "upgrade"]
