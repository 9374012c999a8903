"""Evaluation cases: every fault kind, on several targets, with several seeds.

``eval_cases()`` starts from the shipped scenario files (one or more per fault
kind), adds variants that aim the same fault at other eligible targets (a CPU hog
on catalog, then on the next most depended-on service, ...) and repeats each with
``n_seeds`` seeds. The list is deterministic.
"""

from __future__ import annotations

from collections import defaultdict

from chaos.faults import FaultKind, eligible_targets
from chaos.scenarios import Scenario, list_scenarios
from chaos.spec import EnvironmentSpec, load_environment
from chaos.state import stable_hash
from core.errors import InputError

Case = tuple[Scenario, int]


def case_id(scenario: Scenario, seed: int) -> str:
    """A stable id for a case, e.g. ``checkout-db-pool@7``."""
    return f"{scenario.name}@{seed}"


def case_seeds(scenario: Scenario, n_seeds: int) -> list[int]:
    """The scenario's own seed, then seeds spaced far apart."""
    return [scenario.seed + 101 * j for j in range(n_seeds)]


def scenario_variants(scenario: Scenario, env: EnvironmentSpec, targets_per_kind: int) -> list[Scenario]:
    """The scenario plus copies aimed at other eligible targets (at most ``targets_per_kind`` in all).

    Alternatives are taken from the eligible list starting at an offset derived from the fault kind,
    so different kinds land on different services instead of all on the most depended-on one.
    """
    out = [scenario]
    others = [t for t in eligible_targets(env, scenario.fault.kind) if t != scenario.fault.target]
    if not others:
        return out
    offset = stable_hash("variants", scenario.fault.kind.value) % len(others)
    for target in others[offset:] + others[:offset]:
        if len(out) >= targets_per_kind:
            break
        out.append(scenario.with_target(target, env=env))
    return out


def eval_cases(
    n_seeds: int = 3,
    *,
    targets_per_kind: int = 2,
    scenarios: list[Scenario] | None = None,
    env: EnvironmentSpec | None = None,
) -> list[Case]:
    """(scenario, seed) pairs covering every fault kind, several targets and seeds.

    With the shipped scenarios and defaults this gives 78 cases (26 scenario
    variants x 3 seeds). Raises InputError if some fault kind has no scenario.
    """
    if n_seeds < 1 or targets_per_kind < 1:
        raise InputError(f"n_seeds and targets_per_kind must be >= 1 (got {n_seeds}, {targets_per_kind})")
    scenarios = list_scenarios() if scenarios is None else scenarios
    by_kind: dict[FaultKind, list[Scenario]] = defaultdict(list)
    for s in scenarios:
        by_kind[s.fault.kind].append(s)
    missing = [k.value for k in FaultKind if k not in by_kind]
    if missing:
        raise InputError(
            f"no scenario for fault kind(s): {', '.join(missing)}", hint="add a file under chaos/scenarios/"
        )
    envs: dict[str, EnvironmentSpec] = {}
    cases: list[Case] = []
    seen: set[str] = set()
    for kind in FaultKind:
        for base in sorted(by_kind[kind], key=lambda s: s.name):
            if env is not None and env.name == base.environment:
                e = env
            else:
                e = envs.setdefault(base.environment, load_environment(base.environment))
            for variant in scenario_variants(base, e, targets_per_kind):
                if variant.name in seen:
                    continue
                seen.add(variant.name)
                cases.extend((variant, seed) for seed in case_seeds(variant, n_seeds))
    return cases
