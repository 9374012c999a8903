"""Simulate one scenario: telemetry of a whole environment around one injected fault.

``simulate(env, scenario, seed)`` returns the topology, every Event (logs,
metrics, alerts, Kubernetes events, changes) sorted by time, and the ground
truth. The window is ``fault.at_min`` minutes of baseline, the onset (with a
seeded jitter), then ``window.after_min`` minutes. Same inputs and seed, same
events, byte for byte.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, Field

from chaos.events import EventData, alert_events, change_events, k8s_events, log_events, metric_events
from chaos.faults import FaultKind, format_facts, get_fault
from chaos.herrings import inject
from chaos.logbuild import LogConfig, build_logs
from chaos.propagation import Golden, propagate, sub_rng
from chaos.scenarios import Scenario, validate_scenario
from chaos.series import build_series
from chaos.spec import EnvironmentSpec, load_environment
from chaos.state import new_state, stable_hash
from chaos.traffic import TrafficModel
from core.errors import InputError
from core.model import Event, EventKind

_KIND_ORDER = {EventKind.CHANGE: 0, EventKind.K8S_EVENT: 1, EventKind.ALERT: 2, EventKind.METRIC: 3, EventKind.LOG: 4}


@dataclass(frozen=True)
class SimConfig:
    """Knobs that change volume, not behaviour. ``step_s`` overrides the scenario's metric step."""

    step_s: float | None = None
    log_scale: float = 1.0
    error_log_sample: float = 0.01
    max_error_lines_per_step: int = 4


class GroundTruth(BaseModel):
    """What really happened in a run, for scoring answers."""

    scenario: str
    environment: str
    seed: int
    question: str
    fault_kind: FaultKind
    root_cause: str = Field(description="service/database/cache/queue name, or node name for node faults")
    root_cause_kind: str = Field(description="Service | Database | Cache | Queue | Node")
    root_cause_id: str = Field(description="graph id in core's scheme, e.g. database:sim/boutique/orders-db")
    onset: datetime
    window_start: datetime
    window_end: datetime
    expected_runbook: str
    expected_facts: list[str]
    expected_alerts: list[str]
    affected: list[str] = Field(
        default_factory=list, description="components whose golden signals moved, earliest first"
    )
    red_herrings: list[str] = Field(default_factory=list)
    details: dict[str, str] = Field(default_factory=dict, description="fault specifics: version, config_key, ...")


@dataclass
class SimulationResult:
    """A simulated run: topology, events sorted by time, ground truth."""

    scenario: Scenario
    seed: int
    env: EnvironmentSpec
    topology: dict[str, Any]
    events: list[Event]
    truth: GroundTruth
    start: datetime
    end: datetime
    step_s: float
    stats: dict[str, Any] = field(default_factory=dict)

    def counts_by_kind(self) -> dict[str, int]:
        c = Counter(e.kind.value for e in self.events)
        return {k.value: c.get(k.value, 0) for k in EventKind if c.get(k.value, 0)}

    def events_of(self, kind: EventKind | str) -> list[Event]:
        k = EventKind(kind)
        return [e for e in self.events if e.kind == k]

    def write(self, out_dir: Path) -> dict[str, Path]:
        """Write topology.yaml, events.jsonl (one Event JSON per line) and truth.json."""
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {
            "topology": out_dir / "topology.yaml",
            "events": out_dir / "events.jsonl",
            "truth": out_dir / "truth.json",
        }
        paths["topology"].write_text(yaml.safe_dump(self.topology, sort_keys=False))
        with paths["events"].open("w") as f:
            for e in self.events:
                f.write(e.model_dump_json())
                f.write("\n")
        paths["truth"].write_text(self.truth.model_dump_json(indent=2) + "\n")
        return paths


def _sort_key(d: EventData) -> tuple[Any, ...]:
    ent = d["entity"]
    attrs = d.get("attributes", {})
    return (
        d["ts"],
        _KIND_ORDER[d["kind"]],
        ent.service or "",
        ent.pod or "",
        ent.node or "",
        str(attrs.get("metric", "")),
        d.get("body", ""),
    )


def _affected(golden: dict[str, Golden], onset_idx: int, root: str, env: EnvironmentSpec) -> list[str]:
    """Components whose errors or latency moved after the onset, ordered by when they moved."""
    firsts: list[tuple[int, str]] = []
    for name, g in golden.items():
        if name == root:
            continue
        spec = env.service(name)
        moved = (g.err_excess > 0.02) | (g.ex99 > 0.5 * spec.latency_ms.p99) | (g.ex99 > 200)
        idx = np.flatnonzero(moved[onset_idx:])
        if len(idx):
            firsts.append((int(idx[0]), name))
    return [n for _, n in sorted(firsts)]


def simulate(
    env: EnvironmentSpec | None,
    scenario: Scenario,
    seed: int | None = None,
    *,
    start: datetime | None = None,
    config: SimConfig | None = None,
) -> SimulationResult:
    """Simulate ``scenario`` in ``env`` (loaded from the scenario's environment name when None).

    ``seed`` defaults to the scenario's; ``start`` (UTC) moves the whole window, e.g. to
    "now minus the window" for a live demo.
    """
    cfg = config or SimConfig()
    env = validate_scenario(scenario, env or load_environment(scenario.environment))
    seed = scenario.seed if seed is None else seed
    if seed < 0:
        raise InputError(f"seed must be >= 0, got {seed}")
    fd = get_fault(scenario.fault.kind)
    target = scenario.fault.target
    step = float(cfg.step_s or scenario.window.step_s)
    t0 = scenario.start if start is None else start
    if t0.tzinfo is None:
        raise InputError("start must be timezone-aware (UTC)")
    t0 = t0.astimezone(UTC)
    # one root seed per (scenario, seed): every random stream derives from it
    root_seed = stable_hash("chaos", scenario.name, seed) & 0xFFFFFFFF
    rng = sub_rng(root_seed, "scenario")
    jitter = float(rng.uniform(-scenario.fault.jitter_s, scenario.fault.jitter_s)) if scenario.fault.jitter_s else 0.0
    onset_s = round(scenario.fault.at_min * 60.0 + jitter)
    duration = onset_s + scenario.window.after_min * 60.0  # rounded up to whole metric steps below

    st = new_state(env, start=t0, step_s=step, duration_s=duration, onset_s=float(onset_s), seed=root_seed)
    st.hop_delay_s = fd.hop_delay_s
    details = fd.apply(st, target, {**fd.param_defaults, **scenario.fault.params})
    st.notes.extend(
        inject(
            st,
            sub_rng(root_seed, "herrings"),
            target,
            benign_deploy_p=scenario.noise.benign_deploy,
            flappy_alert_p=scenario.noise.flappy_alert,
        )
    )

    traffic = TrafficModel(env.traffic, root_seed).multiplier(t0, st.n, step)
    golden = propagate(st, traffic, root_seed)
    store = build_series(st, golden, traffic, root_seed)
    log_cfg = LogConfig(
        scale=cfg.log_scale,
        error_sample=cfg.error_log_sample,
        max_error_lines_per_sample=cfg.max_error_lines_per_step,
        noise_scale=scenario.noise.noise_logs,
    )
    log_items = st.logs + build_logs(st, golden, traffic, root_seed, log_cfg)

    data: list[EventData] = []
    data += metric_events(st, store)
    data += log_events(st, log_items, root_seed)
    data += k8s_events(st, st.k8s)
    data += change_events(st, st.changes)
    data += alert_events(st, store, st.alerts)
    data.sort(key=_sort_key)
    stamp = t0.strftime("%Y%m%dT%H%M%SZ")
    events = [Event(**d, ingest_id=f"chaos/{scenario.name}/{seed}/{stamp}/{i}") for i, d in enumerate(data)]

    onset = t0 + timedelta(seconds=onset_s)
    onset_idx = int(np.searchsorted(st.t, onset_s))
    fired = sorted(
        {
            e.attributes["alertname"]
            for e in events
            if e.kind == EventKind.ALERT and e.ts >= onset and e.attributes["status"] == "firing"
        }
    )
    facts = (
        scenario.truth.expected_facts
        if scenario.truth.expected_facts is not None
        else format_facts(fd, target, details)
    )
    truth = GroundTruth(
        scenario=scenario.name,
        environment=env.name,
        seed=seed,
        question=scenario.question,
        fault_kind=fd.kind,
        root_cause=target,
        root_cause_kind=env.entity_kind(target),
        root_cause_id=env.entity_id(target),
        onset=onset,
        window_start=t0,
        window_end=t0 + timedelta(seconds=st.end_s),
        expected_runbook=scenario.expected_runbook,
        expected_facts=list(facts),
        expected_alerts=[a for a in fd.alerts if a in fired],
        affected=_affected(golden, onset_idx, target, env)
        if env.has_service(target)
        else _affected(golden, onset_idx, "", env),
        red_herrings=st.notes,
        details=details,
    )
    return SimulationResult(
        scenario=scenario,
        seed=seed,
        env=env,
        topology=env.topology(),
        events=events,
        truth=truth,
        start=t0,
        end=truth.window_end,
        step_s=step,
        stats={"samples": st.n, "series": len(store), "alerts_fired": fired},
    )


def dump_truth(truth: GroundTruth) -> str:
    return json.dumps(json.loads(truth.model_dump_json()), indent=2)
