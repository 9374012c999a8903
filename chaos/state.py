"""Mutable simulation state: per-component and per-node time series a fault edits.

The simulator builds a neutral :class:`SimState` (every series at its healthy
value), the fault and the red herrings edit it (a component's *own* latency,
errors, reachability, resource pressure; pods restarting; log bursts, Kubernetes
events and changes at given instants), then the simulator propagates the own
effects along the dependency graph and turns everything into Events.

Times are seconds from the start of the window; arrays have one value per
metric step.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from chaos.spec import EnvironmentSpec, ServiceSpec

INF = math.inf


def stable_hash(*parts: object) -> int:
    """A 64-bit hash stable across processes (Python's hash() is salted)."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big")


def stable_token(alphabet: str, length: int, *parts: object) -> str:
    """A deterministic pseudo-random token, e.g. a ReplicaSet hash in a pod name."""
    h = stable_hash(*parts)
    out = []
    for _ in range(length):
        h, r = divmod(h, len(alphabet))
        out.append(alphabet[r])
        if h == 0:
            h = stable_hash(h, *parts, len(out))
    return "".join(out)


_K8S_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names


@dataclass
class Pod:
    """One pod of a component, alive in [start_s, end_s)."""

    name: str
    service: str
    node: str
    ip: str
    version: str
    start_s: float = -INF
    end_s: float = INF

    def alive(self, t: np.ndarray) -> np.ndarray:
        return (t >= self.start_s) & (t < self.end_s)


@dataclass
class LogItem:
    """A log line to emit: template filled at render time."""

    t_s: float
    component: str
    level: str
    template: str
    context: dict[str, str] = field(default_factory=dict)
    pod: str | None = None
    namespace: str | None = None  # a workload outside the environment's namespace (e.g. a batch job)
    node: str | None = None
    fmt: str | None = None  # override the component's log format


@dataclass
class K8sItem:
    """A Kubernetes event."""

    t_s: float
    reason: str
    type: str  # Normal | Warning
    message: str
    object: str  # e.g. "Pod/checkout-5d8f7c9b6-abcde"
    component: str | None = None
    pod: str | None = None
    node: str | None = None
    namespace: str | None = None
    source: str = "kubelet"
    count: int = 1


@dataclass
class ChangeItem:
    """A deploy, config or scale change."""

    t_s: float
    component: str
    change_type: str  # deploy | config | scale
    version: str
    previous_version: str
    author: str
    description: str


@dataclass
class ScriptedAlert:
    """An alert that is not derived from simulated metrics (e.g. flappy noise, long-running alerts)."""

    t_s: float
    alertname: str
    status: str  # firing | resolved
    severity: str
    labels: dict[str, str]
    summary: str
    description: str
    runbook_url: str
    starts_s: float


@dataclass
class ComponentState:
    """Own (not propagated) state of one component, one value per step."""

    spec: ServiceSpec
    pods: list[Pod]
    lat_mult: np.ndarray
    lat_add: np.ndarray  # ms added to p50 (p99 gets more)
    err: np.ndarray  # own error ratio added
    unreach: np.ndarray  # share of callers' calls that never reach it
    traffic: np.ndarray  # factor on requests it serves
    cpu_floor: np.ndarray  # cores are pinned at least at this fraction of the limit
    throttle: np.ndarray  # added CPU throttling ratio
    kind_series: dict[str, np.ndarray] = field(default_factory=dict)
    mem_add: dict[str, np.ndarray] = field(default_factory=dict)  # bytes per pod
    restarts: dict[str, list[float]] = field(default_factory=dict)  # restart instants per pod
    not_ready: dict[str, np.ndarray] = field(default_factory=dict)  # bool per pod
    crashloop: dict[str, np.ndarray] = field(default_factory=dict)  # bool per pod (waiting: CrashLoopBackOff)
    oom: dict[str, list[float]] = field(default_factory=dict)  # OOM-kill instants per pod
    down: np.ndarray | None = None  # bool: no pod serving (scrape fails, no golden signals)
    error_templates: list[tuple[str, str]] = field(default_factory=list)  # (level, template) for own errors
    error_context: dict[str, str] = field(default_factory=dict)
    fail_unreach: str = "dial tcp {dep_ip}:{dep_port}: connect: connection refused"
    fail_error: str = "{dep} responded 503 Service Unavailable"
    fail_timeout: str = "context deadline exceeded after {timeout_ms}ms"
    dns_failing_host: str | None = None  # callers' lookups of this name fail

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class NodeState:
    """Own state of one node."""

    name: str
    cpu_add: np.ndarray  # utilisation added by something outside the environment
    disk: np.ndarray  # used ratio of the root filesystem
    net_loss: np.ndarray  # packet loss ratio
    disk_pressure: np.ndarray  # bool


@dataclass
class SimState:
    """Everything a fault may edit. Build with :func:`new_state`."""

    env: EnvironmentSpec
    start: datetime
    step_s: float
    t: np.ndarray  # seconds from window start, per step
    onset_s: float
    rng: np.random.Generator
    components: dict[str, ComponentState]
    nodes: dict[str, NodeState]
    logs: list[LogItem] = field(default_factory=list)
    k8s: list[K8sItem] = field(default_factory=list)
    changes: list[ChangeItem] = field(default_factory=list)
    alerts: list[ScriptedAlert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # red herrings injected, for the ground truth
    hop_delay_s: float = 20.0

    @property
    def n(self) -> int:
        return len(self.t)

    @property
    def end_s(self) -> float:
        return float(self.t[-1] + self.step_s)

    def at(self, t_s: float) -> datetime:
        return self.start + timedelta(seconds=t_s)

    def ramp(self, delay_s: float = 0.0, ramp_s: float = 0.0, *, origin_s: float | None = None) -> np.ndarray:
        """Intensity 0→1 starting ``delay_s`` after the onset (or ``origin_s``), linear over ``ramp_s``.

        A sample at time t describes the state at t, so no sample before the start moves.
        """
        t0 = (self.onset_s if origin_s is None else origin_s) + delay_s
        rel = self.t - t0
        if ramp_s <= 0:
            return (rel >= 0).astype(float)
        return np.clip(rel / ramp_s, 0.0, 1.0)

    def window(self, a_s: float, b_s: float) -> np.ndarray:
        """Bool per sample: the interval the sample summarises, (t - step, t], overlaps [a_s, b_s)."""
        return (self.t >= a_s) & (self.t - self.step_s < b_s)

    def burst(
        self,
        component: str,
        template: str,
        *,
        level: str,
        start_s: float,
        end_s: float | None = None,
        per_min: float,
        context: dict[str, str] | None = None,
        pod: str | None = None,
        first_at_start: bool = True,
    ) -> int:
        """Log lines at a Poisson rate of ``per_min`` over [start_s, end_s). Returns how many.

        With ``first_at_start`` the first line is exactly at ``start_s``: the symptom shows in the
        logs as soon as it starts, not whenever the dice say.
        """
        end = self.end_s if end_s is None else min(end_s, self.end_s)
        if end <= start_s or per_min <= 0:
            return 0
        n = int(self.rng.poisson(per_min * (end - start_s) / 60.0))
        times = np.sort(self.rng.uniform(start_s, end, n))
        if first_at_start:
            times = np.concatenate([[start_s], times])
        comp = self.components[component]
        for ts in times:
            p = pod or self.pick_pod(comp, float(ts))
            self.logs.append(LogItem(float(ts), component, level, template, dict(context or {}), pod=p))
        return len(times)

    def log(self, t_s: float, component: str, level: str, template: str, **kw: object) -> None:
        """One log line at ``t_s``."""
        comp = self.components[component]
        pod = kw.pop("pod", None) or self.pick_pod(comp, t_s)
        ctx = {k: str(v) for k, v in kw.items()}
        self.logs.append(LogItem(t_s, component, level, template, ctx, pod=str(pod) if pod else None))

    def pick_pod(self, comp: ComponentState, t_s: float) -> str | None:
        alive = [p for p in comp.pods if p.start_s <= t_s < p.end_s]
        pool = alive or comp.pods
        return pool[int(self.rng.integers(len(pool)))].name if pool else None

    def pods_on(self, node: str) -> list[Pod]:
        return [p for c in self.components.values() for p in c.pods if p.node == node]

    def pod_index(self, pod: Pod) -> int:
        return next(i for i, p in enumerate(self.components[pod.service].pods) if p.name == pod.name)


def pod_name(env: EnvironmentSpec, svc: ServiceSpec, index: int, version: str) -> str:
    """Deployment pods: ``<name>-<rs hash>-<5>``; StatefulSet pods: ``<name>-<index>``."""
    if svc.stateful:
        return f"{svc.name}-{index}"
    rs = stable_token(_K8S_ALNUM, 10, env.name, svc.name, version, "rs")
    return f"{svc.name}-{rs}-{stable_token(_K8S_ALNUM, 5, env.name, svc.name, version, index)}"


def replicaset_name(env: EnvironmentSpec, svc: ServiceSpec, version: str) -> str:
    return f"{svc.name}-{stable_token(_K8S_ALNUM, 10, env.name, svc.name, version, 'rs')}"


def pod_ip(env: EnvironmentSpec, node: str, name: str) -> str:
    node_idx = [n.name for n in env.nodes].index(node) + 1
    h = stable_hash(env.name, name, "ip")
    return f"10.{node_idx}.{(h >> 8) % 250 + 1}.{h % 250 + 2}"


def cluster_ip(env: EnvironmentSpec, name: str) -> str:
    """A stable ClusterIP for a component's Service, in the usual 10.96.0.0/12 range."""
    h = stable_hash(env.name, name, "clusterip")
    return f"10.96.{(h >> 8) % 250 + 1}.{h % 250 + 2}"


def new_state(
    env: EnvironmentSpec, *, start: datetime, step_s: float, duration_s: float, onset_s: float, seed: int
) -> SimState:
    """A healthy state: every own-effect series neutral, every pod alive for the whole window."""
    n = math.ceil(duration_s / step_s)
    t = np.arange(n, dtype=float) * step_s
    comps: dict[str, ComponentState] = {}
    for svc in env.services:
        pods: list[Pod] = []
        for i in range(svc.replicas):
            node = svc.runs_on[i % len(svc.runs_on)]
            name = pod_name(env, svc, i, svc.version)
            pods.append(Pod(name, svc.name, node, pod_ip(env, node, name), svc.version))
        comps[svc.name] = ComponentState(
            spec=svc,
            pods=pods,
            lat_mult=np.ones(n),
            lat_add=np.zeros(n),
            err=np.zeros(n),
            unreach=np.zeros(n),
            traffic=np.ones(n),
            cpu_floor=np.zeros(n),
            throttle=np.zeros(n),
        )
    nodes = {
        nd.name: NodeState(nd.name, np.zeros(n), np.full(n, nd.disk_used_ratio), np.zeros(n), np.zeros(n, dtype=bool))
        for nd in env.nodes
    }
    rng = np.random.default_rng([seed, 0xFA17])
    return SimState(env, start, step_s, t, onset_s, rng, comps, nodes)
