"""Fixtures for the relational store suite: one throwaway PostgreSQL cluster per session, and a
`db_url` parametrized over SQLite (a fresh file), that cluster (a fresh schema per test) and,
when SHERLOG_DB__URL names a PostgreSQL server, that server too (a fresh schema per test,
dropped afterwards, so nothing already in that database is touched)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db.store import RelationalStore
from tests.fixtures.postgres import PostgresInstance, schema_url, throwaway_postgres

EXTERNAL_URL = os.environ.get("SHERLOG_DB__URL", "")
BACKENDS = ["sqlite", "postgresql", *(["external"] if EXTERNAL_URL else [])]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresInstance]:
    """A real PostgreSQL from the Debian package's binaries, for the whole session."""
    with throwaway_postgres() as pg:
        yield pg


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL on each backend the suite runs against."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sherlog.db'}"
    elif request.param == "postgresql":
        pg: PostgresInstance = request.getfixturevalue("postgres_server")
        with schema_url(pg.url) as url:
            yield url
    else:
        if not EXTERNAL_URL.startswith(("postgresql", "postgres:")):
            pytest.skip("SHERLOG_DB__URL is not a PostgreSQL URL; SQLite is covered by the sqlite backend")
        with schema_url(EXTERNAL_URL) as url:
            yield url


@pytest.fixture
def store(db_url: str) -> Iterator[RelationalStore]:
    """A migrated store on an empty database."""
    s = RelationalStore(db_url)
    yield s
    s.close()
