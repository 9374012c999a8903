"""Metric series, Prometheus-style, per component, pod and node.

Golden signals per component (``http_requests_per_second``, ``http_error_ratio``,
``latency_p50_ms``, ``latency_p99_ms``, ``up``), resources per pod
(``cpu_usage_cores``, ``memory_working_set_bytes``,
``container_cpu_cfs_throttled_ratio``, ``kube_pod_container_status_restarts_total``),
node resources (``node_cpu_utilisation``, ``node_memory_utilisation``,
``disk_used_ratio``, ``node_network_packet_loss_ratio``) and kind-specific ones
(``db_connections_in_use``/``db_connections_max``, ``queue_depth``/``queue_consumers``,
``cache_hit_ratio``, ``ssl_certificate_expiry_seconds``, ``dns_lookup_errors_per_second``).

NaN means "no sample": a pod that does not exist, a service whose pods are all
down (no requests, so no ratio or latency), a counter that has not been created
yet. Series whose names start with ``_`` are kube-state facts used by alert
rules and are not emitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from chaos.alerts import RuleInput
from chaos.propagation import Golden, sub_rng
from chaos.state import SimState, stable_hash

_MIB = 1024 * 1024
UNITS = {
    "http_requests_per_second": "req/s",
    "http_error_ratio": "ratio",
    "latency_p50_ms": "ms",
    "latency_p99_ms": "ms",
    "up": "bool",
    "cpu_usage_cores": "cores",
    "memory_working_set_bytes": "bytes",
    "container_cpu_cfs_throttled_ratio": "ratio",
    "kube_pod_container_status_restarts_total": "count",
    "node_cpu_utilisation": "ratio",
    "node_memory_utilisation": "ratio",
    "disk_used_ratio": "ratio",
    "node_network_packet_loss_ratio": "ratio",
    "db_connections_in_use": "connections",
    "db_connections_max": "connections",
    "queue_depth": "messages",
    "queue_consumers": "consumers",
    "cache_hit_ratio": "ratio",
    "ssl_certificate_expiry_seconds": "s",
    "dns_lookup_errors_per_second": "1/s",
}


@dataclass
class Series:
    """One metric series of one entity."""

    scope: str  # component | pod | node
    entity: str
    metric: str
    values: np.ndarray
    component: str | None = None
    pod: str | None = None
    node: str | None = None

    @property
    def hidden(self) -> bool:
        return self.metric.startswith("_")

    @property
    def unit(self) -> str:
        return UNITS.get(self.metric, "")


class SeriesStore:
    """All series of a run, addressable by (scope, entity, metric)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, str], Series] = {}

    def add(self, s: Series) -> None:
        self._by_key[(s.scope, s.entity, s.metric)] = s

    def get(self, scope: str, entity: str, metric: str) -> np.ndarray | None:
        s = self._by_key.get((scope, entity, metric))
        return None if s is None else s.values

    def __iter__(self) -> Iterator[Series]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def entities(self, scope: str) -> list[str]:
        return sorted({k[1] for k in self._by_key if k[0] == scope})

    def rule_input(self, scope: str, entity: str, kind: str, facts: dict[str, float]) -> RuleInput:
        series = {k[2]: s.values for k, s in self._by_key.items() if k[0] == scope and k[1] == entity}
        return RuleInput(entity, kind, series, facts)


def _first_nonzero_onwards(x: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """A counter-derived series exists only from its first increment (client libraries create it lazily)."""
    idx = np.flatnonzero(x > eps)
    out = np.full(len(x), np.nan)
    if len(idx):
        out[idx[0] :] = x[idx[0] :]
    return out


def build_series(st: SimState, golden: dict[str, Golden], traffic: np.ndarray, seed: int) -> SeriesStore:
    """Every metric series of the run."""
    env = st.env
    store = SeriesStore()
    n, t = st.n, st.t
    pod_cpu: dict[str, np.ndarray] = {}
    pod_mem: dict[str, np.ndarray] = {}
    dns_errors: dict[str, np.ndarray] = {}

    for svc in env.services:
        name = svc.name
        c, g = st.components[name], golden[name]
        r = sub_rng(seed, "series", name)
        down = c.down if c.down is not None else np.zeros(n, dtype=bool)
        no_traffic = down | (g.rps < 0.05)
        rps = np.where(down, 0.0, g.rps)
        comp = {"component": name}
        store.add(Series("component", name, "http_requests_per_second", np.round(rps, 3), **comp))
        store.add(
            Series("component", name, "http_error_ratio", np.where(no_traffic, np.nan, np.round(g.err, 5)), **comp)
        )
        store.add(Series("component", name, "latency_p50_ms", np.where(no_traffic, np.nan, np.round(g.p50, 2)), **comp))
        store.add(Series("component", name, "latency_p99_ms", np.where(no_traffic, np.nan, np.round(g.p99, 2)), **comp))
        store.add(Series("component", name, "up", g.up, **comp))

        load = (traffic * c.traffic * (1.0 - c.unreach)) if not svc.stateful else traffic * c.traffic
        if svc.db is not None:
            base = svc.db.baseline_connections * (0.75 + 0.25 * traffic) * np.exp(r.normal(0, 0.04, n))
            lift = c.kind_series.get("db_connections_target")
            used = base if lift is None else base + (svc.db.max_connections - base) * lift
            used = np.minimum(np.round(used), svc.db.max_connections)
            store.add(Series("component", name, "db_connections_in_use", np.where(down, np.nan, used), **comp))
            store.add(
                Series(
                    "component",
                    name,
                    "db_connections_max",
                    np.where(down, np.nan, float(svc.db.max_connections)),
                    **comp,
                )
            )
        if svc.queue is not None:
            depth = svc.queue.baseline_depth * r.gamma(6.0, 1 / 6.0, n) * traffic
            depth = np.round(depth + c.kind_series.get("queue_backlog", np.zeros(n)))
            consumers = sum(env.service(x).replicas for x in svc.queue.consumers) * np.ones(n)
            store.add(Series("component", name, "queue_depth", np.where(down, np.nan, depth), **comp))
            store.add(Series("component", name, "queue_consumers", np.where(down, np.nan, consumers), **comp))
        if svc.cache is not None:
            hit = np.clip(svc.cache.hit_ratio + r.normal(0, 0.006, n), 0, 1)
            store.add(Series("component", name, "cache_hit_ratio", np.where(down, np.nan, np.round(hit, 4)), **comp))
        if svc.kind == "Service":
            expiry = c.kind_series.get("ssl_certificate_expiry_seconds")
            if expiry is None:
                expiry = (20 + stable_hash(env.name, name, "cert") % 70) * 86400.0 - t
            sparse = np.where(np.arange(n) % 2 == 0, np.round(expiry), np.nan)  # the exporter probes every minute
            store.add(Series("component", name, "ssl_certificate_expiry_seconds", sparse, **comp))
        for dep in svc.depends_on:
            dc = st.components[dep.name]
            if dc.dns_failing_host:
                unreach = g.dep_fail[dep.name][1] / dep.weight
                rate = unreach * g.rps * dep.weight
                dns_errors[name] = dns_errors.get(name, np.zeros(n)) + rate

        # ---- pods
        res = svc.resources
        limit_b = res.memory_limit_mib * _MIB
        for k, pod in enumerate(c.pods):
            pr = sub_rng(seed, "pod", pod.name)
            alive = pod.alive(t)
            not_ready = c.not_ready.get(pod.name, np.zeros(n, dtype=bool))
            crashloop = c.crashloop.get(pod.name, np.zeros(n, dtype=bool))
            cpu = res.cpu_base * (0.3 + 0.7 * load) * np.exp(pr.normal(0, 0.06, n))
            cpu = np.maximum(cpu, c.cpu_floor * res.cpu_limit * np.exp(pr.normal(0, 0.01, n)))
            cpu = np.where(crashloop | (c.down if c.down is not None else False), res.cpu_base * 0.05, cpu)
            cpu = np.minimum(cpu, res.cpu_limit * 0.995)
            throttle = 0.012 * np.exp(pr.normal(0, 0.3, n)) + np.clip((cpu / res.cpu_limit - 0.8) / 0.2, 0, 1) * 0.3
            throttle = np.clip(throttle + c.throttle, 0, 0.99)
            walk = np.cumsum(pr.normal(0, 0.002, n))
            walk -= np.linspace(0, walk[-1], n) * 0.5  # keep the drift bounded
            mem = res.memory_base_mib * _MIB * (1 + 0.02 * (load - 1) + walk) + c.mem_add.get(pod.name, 0.0)
            mem = np.where(crashloop, res.memory_base_mib * _MIB * 0.3, mem)
            mem = np.minimum(mem, limit_b * 0.999)
            restarts0 = float(stable_hash(env.name, pod.name, "restarts") % 3 == 0)
            instants = np.array(sorted(c.restarts.get(pod.name, [])))
            restarts = restarts0 + np.searchsorted(instants, t, side="right")
            oom_recent = np.zeros(n)
            for o in c.oom.get(pod.name, []):
                oom_recent = np.maximum(oom_recent, ((t >= o) & (t < o + 600)).astype(float))
            nan = np.where(alive, 1.0, np.nan)
            pod_cpu[pod.name] = np.where(alive, cpu, 0.0)
            pod_mem[pod.name] = np.where(alive, mem, 0.0)
            kw = {"component": name, "pod": pod.name, "node": pod.node}
            store.add(Series("pod", pod.name, "cpu_usage_cores", np.round(cpu * nan, 4), **kw))
            store.add(Series("pod", pod.name, "memory_working_set_bytes", np.round(mem * nan), **kw))
            store.add(Series("pod", pod.name, "container_cpu_cfs_throttled_ratio", np.round(throttle * nan, 4), **kw))
            store.add(Series("pod", pod.name, "kube_pod_container_status_restarts_total", restarts * nan, **kw))
            store.add(Series("pod", pod.name, "_not_ready", not_ready * nan, **kw))
            store.add(Series("pod", pod.name, "_crashloop", crashloop * nan, **kw))
            store.add(Series("pod", pod.name, "_oom_recent", oom_recent * nan, **kw))
            _ = k

    for name, rate in dns_errors.items():
        store.add(
            Series(
                "component",
                name,
                "dns_lookup_errors_per_second",
                np.round(_first_nonzero_onwards(rate), 3),
                component=name,
            )
        )

    for nd in env.nodes:
        ns = st.nodes[nd.name]
        r = sub_rng(seed, "node", nd.name)
        on = [p for p in st.pods_on(nd.name)]
        cpu_sum = sum((pod_cpu[p.name] for p in on), np.zeros(n))
        mem_sum = sum((pod_mem[p.name] for p in on), np.zeros(n))
        util = np.clip(cpu_sum / nd.cpu_cores + 0.06 + ns.cpu_add + r.normal(0, 0.008, n), 0.01, 0.995)
        mem_util = np.clip(mem_sum / nd.memory_bytes + 0.18 + r.normal(0, 0.002, n), 0.01, 0.999)
        disk = np.clip(ns.disk + t / 3600 * 0.0005 + r.normal(0, 0.0004, n), 0, 0.999)
        loss = np.clip(np.abs(r.normal(0, 0.00008, n)) + ns.net_loss, 0, 1)
        kw = {"node": nd.name}
        store.add(Series("node", nd.name, "node_cpu_utilisation", np.round(util, 4), **kw))
        store.add(Series("node", nd.name, "node_memory_utilisation", np.round(mem_util, 4), **kw))
        store.add(Series("node", nd.name, "disk_used_ratio", np.round(disk, 4), **kw))
        store.add(Series("node", nd.name, "node_network_packet_loss_ratio", np.round(loss, 5), **kw))
        store.add(Series("node", nd.name, "_disk_pressure", ns.disk_pressure.astype(float), **kw))
    return store
