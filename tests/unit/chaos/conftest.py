"""Shared chaos fixtures: every shipped scenario simulated once per session."""

from __future__ import annotations

import pytest

from chaos.scenarios import Scenario, list_scenarios
from chaos.simulate import SimulationResult, simulate
from chaos.spec import EnvironmentSpec, load_environment


@pytest.fixture(scope="session")
def boutique() -> EnvironmentSpec:
    return load_environment("boutique")


@pytest.fixture(scope="session")
def shipped_scenarios() -> list[Scenario]:
    return list_scenarios()


@pytest.fixture(scope="session")
def scenario_runs(boutique: EnvironmentSpec, shipped_scenarios: list[Scenario]) -> dict[str, SimulationResult]:
    """name -> result of simulating the scenario with its own seed."""
    return {s.name: simulate(boutique, s) for s in shipped_scenarios}
