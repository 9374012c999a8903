"""The relational store's contract, one suite run on SQLite and on a real PostgreSQL
(plus the server named by SHERLOG_DB__URL, when set)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr

from core.db.engine import make_engine, parse_url
from core.db.migrate import current_revision, head_revision, upgrade
from core.db.store import RelationalStore
from core.db.tables import METADATA, Incident, LogLine
from core.errors import BackendError, BackendUnavailable, InputError, MigrationError, NotFound
from core.settings import DbSettings, Settings
from tests.fixtures.net import free_port
from tests.fixtures.postgres import throwaway_postgres

T0 = datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC)


def _schema_diff(url: str, metadata: sa.MetaData) -> list[object]:
    engine = make_engine(parse_url(url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


# ------------------------------------------------------------------ migrations


def test_migrations_apply_from_empty_and_are_idempotent(db_url: str) -> None:
    assert current_revision(db_url) is None
    head = head_revision()
    assert upgrade(db_url) == head
    assert upgrade(db_url) == head
    assert current_revision(db_url) == head
    # opening a store migrates too; on an up-to-date database that is a no-op
    with RelationalStore(db_url) as a, RelationalStore(db_url) as b:
        assert a.revision == b.revision == head
        assert set(a.counts()) == set(METADATA.tables)


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    upgrade(db_url)
    assert _schema_diff(db_url, METADATA) == []
    # the comparison is not blind: a model column the migrations lack shows up as a diff
    drifted = sa.MetaData()
    for table in METADATA.tables.values():
        table.to_metadata(drifted)
    drifted.tables["incidents"].append_column(sa.Column("owner_team", sa.String(64), nullable=True))
    diff = _schema_diff(db_url, drifted)
    assert any(d[0] == "add_column" and d[3].name == "owner_team" for d in diff if isinstance(d, tuple)), diff


def test_migrations_create_the_check_constraints(store: RelationalStore) -> None:
    # compare_metadata does not look at CHECK constraints: prove the migration made them
    table = Incident.__table__  # type: ignore[attr-defined]
    good = {"key": "x-1", "title": "t", "severity": 2, "status": "open", "created_at": T0}
    for bad in ({"severity": 9}, {"status": "closed"}):
        with pytest.raises(BackendError, match="rejected a write"), store.session() as s:
            s.execute(sa.insert(table).values({**good, **bad}))
    with store.session() as s:
        s.execute(sa.insert(table).values(good))
    assert store.get_incident("x-1").severity == 2


def test_a_database_from_a_newer_sherlog_is_refused(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(parse_url(db_url))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(MigrationError, match="9999_future") as err:
        RelationalStore(db_url)
    assert err.value.hint and "newer Sherlog" in err.value.hint


# ------------------------------------------------------------------ incidents


def test_incident_lifecycle_sets_each_timestamp_exactly_once(store: RelationalStore) -> None:
    cest = timezone(timedelta(hours=2))
    inc = store.create_incident("checkout 5xx", severity=2, service="checkout", author="ana", at=T0)
    assert inc.key == f"INC-{inc.id}"
    assert (inc.status, inc.acknowledged_at, inc.mitigated_at, inc.resolved_at) == ("open", None, None, None)

    t1, t2, t3, t4 = (T0 + timedelta(minutes=m, microseconds=7) for m in (3, 9, 20, 45))
    # given in UTC+2, stored and returned as the same instant in UTC
    store.set_incident_status(inc.key, "acknowledged", at=t1.astimezone(cest), author="bo")
    again = store.set_incident_status(inc.key, "acknowledged", at=t2)
    assert again.acknowledged_at == t1
    store.set_incident_status(inc.key.lower(), "mitigated", at=t3)
    done = store.set_incident_status(inc.key, "resolved", at=t4, text="rolled back deploy 42")

    got = store.get_incident(inc.key)
    assert got.created_at == T0 and got.created_at.tzinfo == UTC
    assert (got.acknowledged_at, got.mitigated_at, got.resolved_at) == (t1, t3, t4)
    assert got.acknowledged_at is not None and got.acknowledged_at.utcoffset() == timedelta(0)
    assert (done.status, got.status) == ("resolved", "resolved")
    assert [(e.kind, e.ts) for e in store.timeline(inc.key)] == [
        ("declared", T0),
        ("acknowledged", t1),
        ("mitigated", t3),
        ("resolved", t4),
    ]
    assert store.timeline(inc.key)[-1].text == "rolled back deploy 42"
    with pytest.raises(InputError, match="cannot move back"):
        store.set_incident_status(inc.key, "open")
    assert store.get_incident(inc.key).resolved_at == t4


def test_skipping_ahead_stamps_the_skipped_milestones_once(store: RelationalStore) -> None:
    inc = store.create_incident("disk full", severity=3, at=T0)
    t = T0 + timedelta(minutes=30)
    store.set_incident_status(inc.key, "resolved", at=t)
    got = store.get_incident(inc.key)
    assert (got.acknowledged_at, got.mitigated_at, got.resolved_at) == (t, t, t)
    with pytest.raises(InputError, match="before the incident's last milestone"):
        store.set_incident_status(store.create_incident("y", at=t).key, "acknowledged", at=T0)
    with pytest.raises(InputError, match="unknown incident status"):
        store.set_incident_status(inc.key, "closed")


def test_concurrent_transitions_stamp_a_milestone_once(store: RelationalStore) -> None:
    inc = store.create_incident("flapping", at=T0)
    stamps = [T0 + timedelta(minutes=m) for m in (1, 2, 3, 4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stamps))

    def ack(at: datetime) -> None:
        try:
            barrier.wait()
            store.set_incident_status(inc.key, "acknowledged", at=at, author=f"user-{at.minute}")
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=ack, args=(t,)) for t in stamps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    acks = [e for e in store.timeline(inc.key) if e.kind == "acknowledged"]
    assert len(acks) == 1
    assert store.get_incident(inc.key).acknowledged_at == acks[0].ts
    assert acks[0].ts in stamps


def test_open_incidents_timeline_and_updates(store: RelationalStore) -> None:
    a = store.create_incident("a", at=T0)
    b = store.create_incident("b", severity=1, at=T0 + timedelta(minutes=1), channel="C1", thread="171.2")
    store.set_incident_status(a.key, "resolved", at=T0 + timedelta(minutes=5))
    assert [i.key for i in store.list_open_incidents()] == [b.key]
    assert [i.key for i in store.list_incidents()] == [b.key, a.key]

    store.add_timeline_entry(b.key, "note", "db pool at 100%", author="ana", at=T0 + timedelta(minutes=2))
    store.update_incident(b.key, severity=2, lead="bo", root_cause="pool exhausted")
    got = store.get_incident(b.key)
    assert (got.severity, got.lead, got.root_cause, got.channel, got.thread) == (
        2,
        "bo",
        "pool exhausted",
        "C1",
        "171.2",
    )
    assert [e.kind for e in store.timeline(b.key)] == ["declared", "note"]

    with pytest.raises(InputError, match="unknown timeline kind"):
        store.add_timeline_entry(b.key, "gossip", "x")
    with pytest.raises(InputError, match="severity"):
        store.update_incident(b.key, severity=7)
    with pytest.raises(InputError, match="cannot set status"):
        store.update_incident(b.key, status="resolved")
    with pytest.raises(NotFound, match="INC-999999"):
        store.get_incident("inc-999999")
    assert store.find_incident("nope") is None


def test_explicit_keys_and_keys_never_reused(store: RelationalStore) -> None:
    slug = store.create_incident("chaos run", key="chaos-3f9a1c")
    assert store.get_incident("chaos-3f9a1c").id == slug.id
    with pytest.raises(InputError, match="already exists"):
        store.create_incident("again", key="chaos-3f9a1c")
    with pytest.raises(InputError, match="reserved"):
        store.create_incident("x", key="INC-77")
    with pytest.raises(InputError, match="naive"):
        store.create_incident("x", at=datetime(2026, 1, 1))
    first = store.create_incident("first")
    store.delete_all()
    second = store.create_incident("second")
    # chat history quotes INC-<n>: a reset must not hand out an old number again
    assert second.key != first.key


# ------------------------------------------------------------------ idempotent ingestion


def test_mark_seen_is_idempotent(store: RelationalStore) -> None:
    assert store.mark_seen(["a", "b", "c", "a"]) == {"a", "b", "c"}
    assert store.mark_seen(["a", "b", "c"]) == set()
    assert store.mark_seen(["c", "d"]) == {"d"}
    assert store.mark_seen([]) == set()
    many = [f"k{i}" for i in range(1234)]  # more than one INSERT chunk
    assert store.mark_seen(many) == set(many)
    assert store.mark_seen(many) == set()
    with pytest.raises(InputError, match="must not be empty"):
        store.mark_seen(["ok", ""])


def test_mark_seen_is_race_safe(store: RelationalStore) -> None:
    keys = [f"evt-{i}" for i in range(600)]
    results: list[set[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(store.mark_seen(keys))
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # every key was new to exactly one of the concurrent callers
    assert sum(len(r) for r in results) == len(keys)
    assert set().union(*results) == set(keys)


def test_log_lines_are_idempotent_and_purged_by_retention(store: RelationalStore) -> None:
    lines = [
        {
            "ts": T0 - timedelta(days=d),
            "service": "checkout",
            "level": "error",
            "message": f"m{d}",
            "ingest_key": f"l{d}",
        }
        for d in range(10)
    ]
    assert store.insert_log_lines(lines) == 10
    assert store.insert_log_lines(lines[:3]) == 0  # same ingest keys: nothing new
    unkeyed = LogLine(ts=T0, service="cart", host="node-1", message="no key", template_id="t7")
    assert store.insert_log_lines([unkeyed, unkeyed]) == 2  # lines without a key are all kept
    assert len(store.log_lines(service="checkout")) == 10

    cutoff = T0 - timedelta(days=7)
    assert store.purge_logs_older_than(cutoff) == 2  # days 8 and 9
    left = store.log_lines()
    assert len(left) == 10 and min(x.ts for x in left) == cutoff
    assert all(x.ts.tzinfo == UTC for x in left)
    assert store.purge_logs_older_than(cutoff) == 0
    assert [x.message for x in store.log_lines(service="checkout", since=T0 - timedelta(days=1))] == ["m1", "m0"]

    with pytest.raises(InputError, match="log line 1 ts"):
        store.insert_log_lines([lines[0], {**lines[1], "ts": datetime(2026, 1, 1)}])
    with pytest.raises(InputError, match="log line 0 service"):
        store.insert_log_lines([{"ts": T0, "service": "", "message": "x"}])
    with pytest.raises(InputError, match="unknown fields: sevirity"):
        store.insert_log_lines([{"ts": T0, "service": "s", "message": "x", "sevirity": "err"}])


# ------------------------------------------------------------------ memory, cursors, reports


def test_thread_memory_round_trip(store: RelationalStore) -> None:
    assert store.get_thread_memory("slack", "C1", "1.2") == {}
    memory = {"last_entities": ["service:prod/shop/checkout"], "last_intent": "why", "window": [1, 2], "n": None}
    store.put_thread_memory("slack", "C1", "1.2", memory)
    assert store.get_thread_memory("slack", "C1", "1.2") == memory
    store.put_thread_memory("slack", "C1", "1.2", {"last_intent": "status"})
    assert store.get_thread_memory("slack", "C1", "1.2") == {"last_intent": "status"}
    assert store.get_thread_memory("discord", "C1", "1.2") == {}
    assert store.counts()["thread_memory"] == 1
    with pytest.raises(InputError, match="JSON values only"):
        store.put_thread_memory("slack", "C1", "1.2", {"when": T0})


def test_cursors(store: RelationalStore) -> None:
    assert store.get_cursor("loki:checkout") is None
    store.set_cursor("loki:checkout", "1732190000000000000")
    store.set_cursor("file:/var/log/syslog", "4096")
    store.set_cursor("loki:checkout", "1732190005000000000")
    assert store.get_cursor("loki:checkout") == "1732190005000000000"
    assert store.get_cursor("file:/var/log/syslog") == "4096"


def test_reports_are_recorded_once_per_destination(store: RelationalStore) -> None:
    assert store.record_report("weekly", "2026-W47", "slack:#sre", "/tmp/r.pdf") is True
    assert store.record_report("weekly", "2026-W47", "slack:#sre") is False
    assert store.record_report("weekly", "2026-W47", "discord:123") is True
    assert store.record_report("weekly", "2026-W48", "slack:#sre") is True


# ------------------------------------------------------------------ status and reset


def test_status_counts_and_delete_all(store: RelationalStore) -> None:
    store.create_incident("x")
    store.mark_seen(["k1", "k2"])
    store.set_cursor("c", "1")
    st = store.status()
    assert st.running and st.backend == store.backend
    assert (st.counts["incidents"], st.counts["timeline_entries"], st.counts["seen_events"]) == (1, 1, 2)
    assert st.counts["cursors"] == 1 and st.detail == f"schema revision {head_revision()}"
    store.delete_all()
    assert set(store.status().counts.values()) == {0}
    assert store.revision == current_revision(store.url.render_as_string(hide_password=False))


def test_from_settings_picks_the_backend(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, db=DbSettings(url=SecretStr(db_url)))
    with RelationalStore.from_settings(settings) as s:
        assert s.backend == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
        assert s.status().running


def test_default_settings_use_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    with RelationalStore.from_settings(Settings(data_dir=data_dir, db=DbSettings(url=None))) as s:
        assert s.backend == "sqlite"
        assert (data_dir / "sherlog.db").is_file()
        assert str(data_dir / "sherlog.db") in s.status().location


# ------------------------------------------------------------------ unreachable servers


def test_unreachable_postgres_is_a_clear_backend_unavailable() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://sherlog:s3cret-Pw@127.0.0.1:{port}/incidents"
    for attempt in (lambda: RelationalStore(url), lambda: upgrade(url), lambda: current_revision(url)):
        with pytest.raises(BackendUnavailable) as err:
            attempt()
        text = str(err.value)
        assert f"127.0.0.1:{port}/incidents" in text and "user sherlog" in text
        assert "s3cret-Pw" not in text and "s3cret-Pw" not in repr(err.value.__cause__ or "")
        assert err.value.hint is not None and "SHERLOG_DB__URL" in err.value.hint
        assert err.value.backend == "postgresql"


def test_a_postgres_that_goes_away_is_reported_not_hidden() -> None:
    with throwaway_postgres("goes_away") as pg:
        store = RelationalStore(pg.url)
        store.set_cursor("c", "1")
        assert store.status().running
        pg.pg_ctl("-m", "immediate", "-w", "stop")
        st = store.status()
        assert not st.running and f"127.0.0.1:{pg.port}" in st.detail
        with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{pg.port}"):
            store.get_cursor("c")
        store.close()
