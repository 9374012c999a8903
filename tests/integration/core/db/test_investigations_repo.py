"""The investigations repository on SQLite and PostgreSQL: create, finish once, posts, listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.db.store import RelationalStore
from core.errors import InputError, NotFound
from core.model import Answer, RootCause

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def _new(store: RelationalStore, alertname: str = "HighErrorRate", at: datetime = T0) -> int:
    rec = store.create_investigation(
        source="alertmanager",
        alertname=alertname,
        question=f"why is checkout firing {alertname}?",
        labels={"alertname": alertname, "service": "checkout"},
        fingerprints=["b2", "a1"],
        at=at,
    )
    assert rec.id is not None
    return rec.id


def test_an_investigation_runs_then_finishes_once_with_its_answer(store: RelationalStore) -> None:
    iid = _new(store)
    got = store.get_investigation(iid)
    assert (got.status, got.finished_at, got.answer, got.posted_to) == ("running", None, None, [])
    assert got.labels == {"alertname": "HighErrorRate", "service": "checkout"}
    assert got.fingerprints == ["b2", "a1"] and got.created_at == T0

    answer = Answer(
        question=got.question,
        summary="orders-db is out of connections",
        root_causes=[RootCause(entity="database:sim/boutique/orders-db", confidence=0.8, why="pool exhausted")],
    )
    store.finish_investigation(iid, status="done", answer=answer, at=T0 + timedelta(seconds=2))
    done = store.get_investigation(iid)
    assert done.status == "done" and done.finished_at == T0 + timedelta(seconds=2)
    assert done.answer is not None and Answer.model_validate(done.answer) == answer

    with pytest.raises(InputError, match="already done"):
        store.finish_investigation(iid, status="failed", error="late")

    store.add_investigation_posts(iid, ["slack:#alerts"])
    store.add_investigation_posts(iid, [], error="discord:42: Missing Access")
    posted = store.get_investigation(iid)
    assert posted.posted_to == ["slack:#alerts"] and posted.error == "discord:42: Missing Access"


def test_failures_need_an_error_and_bad_arguments_are_named(store: RelationalStore) -> None:
    iid = _new(store)
    with pytest.raises(InputError, match="needs the error"):
        store.finish_investigation(iid, status="failed")
    with pytest.raises(InputError, match="needs its answer"):
        store.finish_investigation(iid, status="done")
    with pytest.raises(InputError, match="unknown investigation status 'maybe'"):
        store.finish_investigation(iid, status="maybe", error="x")
    with pytest.raises(InputError, match="alertname"):
        store.create_investigation(source="alertmanager", alertname=" ", question="why?")
    with pytest.raises(InputError, match="limit"):
        store.list_investigations(limit=0)
    with pytest.raises(NotFound, match="no investigation 999999"):
        store.get_investigation(999_999)
    store.finish_investigation(iid, status="failed", error="engine exploded")
    assert store.get_investigation(iid).error == "engine exploded"


def test_listing_is_newest_first_and_a_restart_fails_what_was_running(store: RelationalStore) -> None:
    ids = [_new(store, f"Alert{i}", at=T0 + timedelta(minutes=i)) for i in range(4)]
    dropped = store.create_investigation(
        source="grafana",
        alertname="Dropped",
        question="why?",
        status="failed",
        error="dropped: queue full",
        at=T0 + timedelta(minutes=9),
    )
    assert dropped.finished_at == dropped.created_at
    assert [r.alertname for r in store.list_investigations(limit=3)] == ["Dropped", "Alert3", "Alert2"]
    assert [r.id for r in store.list_investigations(since=T0 + timedelta(minutes=2), source="alertmanager")] == [
        ids[3],
        ids[2],
    ]
    store.finish_investigation(ids[0], status="done", answer=Answer(question="q", summary="s"))
    assert store.fail_running_investigations("interrupted: the server stopped") == 3
    statuses = {r.id: (r.status, r.error) for r in store.list_investigations()}
    assert statuses[ids[0]] == ("done", None)
    assert all(statuses[i] == ("failed", "interrupted: the server stopped") for i in ids[1:])
