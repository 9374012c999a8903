"""Scenario files: one fault in one environment, the question to ask, and the ground truth.

``chaos/scenarios/<name>.yaml``::

    name: checkout-db-pool
    title: Checkout failing - orders-db connection pool exhausted
    environment: boutique
    question: why is checkout failing?
    seed: 7
    fault: {kind: db_pool_exhaustion, target: orders-db, at_min: 45}
    truth:
      root_cause: orders-db
      fault_kind: db_pool_exhaustion
      expected_runbook: DBConnectionPoolExhausted
      expected_facts: [orders-db, connection pool, too many clients]

The exact onset is ``start + at_min`` shifted by a seeded jitter of at most
``fault.jitter_s``; :class:`chaos.simulate.GroundTruth` carries the exact value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chaos.faults import FaultKind, check_target, default_question, get_fault
from chaos.spec import DEFAULT_ENVIRONMENT, EnvironmentSpec, load_environment
from core.errors import InvalidPayload, NotFound
from core.model import explain_validation

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SCENARIO = "checkout-db-pool"
#: A Tuesday morning, UTC: traffic is climbing towards the daily peak.
DEFAULT_START = datetime(2026, 11, 17, 9, 15, tzinfo=UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultSpec(_Strict):
    """Which fault, aimed where, when (minutes after the window starts)."""

    kind: FaultKind
    target: str = Field(min_length=1)
    at_min: float = Field(45.0, ge=5, le=24 * 60)
    jitter_s: float = Field(60.0, ge=0, le=600, description="seeded shift of the onset, +/- seconds")
    params: dict[str, Any] = Field(default_factory=dict)


class WindowSpec(_Strict):
    """How long after the onset to simulate, and the metric resolution."""

    after_min: float = Field(30.0, ge=5, le=240)
    step_s: float = Field(30.0, ge=5, le=300)


class TruthSpec(_Strict):
    """Ground truth as written in the file; omitted fields come from the fault library."""

    root_cause: str | None = None
    fault_kind: FaultKind | None = None
    expected_runbook: str | None = None
    expected_facts: list[str] | None = None


class NoiseSpec(_Strict):
    """Red herrings: probabilities (per seed) and the background noise scale."""

    benign_deploy: float = Field(0.6, ge=0, le=1, description="an unrelated deploy before the fault")
    flappy_alert: float = Field(0.7, ge=0, le=1, description="an unrelated alert firing and resolving")
    noise_logs: float = Field(1.0, ge=0, le=10, description="scale of unrelated warning/error lines")


class Scenario(_Strict):
    """One chaos scenario."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][-a-z0-9]*$")
    title: str = Field(min_length=1)
    description: str = ""
    environment: str = DEFAULT_ENVIRONMENT
    question: str = Field(min_length=1)
    seed: int = Field(0, ge=0)
    start: datetime = DEFAULT_START
    fault: FaultSpec
    window: WindowSpec = Field(default_factory=WindowSpec)
    truth: TruthSpec = Field(default_factory=TruthSpec)
    noise: NoiseSpec = Field(default_factory=NoiseSpec)
    tags: list[str] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @model_validator(mode="after")
    def _truth_matches_fault(self) -> Scenario:
        t = self.truth
        if t.root_cause is not None and t.root_cause != self.fault.target:
            raise ValueError(f"truth.root_cause '{t.root_cause}' differs from fault.target '{self.fault.target}'")
        if t.fault_kind is not None and t.fault_kind != self.fault.kind:
            raise ValueError(f"truth.fault_kind '{t.fault_kind}' differs from fault.kind '{self.fault.kind}'")
        return self

    @property
    def root_cause(self) -> str:
        return self.fault.target

    @property
    def expected_runbook(self) -> str:
        return self.truth.expected_runbook or get_fault(self.fault.kind).runbook

    def with_target(self, target: str, *, env: EnvironmentSpec, name: str | None = None) -> Scenario:
        """The same fault aimed elsewhere: name, question and truth are derived for the new target."""
        check_target(env, self.fault.kind, target)
        data = self.model_dump()
        data["name"] = name or f"{self.fault.kind.value.replace('_', '-')}-{target}"
        data["title"] = f"{get_fault(self.fault.kind).title} on {target}"
        data["fault"]["target"] = target
        data["question"] = default_question(env, self.fault.kind, target)
        data["truth"] = {
            "root_cause": target,
            "fault_kind": self.fault.kind,
            "expected_runbook": self.truth.expected_runbook,
            "expected_facts": None,  # re-derived from the library for the new target
        }
        data["tags"] = [*self.tags, "variant"]
        return Scenario.model_validate(data)

    @classmethod
    def parse(cls, data: Any, *, source: str = "scenario") -> Scenario:
        """Validate a mapping, raising InvalidPayload that lists every problem."""
        if not isinstance(data, dict):
            raise InvalidPayload(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise InvalidPayload(
                f"{source}: invalid scenario: " + "; ".join(explain_validation(e)),
                hint=f"see {SCENARIO_DIR / (DEFAULT_SCENARIO + '.yaml')} for a complete example",
            ) from e


def validate_scenario(scenario: Scenario, env: EnvironmentSpec | None = None) -> EnvironmentSpec:
    """Check the scenario against its environment (target exists and suits the fault). Returns the env."""
    env = env or load_environment(scenario.environment)
    if env.name != scenario.environment:
        raise InvalidPayload(
            f"scenario '{scenario.name}' is for environment '{scenario.environment}', not '{env.name}'"
        )
    check_target(env, scenario.fault.kind, scenario.fault.target)
    return env


def scenario_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return p
    return SCENARIO_DIR / f"{name_or_path}.yaml"


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario by name (``checkout-db-pool``) or path; the target is checked too."""
    path = scenario_path(name_or_path)
    if not path.is_file():
        raise NotFound(f"scenario '{name_or_path}' not found", hint=f"known scenarios: {', '.join(scenario_names())}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InvalidPayload(f"{path}: not valid YAML: {e}") from e
    scenario = Scenario.parse(data, source=str(path))
    if path.parent == SCENARIO_DIR and scenario.name != path.stem:
        raise InvalidPayload(f"{path}: name '{scenario.name}' must match the file name '{path.stem}'")
    validate_scenario(scenario)
    return scenario


def list_scenarios() -> list[Scenario]:
    """Every scenario shipped in chaos/scenarios, by name."""
    return [load_scenario(n) for n in scenario_names()]
