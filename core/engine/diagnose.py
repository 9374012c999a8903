"""What kind of fault a ranked candidate shows, from the families of its signals.

This names the failure mode for the answer ("connection pool exhausted", "crash loop after a
config change") and picks generic next steps and the runbook search query. It reads only the
evidence (metric families, Kubernetes reasons, changes, what callers' errors say); it never
affects the ranking except through the historical prior (past incidents of the same kind).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.engine.rank import ONSET_Z, Candidate
from core.engine.signals import Signal


@dataclass(frozen=True)
class Diagnosis:
    """A fault kind (a stable slug) and how to say it."""

    kind: str
    label: str


_CALLER_HINTS: tuple[tuple[re.Pattern[str], Diagnosis], ...] = (
    (
        re.compile(r"no such host|nxdomain|name resolution|lookup .* on", re.I),
        Diagnosis("dns_failure", "its DNS name stopped resolving"),
    ),
    (
        re.compile(r"x509|certificate|tls handshake|ssl", re.I),
        Diagnosis("cert_expired", "its TLS certificate is rejected (expired)"),
    ),
    (
        re.compile(r"connection refused|no route to host|unreachable", re.I),
        Diagnosis("dependency_down", "it is down (connections refused)"),
    ),
)


def _families(signals: Iterable[Signal]) -> set[str]:
    return {s.family for s in signals if s.source == "metric" and s.z >= ONSET_Z}


def _down(signals: Iterable[Signal], family: str) -> bool:
    return any(
        s.source == "metric" and s.family == family and s.z >= ONSET_Z and s.detail and "fell" in s.detail
        for s in signals
    )


def diagnose(
    c: Candidate, *, kind: str, caller_texts: Iterable[str] = (), change_types: Iterable[str] = ()
) -> Diagnosis:
    """The failure mode of candidate `c` (an entity of graph label `kind`)."""
    fams = _families(c.signals)
    reasons = {s.detail for s in c.signals if s.source == "k8s"}
    changes = set(change_types)
    if kind == "Node":
        if "disk" in fams:
            return Diagnosis("disk_full", "its disk is filling up")
        if "network" in fams:
            return Diagnosis("packet_loss", "its network is dropping packets")
        if "cpu" in fams:
            return Diagnosis("noisy_neighbour", "its CPU is saturated, starving the workloads on it")
        if "memory" in fams:
            return Diagnosis("node_memory_pressure", "it is under memory pressure")
        return Diagnosis("node_problem", "the workloads on it degraded together")
    if "OOMKilled" in reasons or ({"memory", "restarts"} <= fams):
        return Diagnosis("memory_leak", "its memory grows until the container is OOM-killed")
    if "restarts" in fams or "BackOff" in reasons:
        if changes & {"config", "configmap"}:
            return Diagnosis("crash_loop", "it is crash-looping after a config change")
        return Diagnosis("crash_loop", "it is crash-looping")
    if "connections" in fams:
        return Diagnosis("db_pool_exhaustion", "its connection pool is exhausted")
    if "queue" in fams:
        return Diagnosis("queue_backlog", "its queue is backing up")
    if "expiry" in fams:
        return Diagnosis("cert_expired", "its TLS certificate expired")
    text = " ".join(caller_texts)
    for rx, d in _CALLER_HINTS:
        if rx.search(text):
            return d
    if "availability" in fams or "FailedMount" in reasons:
        return Diagnosis("dependency_down", "it is down")
    if "errors" in fams and changes & {"deploy", "rollout", "release"}:
        return Diagnosis("bad_deploy", "its error rate jumped right after a deploy")
    if "errors" in fams:
        return Diagnosis("error_spike", "its error rate spiked")
    if "cpu" in fams or "throttle" in fams:
        return Diagnosis("cpu_hog", "its CPU is pinned at the limit (throttled)")
    if "latency" in fams:
        return Diagnosis("latency", "its responses slowed down")
    if "throughput" in fams:
        return Diagnosis("traffic_drop", "traffic to it dropped (callers cannot reach it)")
    if "memory" in fams:
        return Diagnosis("memory_leak", "its memory is growing")
    if any(s.source == "log" for s in c.signals):
        return Diagnosis("errors_in_logs", "it started logging errors")
    return Diagnosis("anomaly", "it left its normal behaviour")


#: Generic first steps per fault kind, used when no runbook has a Mitigation section (and after it).
GENERIC_STEPS: dict[str, tuple[str, ...]] = {
    "disk_full": (
        "Free space on {name}: remove old images/logs, or expand the volume",
        "Find what is writing: `du -xh / | sort -h | tail`",
    ),
    "packet_loss": (
        "Check {name}'s NIC and link errors (`ip -s link`, `ethtool -S`)",
        "Cordon and drain {name} if loss persists",
    ),
    "noisy_neighbour": (
        "Find the pod eating {name}'s CPU (`kubectl top pods -A --sort-by=cpu`)",
        "Move or limit the batch job; cordon {name} if needed",
    ),
    "node_memory_pressure": ("Check memory pressure and evictions on {name}",),
    "node_problem": ("Check {name}'s conditions (`kubectl describe node {name}`)",),
    "memory_leak": (
        "Restart {name} to buy time, then raise its memory limit",
        "Roll back the change that introduced the leak; take a heap profile",
    ),
    "crash_loop": (
        "Read the crashing container's last logs (`kubectl logs --previous`)",
        "Revert the recent config change of {name}",
    ),
    "db_pool_exhaustion": (
        "Find and terminate the queries holding {name}'s connections",
        "Restart leaking clients; set statement timeouts",
    ),
    "queue_backlog": ("Check {name}'s consumers (count, errors, acks)", "Scale consumers or purge poison messages"),
    "cert_expired": ("Renew {name}'s TLS certificate and reload it", "Check cert-manager / issuer status"),
    "dns_failure": (
        "Check the Service object and CoreDNS for {name}",
        "Test resolution from a caller pod: `nslookup {name}`",
    ),
    "dependency_down": (
        "Check why {name} is down (`kubectl describe`, events, volumes)",
        "Restore {name} or fail callers over",
    ),
    "bad_deploy": (
        "Roll back {name} to the previous version",
        "Compare the new version's errors with the release diff",
    ),
    "error_spike": ("Read {name}'s new error logs and stack traces", "Roll back or disable the failing code path"),
    "cpu_hog": ("Find the hot code path in {name} (CPU profile)", "Scale {name} out or raise its CPU limit meanwhile"),
    "latency": ("Trace slow requests through {name} and its dependencies",),
    "traffic_drop": ("Check whether callers can reach {name} (DNS, TLS, network policy)",),
    "errors_in_logs": ("Read {name}'s new error logs",),
    "anomaly": ("Look at {name}'s dashboards around the onset",),
}


#: Which signal families show a fault kind best: the "key evidence" an answer leads with.
KEY_FAMILIES: dict[str, tuple[str, ...]] = {
    "disk_full": ("disk",),
    "packet_loss": ("network",),
    "noisy_neighbour": ("cpu",),
    "node_memory_pressure": ("memory",),
    "memory_leak": ("memory", "restarts"),
    "crash_loop": ("restarts", "availability"),
    "db_pool_exhaustion": ("connections",),
    "queue_backlog": ("queue",),
    "cert_expired": ("expiry", "throughput"),
    "dns_failure": ("throughput", "availability"),
    "dependency_down": ("availability", "throughput"),
    "traffic_drop": ("throughput",),
    "bad_deploy": ("errors",),
    "error_spike": ("errors",),
    "cpu_hog": ("cpu", "throttle"),
    "latency": ("latency",),
}


def lead_signal(c: Candidate, d: Diagnosis | None) -> Signal | None:
    """The signal an answer should lead with: the strongest of the fault's key families, else the strongest."""
    ranked = sorted(c.signals, key=lambda s: (-s.z, s.source, s.evidence_id))
    if not ranked:
        return None
    families = KEY_FAMILIES.get(d.kind, ()) if d else ()
    for fam in families:
        for s in ranked:
            if s.source == "metric" and s.family == fam:
                return s
    return ranked[0]


def generic_steps(kind: str, name: str) -> list[str]:
    return [s.format(name=name) for s in GENERIC_STEPS.get(kind, GENERIC_STEPS["anomaly"])]
