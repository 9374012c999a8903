"""Turn simulated series, log lines, Kubernetes events, changes and alerts into core Event data.

Each kind carries what the real source would send: a raw log line as the body;
a metric name, value and unit; an Alertmanager-style alert; a Kubernetes event's
reason, object and type; a change's type, versions and author.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np

from chaos.alerts import RULES, AlertRule, Transition, evaluate, fingerprint, generator_url, humanize
from chaos.logtemplates import fill, render_line
from chaos.propagation import sub_rng
from chaos.series import SeriesStore
from chaos.state import ChangeItem, K8sItem, LogItem, ScriptedAlert, SimState
from core.model import EntityRef, EventKind

#: keyword arguments of a core.model.Event (built once, after sorting, with its ingest id)
EventData = dict[str, Any]

SOURCES = {
    EventKind.LOG: "chaos/logs",
    EventKind.METRIC: "chaos/prometheus",
    EventKind.ALERT: "chaos/alertmanager",
    EventKind.K8S_EVENT: "chaos/kubernetes",
    EventKind.CHANGE: "chaos/deploys",
}
_ZERO_TIME = "0001-01-01T00:00:00Z"
_ALERT_DELAY_S = 30.0  # Alertmanager's group_wait before the first notification


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _ref(
    st: SimState,
    *,
    service: str | None = None,
    pod: str | None = None,
    node: str | None = None,
    namespace: str | None = None,
) -> EntityRef:
    ns = st.env.namespace if namespace is None else (namespace or None)
    return EntityRef(
        cluster=st.env.cluster, namespace=ns if (service or pod) else None, service=service, pod=pod, node=node
    )


def metric_events(st: SimState, store: SeriesStore) -> list[EventData]:
    """One event per finite sample of every emitted series."""
    out: list[EventData] = []
    times = [st.at(float(x)) for x in st.t]
    pod_nodes = {p.name: p.node for c in st.components.values() for p in c.pods}
    for s in store:
        if s.hidden:
            continue
        if s.scope == "node":
            ref = _ref(st, node=s.node)
        elif s.scope == "pod":
            ref = _ref(st, service=s.component, pod=s.pod, node=pod_nodes.get(s.pod or "", s.node))
        else:
            ref = _ref(st, service=s.component)
        unit = s.unit
        for i in np.flatnonzero(np.isfinite(s.values)):
            out.append(
                {
                    "source": SOURCES[EventKind.METRIC],
                    "kind": EventKind.METRIC,
                    "ts": times[i],
                    "entity": ref,
                    "attributes": {"metric": s.metric, "value": float(s.values[i]), "unit": unit},
                }
            )
    return out


def log_events(st: SimState, items: Iterable[LogItem], seed: int) -> list[EventData]:
    """Render every log line in its service's format."""
    rng = sub_rng(seed, "render")
    pods = {p.name: p for c in st.components.values() for p in c.pods}
    out: list[EventData] = []
    for it in sorted(items, key=lambda x: (x.t_s, x.component, x.template)):
        if it.t_s < 0 or it.t_s >= st.end_s:
            continue
        ts = st.at(it.t_s)
        comp = st.components.get(it.component)
        pod = pods.get(it.pod or "")
        ctx = {"service": it.component, **it.context}
        if "{now}" in it.template:
            ctx["now"] = ts.isoformat(timespec="seconds")[:19] + "Z"
        if pod is not None:
            ctx.setdefault("pod", pod.name)
            ctx.setdefault("version", pod.version)
        message = fill(it.template, rng, ctx)
        fmt = it.fmt or (comp.spec.log_format if comp else "plain")
        trace = None
        if fmt in ("json", "logfmt") and it.level in ("error", "critical", "info") and rng.random() < 0.7:
            trace = "".join("0123456789abcdef"[int(i)] for i in rng.integers(0, 16, 32))
        body = render_line(
            fmt,
            ts=ts,
            level=it.level,
            service=it.component,
            message=message,
            trace_id=trace,
            pid=1 + int(rng.integers(0, 4000)) if fmt == "postgres" else 1,
            fields={"version": pod.version} if (fmt == "json" and pod is not None) else None,
        )
        node = it.node or (pod.node if pod else None)
        ref = _ref(st, service=it.component, pod=it.pod, node=node, namespace=it.namespace)
        out.append(
            {
                "source": SOURCES[EventKind.LOG],
                "kind": EventKind.LOG,
                "ts": ts,
                "entity": ref,
                "severity": it.level,
                "body": body,
                "attributes": {
                    "stream": "stderr" if it.level in ("error", "critical") else "stdout",
                    "container": it.component,
                },
                "trace_id": trace,
            }
        )
    return out


def k8s_events(st: SimState, items: Iterable[K8sItem]) -> list[EventData]:
    out: list[EventData] = []
    for it in items:
        if it.t_s < 0 or it.t_s >= st.end_s:
            continue
        kind_name = it.object.split("/", 1)[0]
        ref = _ref(st, service=it.component, pod=it.pod, node=it.node, namespace=it.namespace)
        if kind_name == "Pod" and ref.pod is None:
            ref = ref.model_copy(update={"pod": it.object.split("/", 1)[1]})
        if it.namespace and ref.namespace is None:
            ref = ref.model_copy(update={"namespace": it.namespace})
        out.append(
            {
                "source": SOURCES[EventKind.K8S_EVENT],
                "kind": EventKind.K8S_EVENT,
                "ts": st.at(it.t_s),
                "entity": ref,
                "severity": "warning" if it.type == "Warning" else "info",
                "body": it.message,
                "attributes": {
                    "reason": it.reason,
                    "object": it.object,
                    "type": it.type,
                    "message": it.message,
                    "count": it.count,
                    "source_component": it.source,
                    "involved_kind": kind_name,
                },
            }
        )
    return out


def change_events(st: SimState, items: Iterable[ChangeItem]) -> list[EventData]:
    out: list[EventData] = []
    for it in items:
        if it.t_s < 0 or it.t_s >= st.end_s:
            continue
        out.append(
            {
                "source": SOURCES[EventKind.CHANGE],
                "kind": EventKind.CHANGE,
                "ts": st.at(it.t_s),
                "entity": _ref(st, service=it.component),
                "severity": "info",
                "body": it.description,
                "attributes": {
                    "change_type": it.change_type,
                    "version": it.version,
                    "previous_version": it.previous_version,
                    "author": it.author,
                    "description": it.description,
                },
            }
        )
    return out


def _alert_event(
    st: SimState,
    *,
    ts: datetime,
    status: str,
    severity: str,
    labels: dict[str, str],
    summary: str,
    description: str,
    runbook_url: str,
    starts: datetime,
    generator: str,
    ref: EntityRef,
) -> EventData:
    attrs: dict[str, Any] = {
        "alertname": labels["alertname"],
        "status": status,
        "labels": labels,
        "annotations": {"summary": summary, "description": description, "runbook_url": runbook_url},
        "startsAt": _iso(starts),
        "endsAt": _iso(ts) if status == "resolved" else _ZERO_TIME,
        "fingerprint": fingerprint(labels),
        "generatorURL": generator,
    }
    return {
        "source": SOURCES[EventKind.ALERT],
        "kind": EventKind.ALERT,
        "ts": ts,
        "entity": ref,
        "severity": {"critical": "critical", "warning": "warning"}.get(severity, "info"),
        "body": f"[{status.upper()}] {labels['alertname']}: {description}",
        "attributes": attrs,
    }


def _rule_labels(st: SimState, rule: AlertRule, entity: str) -> tuple[dict[str, str], EntityRef, dict[str, str]]:
    env = st.env
    base = {"alertname": rule.alertname, "severity": rule.severity, "cluster": env.cluster}
    if rule.scope == "node":
        labels = {**base, "node": entity, "instance": f"{entity}:9100", "job": "node-exporter"}
        if rule.alertname in ("DiskAlmostFull", "NodeFilesystemAlmostOutOfSpace"):
            labels |= {"mountpoint": "/", "device": "/dev/nvme0n1p1", "fstype": "ext4"}
        if rule.alertname == "NodeNetworkReceiveErrs":
            labels["device"] = "eth0"
        return labels, _ref(st, node=entity), {"entity": entity, "node": entity}
    if rule.scope == "pod":
        pod = next(p for c in st.components.values() for p in c.pods if p.name == entity)
        labels = {
            **base,
            "namespace": env.namespace,
            "pod": entity,
            "container": pod.service,
            "service": pod.service,
            "job": "kube-state-metrics",
        }
        return (
            labels,
            _ref(st, service=pod.service, pod=entity, node=pod.node),
            {"entity": entity, "service": pod.service, "node": pod.node},
        )
    labels = {**base, "namespace": env.namespace, "service": entity, "job": entity}
    c = st.components[entity]
    if rule.alertname == "DNSLookupFailures":
        hosts = [
            st.components[d].dns_failing_host for d in c.spec.dependency_names() if st.components[d].dns_failing_host
        ]
        if hosts:
            labels["target_host"] = str(hosts[0])
    return labels, _ref(st, service=entity), {"entity": entity, "service": entity}


def alert_events(st: SimState, store: SeriesStore, scripted: Iterable[ScriptedAlert]) -> list[EventData]:
    """Evaluate every rule on every entity, then add the scripted alerts."""
    out: list[EventData] = []
    env = st.env
    transitions: list[Transition] = []
    for rule in RULES:
        for entity in store.entities(rule.scope):
            if rule.scope == "component":
                spec = env.service(entity)
                inp = store.rule_input("component", entity, spec.kind, {"p99_threshold_ms": spec.p99_threshold_ms})
            elif rule.scope == "pod":
                pod = next(p for c in st.components.values() for p in c.pods if p.name == entity)
                limit = env.service(pod.service).resources.memory_limit_mib * 1024 * 1024
                inp = store.rule_input("pod", entity, "Pod", {"memory_limit_bytes": limit})
            else:
                inp = store.rule_input("node", entity, "Node", {})
            transitions.extend(evaluate(rule, inp, st.step_s))
    for tr in transitions:
        rule = tr.rule
        labels, ref, names = _rule_labels(st, rule, tr.entity)
        fmt_values = {
            "namespace": env.namespace,
            "service": "",
            "pod": "",
            "node": "",
            **names,
            "value": humanize(tr.value, rule.value_format),
            "free": humanize(1 - tr.value, "pct"),
            "threshold": "",
        }
        if rule.scope == "component" and "threshold" in rule.description:
            fmt_values["threshold"] = humanize(env.service(tr.entity).p99_threshold_ms, "ms")
        ts = st.at(float(st.t[tr.index]) + _ALERT_DELAY_S)
        if ts >= st.at(st.end_s):
            continue
        out.append(
            _alert_event(
                st,
                ts=ts,
                status=tr.status,
                severity=rule.severity,
                labels=labels,
                summary=rule.summary.format(**fmt_values),
                description=rule.description.format(**fmt_values),
                runbook_url=rule.runbook_url,
                starts=st.at(float(st.t[tr.starts_index])),
                generator=generator_url(rule),
                ref=ref,
            )
        )
    for a in scripted:
        if a.t_s < 0 or a.t_s >= st.end_s:
            continue
        svc = a.labels.get("horizontalpodautoscaler") or a.labels.get("container") or a.labels.get("service")
        ref = _ref(st, service=svc, pod=a.labels.get("pod"), node=a.labels.get("node"))
        out.append(
            _alert_event(
                st,
                ts=st.at(a.t_s),
                status=a.status,
                severity=a.severity,
                labels=a.labels,
                summary=a.summary,
                description=a.description,
                runbook_url=a.runbook_url,
                starts=st.at(a.starts_s),
                generator=GENERIC_GENERATOR,
                ref=ref,
            )
        )
    return out


GENERIC_GENERATOR = "http://prometheus.monitoring.svc:9090/alerts"
