"""Bring a relational database to Sherlog's schema with Alembic, programmatically.

No alembic.ini is needed: the script location is this package's `migrations/` directory.
Migrations run inside one transaction that first takes a lock, so two Sherlog processes
starting at once against the same database migrate it exactly once:

- PostgreSQL: a transaction-scoped advisory lock; its DDL is transactional, so a failed
  migration leaves nothing half-done.
- SQLite: `BEGIN IMMEDIATE` takes the write lock up front; SQLite's DDL is transactional too
  once a transaction is open explicitly.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from core.db.engine import backend_error, describe, make_engine, parse_url
from core.errors import BackendError, MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant shared by every Sherlog process: the key of the PostgreSQL advisory lock.
_PG_LOCK_KEY = 0x5E4_106


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at Sherlog's migrations, optionally carrying an open connection."""
    cfg = Config()
    # ConfigParser interpolates '%': escape it in case the install path contains one
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision this Sherlog knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise MigrationError("no migrations found", backend="relational", hint=f"reinstall Sherlog ({MIGRATIONS_DIR})")
    return head


def connection_revision(conn: Connection) -> str | None:
    """The revision recorded in the database on `conn` (None for a database never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_engine(engine: Engine, revision: str = "head") -> str:
    """Migrate the database behind `engine` to `revision` and return the revision now in force.

    Raises BackendUnavailable when it cannot connect and MigrationError when a migration fails
    or the database carries a revision this Sherlog does not know (a newer Sherlog migrated it).
    """
    url = engine.url
    try:
        with engine.connect() as conn:
            _lock(conn)
            before = connection_revision(conn)
            _check_known(before, url_text=describe(url))
            command.upgrade(alembic_config(conn), revision)
            after = connection_revision(conn)
            conn.commit()
    except BackendError:
        raise
    except CommandError as e:
        raise MigrationError(
            f"cannot migrate {describe(url)} to {revision}: {e}",
            backend=url.get_backend_name(),
            hint="the revision must be one Sherlog ships (see core/db/migrations/versions)",
        ) from e
    except SQLAlchemyError as e:
        err = backend_error(e, url, "migrating the schema")
        if err.__class__ is BackendError:
            # connected fine, but a migration statement failed: that is a migration problem
            raise MigrationError(
                err.message,
                backend=err.backend,
                hint="the database holds a schema Sherlog did not create; point SHERLOG_DB__URL at an empty database",
            ) from e
        raise err from e
    if after is None:  # pragma: no cover - alembic always stamps
        raise MigrationError(f"{describe(url)} has no schema revision after migrating", backend=url.get_backend_name())
    return after


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    elif conn.dialect.name == "sqlite":
        # pysqlite would otherwise run DDL outside any transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _check_known(rev: str | None, url_text: str) -> None:
    if rev is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = script.get_revision(rev)
    except CommandError:
        known = None
    if known is None:
        raise MigrationError(
            f"{url_text} is at schema revision {rev!r}, which this Sherlog does not know",
            backend="relational",
            hint="a newer Sherlog migrated this database: upgrade Sherlog, or point SHERLOG_DB__URL elsewhere",
        )


def upgrade(url: str, revision: str = "head") -> str:
    """Migrate the database at `url` to `revision` (default: the newest) and return the revision in force."""
    engine = make_engine(parse_url(url))
    try:
        return upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at `url`, or None if it was never migrated."""
    parsed = parse_url(url)
    engine = make_engine(parsed)
    try:
        with engine.connect() as conn:
            return connection_revision(conn)
    except SQLAlchemyError as e:
        raise backend_error(e, parsed, "reading the schema revision") from e
    finally:
        engine.dispose()
