"""Scenario files: one per fault kind at least, validated against their environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.faults import FaultKind, get_fault
from chaos.scenarios import DEFAULT_SCENARIO, Scenario, load_scenario, scenario_names, scenario_path
from chaos.spec import EnvironmentSpec
from core.errors import InputError, InvalidPayload, NotFound


def test_every_fault_kind_has_a_scenario_and_the_default_exists(shipped_scenarios: list[Scenario]) -> None:
    assert len(shipped_scenarios) >= 14
    assert {s.fault.kind for s in shipped_scenarios} == set(FaultKind)
    default = load_scenario(DEFAULT_SCENARIO)
    assert default.fault.kind == FaultKind.DB_POOL_EXHAUSTION and default.fault.target == "orders-db"
    assert default.question == "why is checkout failing?"


def test_every_scenario_carries_complete_ground_truth(shipped_scenarios: list[Scenario]) -> None:
    for s in shipped_scenarios:
        assert s.truth.root_cause == s.fault.target
        assert s.truth.fault_kind == s.fault.kind
        assert s.truth.expected_runbook == get_fault(s.fault.kind).runbook
        assert s.truth.expected_facts and s.fault.target in s.truth.expected_facts
        assert s.question.endswith("?")
        assert s.name in scenario_names()


def _write(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(scenario_path(DEFAULT_SCENARIO).read_text())
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            data[outer][inner] = value
        else:
            data[key] = value
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"truth.root_cause": "checkout"}, InvalidPayload, "differs from fault.target"),
        ({"truth.fault_kind": "cpu_hog"}, InvalidPayload, "differs from fault.kind"),
        ({"fault.kind": "meteor_strike"}, InvalidPayload, "fault.kind"),
        ({"fault.target": "checkout", "truth": {}}, InputError, "targets Database"),
        ({"fault.target": "mainframe", "truth": {}}, InputError, "not a node or service"),
        ({"fault.at_min": 1}, InvalidPayload, "fault.at_min"),
        ({"question": ""}, InvalidPayload, "question"),
        ({"surprise": True}, InvalidPayload, "surprise"),
    ],
)
def test_invalid_scenarios_are_refused_with_the_reason(
    tmp_path: Path, changes: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as exc:
        load_scenario(_write(tmp_path, **changes))
    assert message in str(exc.value)


def test_unknown_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as exc:
        load_scenario("no-such-scenario")
    assert DEFAULT_SCENARIO in str(exc.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("fault: {kind: [\n")
    with pytest.raises(InvalidPayload, match="not valid YAML"):
        load_scenario(bad)


def test_with_target_derives_name_question_and_truth(boutique: EnvironmentSpec) -> None:
    base = load_scenario("catalog-cpu-hog")
    v = base.with_target("payments", env=boutique)
    assert v.name == "cpu-hog-payments" and v.fault.target == "payments"
    assert v.truth.root_cause == "payments" and v.truth.expected_facts is None
    assert v.question == "why is checkout slow?"
    assert "variant" in v.tags
    with pytest.raises(InputError):
        base.with_target("orders-db", env=boutique)
