"""Evaluation cases: at least 40, every fault kind, several targets and seeds."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from chaos.cases import case_id, eval_cases
from chaos.faults import FaultKind
from chaos.scenarios import Scenario, list_scenarios
from chaos.simulate import SimConfig, simulate
from chaos.spec import EnvironmentSpec
from core.errors import InputError


def test_at_least_forty_cases_over_every_kind_several_targets_and_seeds() -> None:
    cases = eval_cases()
    assert len(cases) >= 40
    kinds = Counter(s.fault.kind for s, _ in cases)
    assert set(kinds) == set(FaultKind)
    targets: dict[FaultKind, set[str]] = defaultdict(set)
    for s, _ in cases:
        targets[s.fault.kind].add(s.fault.target)
    multi = [k for k, t in targets.items() if len(t) >= 2]
    assert len(multi) >= 10  # only kinds with a single eligible target (one database, one queue) stay on one
    assert len({s.fault.target for s, _ in cases}) >= 12
    ids = [case_id(s, seed) for s, seed in cases]
    assert len(ids) == len(set(ids))
    per_scenario = Counter(s.name for s, _ in cases)
    assert set(per_scenario.values()) == {3}


def test_cases_are_deterministic_and_scale_with_seeds() -> None:
    assert [case_id(s, seed) for s, seed in eval_cases()] == [case_id(s, seed) for s, seed in eval_cases()]
    assert len(eval_cases(n_seeds=1)) * 2 == len(eval_cases(n_seeds=2))
    with pytest.raises(InputError):
        eval_cases(n_seeds=0)


def test_a_missing_kind_is_an_error() -> None:
    some = [s for s in list_scenarios() if s.fault.kind != FaultKind.DNS_FAILURE]
    with pytest.raises(InputError, match="dns_failure"):
        eval_cases(scenarios=some)


def test_variant_cases_simulate_with_their_own_truth(boutique: EnvironmentSpec) -> None:
    variants: list[tuple[Scenario, int]] = [(s, seed) for s, seed in eval_cases(n_seeds=1) if "variant" in s.tags]
    assert variants
    for s, seed in variants[:3]:
        r = simulate(boutique, s, seed, config=SimConfig(step_s=60))
        assert r.truth.root_cause == s.fault.target
        assert r.truth.expected_facts and s.fault.target in r.truth.expected_facts
