"""Thirty days of history: incidents like the scenarios and unrelated ones, deploys, alerts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from chaos.faults import FaultKind
from chaos.history import History, generate_history
from chaos.scenarios import DEFAULT_START, Scenario
from chaos.spec import EnvironmentSpec
from core.errors import InputError
from core.model import Event, EventKind


@pytest.fixture(scope="module")
def history(boutique: EnvironmentSpec) -> History:
    return generate_history(boutique, seed=0)


def test_covers_thirty_days_ending_where_scenarios_start(history: History) -> None:
    assert history.end == DEFAULT_START
    assert history.end - history.start == timedelta(days=30)
    weeks = {(i.declared_at - history.start).days // 7 for i in history.incidents}
    assert weeks >= {0, 1, 2, 3}
    deploy_days = {e.ts.date() for e in history.changes if e.attributes["change_type"] == "deploy"}
    assert len(deploy_days) >= 18
    for e in history.events:
        assert history.start <= e.ts < history.end


def test_every_kind_and_every_shipped_scenario_has_a_look_alike(
    history: History, shipped_scenarios: list[Scenario]
) -> None:
    assert {i.fault_kind for i in history.incidents if i.fault_kind} == {k.value for k in FaultKind}
    pairs = {(i.fault_kind, i.root_cause) for i in history.incidents}
    for s in shipped_scenarios:
        assert (s.fault.kind.value, s.fault.target) in pairs, s.name
    assert sum(1 for i in history.incidents if i.fault_kind is None) >= 3


def test_incidents_are_complete_and_ordered(history: History) -> None:
    ids = [i.id for i in history.incidents]
    assert len(ids) == len(set(ids))
    assert [i.declared_at for i in history.incidents] == sorted(i.declared_at for i in history.incidents)
    for i in history.incidents:
        assert i.declared_at <= i.acknowledged_at <= i.mitigated_at <= i.resolved_at
        assert i.severity in {"sev1", "sev2", "sev3", "sev4"}
        assert i.title and i.cause and i.resolution and i.commander
        assert "{" not in i.title + i.cause + i.resolution
        assert i.time_to_resolve > timedelta(0)
    bad = next(i for i in history.incidents if i.fault_kind == "bad_deploy")
    assert bad.related_change and bad.related_change.split()[1] in bad.title
    rollback = [e for e in history.changes if e.body.startswith("Rollback") and e.entity.service == bad.root_cause]
    assert rollback


def test_version_chains_end_at_the_current_versions(history: History, boutique: EnvironmentSpec) -> None:
    last: dict[str, Event] = {}
    for e in history.changes:
        if e.attributes["change_type"] == "deploy" and not e.body.startswith("Rollback"):
            last[e.entity.service or ""] = e
    for name, e in last.items():
        assert e.attributes["version"] == boutique.service(name).version, name


def test_alerts_bracket_incidents_and_validate(history: History) -> None:
    firing = [e for e in history.alerts if e.attributes["status"] == "firing"]
    resolved = [e for e in history.alerts if e.attributes["status"] == "resolved"]
    assert len(firing) == len(resolved) > 20
    names = {e.attributes["alertname"] for e in firing}
    assert {"DBConnectionPoolExhausted", "KubePodCrashLooping", "HighErrorRate"} <= names
    for e in history.events:
        assert e.kind in (EventKind.ALERT, EventKind.CHANGE)
        assert Event.model_validate(json.loads(e.model_dump_json())) == e


def test_deterministic_by_seed(boutique: EnvironmentSpec, history: History) -> None:
    again = generate_history(boutique, seed=0)
    assert [i.to_dict() for i in again.incidents] == [i.to_dict() for i in history.incidents]
    assert [e.model_dump_json() for e in again.events] == [e.model_dump_json() for e in history.events]
    other = generate_history(boutique, seed=1)
    assert [i.to_dict() for i in other.incidents] != [i.to_dict() for i in history.incidents]
    with pytest.raises(InputError):
        generate_history(boutique, days=0)


def test_write(history: History, tmp_path: Path) -> None:
    paths = history.write(tmp_path)
    incidents = json.loads(paths["incidents"].read_text())
    assert len(incidents) == len(history.incidents)
    assert incidents[0]["declared_at"].endswith("Z")
    assert len(paths["events"].read_text().splitlines()) == len(history.events)
