"""Database URLs and engines for the relational store, and how their failures are reported.

Two backends: SQLite (the default, a file under the data dir) and PostgreSQL through psycopg 3.
Every message that names a URL renders it without its password.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from core.errors import BackendError, BackendUnavailable, ConfigError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
PG_CONNECT_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_S = 30
_SQLITE_UNAVAILABLE = re.compile(r"unable to open|locked|busy|disk i/o|readonly|read-only|not a database", re.I)
_URL_HINT = "set SHERLOG_DB__URL to sqlite:///path/to/file.db or postgresql+psycopg://user:password@host:5432/db"


def parse_url(raw: str) -> URL:
    """Parse and normalise a database URL; ConfigError names what is wrong with it.

    `postgres://` and `postgresql://` mean psycopg 3, the driver Sherlog ships (SQLAlchemy's own
    default would be psycopg2, which is not installed).
    """
    text = (raw or "").strip()
    if not text:
        raise ConfigError("the database URL is empty", hint=_URL_HINT)
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        url = sa.make_url(text)
    except ArgumentError as e:
        # the raw text may hold a password: name only its scheme
        scheme = text.split("://", 1)[0] if "://" in text else "(none)"
        raise ConfigError(f"not a database URL (scheme {scheme!r})", hint=_URL_HINT) from e
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"unsupported database backend {backend!r} in {safe_url(url)}: Sherlog speaks SQLite and PostgreSQL",
            hint=_URL_HINT,
        )
    if backend == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


def safe_url(url: URL) -> str:
    """The URL as text with its password masked."""
    return url.render_as_string(hide_password=True)


def describe(url: URL) -> str:
    """A short human name for where the database is: a file path or host:port/database."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}" if url.database not in (None, "", ":memory:") else "in-memory SQLite"
    user = f" as user {url.username}" if url.username else ""
    return f"PostgreSQL at {url.host or 'localhost (unix socket)'}:{url.port or 5432}/{url.database or ''}{user}"


def _sqlite_file(url: URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # SQLite leaves foreign keys off unless asked, per connection.
    cur.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers (status, chat answers) proceed while the ingester writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: URL, *, echo: bool = False) -> Engine:
    """An Engine for `url` with per-backend settings (SQLite pragmas, PostgreSQL connect timeout)."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.get_backend_name() == "sqlite":
        path = _sqlite_file(url)
        if path is not None:
            try:
                path.expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise BackendUnavailable(
                    f"cannot create the directory for {describe(url)}: {e.strerror}",
                    backend="sqlite",
                    hint="set SHERLOG_DATA_DIR to a writable directory",
                ) from e
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        if path is None:
            # an in-memory database lives in one connection: share it across threads
            kwargs["connect_args"]["check_same_thread"] = False
            kwargs["poolclass"] = sa.pool.StaticPool
    else:
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(url, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        raise ConfigError(
            f"no database driver for {url.drivername!r} ({safe_url(url)})",
            hint="use postgresql+psycopg://... (psycopg 3 is installed) or sqlite:///...",
        ) from e
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
    return engine


def _compact(text: str, url: URL) -> str:
    msg = "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    if url.password:
        msg = msg.replace(str(url.password), "***")
    return msg


def _driver_message(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    return str(orig) if orig is not None else str(e)


def backend_error(e: SQLAlchemyError, url: URL, doing: str) -> BackendError:
    """Turn a SQLAlchemy/driver exception into Sherlog's typed error, password-free.

    Connection-level failures become BackendUnavailable with a hint on what to check;
    anything else is a BackendError naming the operation.
    """
    backend = url.get_backend_name()
    where = describe(url)
    detail = _compact(_driver_message(e), url)
    unavailable = isinstance(e, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(e, DBAPIError) and e.connection_invalidated
    )
    if backend == "sqlite" and unavailable:
        # SQLite reports schema problems ("no such table") as OperationalError too: only file
        # access and locking failures mean the database itself is unavailable.
        unavailable = bool(_SQLITE_UNAVAILABLE.search(detail))
    if unavailable:
        if backend == "sqlite":
            hint = "check that the file exists, is writable and no other program holds a lock on it (SHERLOG_DATA_DIR)"
        else:
            hint = (
                f"is PostgreSQL running on {url.host or 'localhost'}:{url.port or 5432} and accepting connections "
                "for that user and database? Check SHERLOG_DB__URL, or unset it to use the embedded SQLite store"
            )
        return BackendUnavailable(f"{where} is unavailable while {doing}: {detail}", backend=backend, hint=hint)
    return BackendError(f"{where} failed while {doing}: {detail}", backend=backend)
