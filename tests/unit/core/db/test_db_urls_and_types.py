"""Database URL handling, error wording and the UTC datetime column type (no servers)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core.db.engine import backend_error, describe, parse_url, safe_url
from core.db.store import RelationalStore, normalize_incident_key
from core.db.tables import METADATA, STATUS_ORDER, Cursor, TimelineKind
from core.db.types import UTCDateTime
from core.errors import BackendError, BackendUnavailable, ConfigError, InputError
from core.model import IncidentStatus


def test_postgres_urls_mean_psycopg3() -> None:
    for raw in ("postgres://u:pw@db:5432/sherlog", "postgresql://u:pw@db:5432/sherlog"):
        url = parse_url(raw)
        assert url.drivername == "postgresql+psycopg"
        assert (url.host, url.port, url.database, url.username) == ("db", 5432, "sherlog", "u")
    assert parse_url("postgresql+psycopg://u@h/d").drivername == "postgresql+psycopg"
    assert parse_url("sqlite:///tmp/x.db").get_backend_name() == "sqlite"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("mysql+pymysql://root:hunter2@h/db", "unsupported database backend 'mysql'"),
        ("not a url at all hunter2", "not a database URL"),
    ],
)
def test_bad_urls_are_config_errors_without_the_password(raw: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_url(raw)
    assert "hunter2" not in str(err.value)
    assert err.value.hint and "SHERLOG_DB__URL" in err.value.hint


def test_urls_are_shown_without_passwords() -> None:
    url = parse_url("postgresql+psycopg://sherlog:hunter2@db.internal:6543/ops")
    assert "hunter2" not in safe_url(url)
    assert describe(url) == "PostgreSQL at db.internal:6543/ops as user sherlog"
    assert describe(parse_url("sqlite:////var/lib/sherlog/sherlog.db")) == "SQLite file /var/lib/sherlog/sherlog.db"
    assert describe(parse_url("sqlite://")) == "in-memory SQLite"


def test_backend_errors_scrub_the_password_and_classify() -> None:
    url = parse_url("postgresql+psycopg://sherlog:hunter2@db.internal/ops")
    refused = sa.exc.OperationalError("connect", {}, Exception('password "hunter2" rejected\nfor user sherlog'))
    err = backend_error(refused, url, "opening the store")
    assert isinstance(err, BackendUnavailable)
    assert "hunter2" not in str(err) and "***" in str(err)
    assert "db.internal:5432/ops" in str(err) and "\n" not in err.message
    other = backend_error(sa.exc.ProgrammingError("select", {}, Exception("syntax error")), url, "querying")
    assert type(other) is BackendError and "syntax error" in str(other)


def test_utc_datetime_binds_and_loads_aware_utc() -> None:
    t = UTCDateTime()
    plus2 = datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    pg, lite = postgresql.dialect(), sqlite.dialect()
    assert t.process_bind_param(plus2, pg) == datetime(2026, 3, 1, 10, 0, 0, 5, tzinfo=UTC)
    # SQLite has no zone type: naive UTC text, which also sorts correctly
    assert t.process_bind_param(plus2, lite) == datetime(2026, 3, 1, 10, 0, 0, 5)
    assert t.process_result_value(datetime(2026, 3, 1, 10, 0, 0, 5), lite) == plus2
    loaded = t.process_result_value(plus2, pg)
    assert loaded == plus2 and loaded is not None and loaded.tzinfo == UTC
    assert t.process_bind_param(None, pg) is None and t.process_result_value(None, lite) is None
    with pytest.raises(ValueError, match="naive datetime"):
        t.process_bind_param(datetime(2026, 3, 1), pg)
    with pytest.raises(TypeError, match="expected a datetime"):
        t.process_bind_param("2026-03-01", pg)


def test_incident_keys_normalise() -> None:
    assert normalize_incident_key("inc-0042") == "INC-42"
    assert normalize_incident_key(" 7 ") == "INC-7"
    assert normalize_incident_key("chaos-3f9a") == "chaos-3f9a"


def test_models_cover_the_domain_enums() -> None:
    assert set(STATUS_ORDER) == set(IncidentStatus)
    for status in (IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED):
        # status transitions write a timeline entry of the same name
        assert TimelineKind(status.value)
    assert set(METADATA.tables) == {
        "incidents",
        "timeline_entries",
        "thread_memory",
        "feedback",
        "report_records",
        "audit_entries",
        "cursors",
        "log_lines",
        "seen_events",
        "log_counts",
        "metric_points",
        "event_records",
        "investigations",
    }


def test_an_unopenable_sqlite_file_is_backend_unavailable(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()  # a directory where the database file should be
    with pytest.raises(BackendUnavailable, match="SQLite file") as err:
        RelationalStore(f"sqlite:///{tmp_path / 'taken'}")
    assert err.value.hint and "SHERLOG_DATA_DIR" in err.value.hint
    (tmp_path / "file").write_text("")
    with pytest.raises(BackendUnavailable, match="cannot create the directory"):
        RelationalStore(f"sqlite:///{tmp_path / 'file' / 'sub' / 'sherlog.db'}")


def test_in_memory_sqlite_is_one_database_for_every_thread() -> None:
    with RelationalStore("sqlite://") as store:
        key = store.create_incident("x").key
        seen: list[str] = []
        worker = threading.Thread(target=lambda: seen.append(store.get_incident(key).status))
        worker.start()
        worker.join()
        assert seen == ["open"]
        # a missing table is a schema problem, not an unavailable database
        with pytest.raises(BackendError, match="no such table") as err, store.session() as s:
            s.execute(sa.text("SELECT * FROM no_such_table"))
        assert not isinstance(err.value, BackendUnavailable)


def test_a_naive_datetime_written_through_a_session_is_an_input_error() -> None:
    with RelationalStore("sqlite://") as store:
        with pytest.raises(InputError, match="naive datetime"), store.session() as s:
            s.add(Cursor(name="c", value="1", updated_at=datetime(2026, 1, 1)))
        assert store.get_cursor("c") is None
