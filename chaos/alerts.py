"""Alerting rules evaluated over the simulated metric series, Alertmanager-style.

Each :class:`AlertRule` mirrors a real rule where one exists (kubernetes-mixin,
node-exporter mixin) and keeps its name, severity and runbook URL; the
service-level ones (HighErrorRate, DBConnectionPoolExhausted, ...) are ours and
point at the runbooks in ``chaos/runbooks/``. A rule fires after its condition
has held for ``for_s`` and resolves when it stops holding; each transition is a
notification like the Alertmanager webhook sends.
"""

from __future__ import annotations

import hashlib
import math
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

#: Runbooks for the service-level alerts, one ``<AlertName>.md`` each (Meaning / Impact / Diagnosis / Mitigation).
RUNBOOK_DIR = Path(__file__).resolve().parent / "runbooks"
PROM_OPERATOR_RUNBOOKS = "https://runbooks.prometheus-operator.dev/runbooks/"
#: Runbooks for our own service-level alerts; the last path segment is the alert name (chaos/runbooks/<name>.md).
SHERLOG_RUNBOOKS = "https://runbooks.sherlog.local/"
GENERATOR = "http://prometheus.monitoring.svc:9090/graph?g0.expr="

Scope = Literal["component", "pod", "node"]


@dataclass(frozen=True)
class RuleInput:
    """What a rule sees for one entity: its series by metric name (NaN = no sample) and static facts."""

    entity: str
    kind: str  # Service | Database | Cache | Queue | Pod | Node
    series: Mapping[str, np.ndarray]
    facts: Mapping[str, float]

    def get(self, metric: str) -> np.ndarray | None:
        return self.series.get(metric)


Condition = Callable[[RuleInput], tuple[np.ndarray, np.ndarray] | None]


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule. ``condition`` returns (holds per step, value per step) or None if not applicable."""

    alertname: str
    severity: Literal["critical", "warning", "info"]
    for_s: float
    scope: Scope
    expr: str
    summary: str
    description: str  # {entity} {value} {namespace} {service} {pod} {node}
    runbook_url: str
    condition: Condition
    value_format: Literal["pct", "ms", "num", "duration"] = "num"


def _gt(metric: str, threshold: float | str) -> Condition:
    def cond(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
        v = inp.get(metric)
        if v is None:
            return None
        thr = inp.facts[threshold] if isinstance(threshold, str) else threshold
        return np.nan_to_num(v, nan=-math.inf) > thr, v

    return cond


def _error_rate(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
    err, rps = inp.get("http_error_ratio"), inp.get("http_requests_per_second")
    if err is None or rps is None:
        return None
    return (np.nan_to_num(err, nan=0) > 0.05) & (np.nan_to_num(rps, nan=0) > 0.2), err


def _mem_near_limit(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
    mem = inp.get("memory_working_set_bytes")
    if mem is None:
        return None
    ratio = mem / inp.facts["memory_limit_bytes"]
    return np.nan_to_num(ratio, nan=0) > 0.9, ratio


def _pool(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
    used, mx = inp.get("db_connections_in_use"), inp.get("db_connections_max")
    if used is None or mx is None:
        return None
    ratio = used / mx
    return np.nan_to_num(ratio, nan=0) > 0.95, ratio


def _backlog(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
    d = inp.get("queue_depth")
    if d is None:
        return None
    grow = np.concatenate([[0.0], np.diff(np.nan_to_num(d, nan=0))])
    return (np.nan_to_num(d, nan=0) > 500) & (grow >= 0), d


def _up_zero(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
    up = inp.get("up")
    if up is None:
        return None
    return np.nan_to_num(up, nan=1) < 0.5, up


def _hidden(flag: str) -> Condition:
    def cond(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
        v = inp.get(flag)
        if v is None:
            return None
        return np.nan_to_num(v, nan=0) > 0.5, v

    return cond


def _cert_soon(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
    v = inp.get("ssl_certificate_expiry_seconds")
    if v is None:
        return None
    filled = _ffill(v)
    return filled < 7 * 86400, filled


def _cert_expired(inp: RuleInput) -> tuple[np.ndarray, np.ndarray] | None:
    v = inp.get("ssl_certificate_expiry_seconds")
    if v is None:
        return None
    filled = _ffill(v)
    return filled <= 0, filled


def _ffill(v: np.ndarray) -> np.ndarray:
    """Forward-fill NaNs (sparse series keep their last value between samples, like PromQL's lookback)."""
    out = v.copy()
    last = math.inf
    for i, x in enumerate(out):
        if np.isnan(x):
            out[i] = last
        else:
            last = x
    return out


def _k8s(name: str, group: str = "kubernetes") -> str:
    return f"{PROM_OPERATOR_RUNBOOKS}{group}/{name.lower()}"


RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "HighErrorRate",
        "critical",
        120,
        "component",
        'sum by (service) (rate(http_requests_total{code=~"5.."}[2m])) / sum by (service) '
        "(rate(http_requests_total[2m])) > 0.05",
        "Service {entity} is failing more than 5% of requests.",
        "{value} of requests to {namespace}/{entity} failed over the last 2 minutes.",
        SHERLOG_RUNBOOKS + "HighErrorRate",
        _error_rate,
        "pct",
    ),
    AlertRule(
        "HighLatencyP99",
        "warning",
        300,
        "component",
        "histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m]))) > slo",
        "Service {entity} p99 latency is above its objective.",
        "p99 latency of {namespace}/{entity} is {value} (objective {threshold}).",
        SHERLOG_RUNBOOKS + "HighLatencyP99",
        _gt("latency_p99_ms", "p99_threshold_ms"),
        "ms",
    ),
    AlertRule(
        "TargetDown",
        "warning",
        600,
        "component",
        'up{job="boutique"} == 0',
        "One or more targets are unreachable.",
        "100% of the {entity} targets in {namespace} namespace are down.",
        _k8s("TargetDown", "general"),
        _up_zero,
    ),
    AlertRule(
        "DBConnectionPoolExhausted",
        "critical",
        120,
        "component",
        "pg_stat_activity_count / pg_settings_max_connections > 0.95",
        "Database {entity} connection pool is exhausted.",
        "{entity} is using {value} of max_connections; the connection pool is exhausted, new connections are refused.",
        SHERLOG_RUNBOOKS + "DBConnectionPoolExhausted",
        _pool,
        "pct",
    ),
    AlertRule(
        "QueueBacklogGrowing",
        "warning",
        300,
        "component",
        "rabbitmq_queue_messages_ready > 500 and deriv(rabbitmq_queue_messages_ready[10m]) >= 0",
        "Queue {entity} backlog is growing.",
        "{entity} holds {value} ready messages and is not draining.",
        SHERLOG_RUNBOOKS + "QueueBacklogGrowing",
        _backlog,
    ),
    AlertRule(
        "CertificateExpiringSoon",
        "warning",
        0,
        "component",
        "ssl_certificate_expiry_seconds < 7 * 86400",
        "Certificate of {entity} expires in less than 7 days.",
        "The serving certificate of {namespace}/{entity} expires in {value}.",
        SHERLOG_RUNBOOKS + "CertificateExpiringSoon",
        _cert_soon,
        "duration",
    ),
    AlertRule(
        "CertificateExpired",
        "critical",
        60,
        "component",
        "ssl_certificate_expiry_seconds <= 0",
        "Certificate of {entity} has expired.",
        "The serving certificate of {namespace}/{entity} expired; TLS clients reject it.",
        SHERLOG_RUNBOOKS + "CertificateExpired",
        _cert_expired,
        "duration",
    ),
    AlertRule(
        "DNSLookupFailures",
        "warning",
        120,
        "component",
        "sum by (service) (rate(dns_lookup_errors_total[2m])) > 1",
        "Service {entity} cannot resolve a dependency's name.",
        "{entity} fails {value} DNS lookups per second.",
        SHERLOG_RUNBOOKS + "DNSLookupFailures",
        _gt("dns_lookup_errors_per_second", 1.0),
    ),
    AlertRule(
        "CPUThrottlingHigh",
        "info",
        900,
        "pod",
        "increase(container_cpu_cfs_throttled_periods_total[5m]) / "
        "increase(container_cpu_cfs_periods_total[5m]) > 0.25",
        "Processes experience elevated CPU throttling.",
        "{value} throttling of CPU in namespace {namespace} for container {service} in pod {entity}.",
        _k8s("CPUThrottlingHigh"),
        _gt("container_cpu_cfs_throttled_ratio", 0.25),
        "pct",
    ),
    AlertRule(
        "ContainerMemoryNearLimit",
        "warning",
        60,
        "pod",
        "container_memory_working_set_bytes / container_spec_memory_limit_bytes > 0.9",
        "Container is close to its memory limit.",
        "Container {service} in pod {entity} uses {value} of its memory limit.",
        SHERLOG_RUNBOOKS + "ContainerMemoryNearLimit",
        _mem_near_limit,
        "pct",
    ),
    AlertRule(
        "ContainerOOMKilled",
        "warning",
        0,
        "pod",
        "increase(kube_pod_container_status_restarts_total[10m]) > 0 and "
        'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1',
        "Container was OOM-killed.",
        "Container {service} in pod {namespace}/{entity} was killed for exceeding its memory limit.",
        SHERLOG_RUNBOOKS + "ContainerOOMKilled",
        _hidden("_oom_recent"),
    ),
    AlertRule(
        "KubePodCrashLooping",
        "warning",
        900,
        "pod",
        'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1',
        "Pod is crash looping.",
        'Pod {namespace}/{entity} ({service}) is in waiting state (reason: "CrashLoopBackOff").',
        _k8s("KubePodCrashLooping"),
        _hidden("_crashloop"),
    ),
    AlertRule(
        "KubePodNotReady",
        "warning",
        900,
        "pod",
        'kube_pod_status_ready{condition="true"} == 0',
        "Pod has been in a non-ready state for more than 15 minutes.",
        "Pod {namespace}/{entity} has been in a non-ready state for longer than 15 minutes.",
        _k8s("KubePodNotReady"),
        _hidden("_not_ready"),
    ),
    AlertRule(
        "DiskAlmostFull",
        "warning",
        120,
        "node",
        'node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes < 0.10',
        "Root filesystem of {entity} is over 90% full.",
        "Filesystem / on {entity} is {value} used.",
        SHERLOG_RUNBOOKS + "DiskAlmostFull",
        _gt("disk_used_ratio", 0.9),
        "pct",
    ),
    AlertRule(
        "NodeFilesystemAlmostOutOfSpace",
        "critical",
        300,
        "node",
        'node_filesystem_avail_bytes{fstype!=""} / node_filesystem_size_bytes * 100 < 5',
        "Filesystem has less than 5% space left.",
        "Filesystem on /dev/nvme0n1p1, mounted on /, at {entity} has only {free} available space left.",
        _k8s("NodeFilesystemAlmostOutOfSpace", "node"),
        _gt("disk_used_ratio", 0.95),
        "pct",
    ),
    AlertRule(
        "KubeNodePressure",
        "info",
        600,
        "node",
        'kube_node_status_condition{condition=~"(MemoryPressure|DiskPressure|PIDPressure)",status="true"} == 1',
        "Node has as active Condition.",
        "{entity} has active Condition DiskPressure. This is caused by resource usage exceeding eviction thresholds.",
        "https://github.com/kubernetes-monitoring/kubernetes-mixin/tree/master/runbook.md#alert-name-kubenodepressure",
        _hidden("_disk_pressure"),
    ),
    AlertRule(
        "NodeCPUHighUsage",
        "warning",
        300,
        "node",
        'sum without(mode) (avg without (cpu) (rate(node_cpu_seconds_total{mode!="idle"}[2m]))) > 0.9',
        "High CPU usage.",
        "CPU usage at {entity} has been above 90% for the last 5 minutes, is currently at {value}.",
        SHERLOG_RUNBOOKS + "NodeCPUHighUsage",
        _gt("node_cpu_utilisation", 0.9),
        "pct",
    ),
    AlertRule(
        "NodeNetworkReceiveErrs",
        "warning",
        300,
        "node",
        "rate(node_network_receive_errs_total[2m]) / rate(node_network_receive_packets_total[2m]) > 0.01",
        "Network interface is reporting many receive errors.",
        "{entity} interface eth0 has encountered receive errors on {value} of packets in the last two minutes.",
        _k8s("NodeNetworkReceiveErrs", "node"),
        _gt("node_network_packet_loss_ratio", 0.01),
        "pct",
    ),
)

RULES_BY_NAME: dict[str, AlertRule] = {r.alertname: r for r in RULES}


@dataclass(frozen=True)
class Transition:
    """An alert changing state at step ``index`` (firing or resolved)."""

    rule: AlertRule
    entity: str
    index: int
    status: Literal["firing", "resolved"]
    value: float
    starts_index: int


def evaluate(rule: AlertRule, inp: RuleInput, step_s: float) -> list[Transition]:
    """Firing/resolved transitions of ``rule`` on one entity, honouring ``for_s``."""
    got = rule.condition(inp)
    if got is None:
        return []
    holds, values = got
    need = max(1, math.ceil(rule.for_s / step_s) + (1 if rule.for_s > 0 else 0))
    out: list[Transition] = []
    run = 0
    firing_since: int | None = None
    for i, h in enumerate(holds):
        run = run + 1 if h else 0
        if firing_since is None and run >= need:
            firing_since = i
            out.append(Transition(rule, inp.entity, i, "firing", float(values[i]), i))
        elif firing_since is not None and not h:
            out.append(Transition(rule, inp.entity, i, "resolved", float(values[i]), firing_since))
            firing_since = None
    return out


def humanize(value: float, fmt: str) -> str:
    """Render a value the way Prometheus templates do (humanizePercentage, humanizeDuration)."""
    if math.isnan(value) or math.isinf(value):
        return "n/a"
    if fmt == "pct":
        return f"{value * 100:.1f}%"
    if fmt == "ms":
        return f"{value:.0f}ms"
    if fmt == "duration":
        v = abs(value)
        txt = f"{v / 86400:.1f}d" if v >= 86400 else f"{v / 3600:.1f}h" if v >= 3600 else f"{v / 60:.0f}m"
        return txt if value >= 0 else f"-{txt}"
    return f"{value:.4g}"


def local_runbooks() -> dict[str, Path]:
    """The runbooks shipped with chaos, by alert name."""
    return {p.stem: p for p in sorted(RUNBOOK_DIR.glob("*.md"))}


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex fingerprint of a label set (what Alertmanager uses to tell alerts apart)."""
    raw = "\xff".join(f"{k}\xfe{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def generator_url(rule: AlertRule) -> str:
    return GENERATOR + urllib.parse.quote(rule.expr, safe="")
