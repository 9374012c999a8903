"""Pure, per-event extraction: where an event happened (graph ids) and the kind-specific fields
(metric sample, alert state, change details), with errors that name the offending field.

Nothing here touches a store, so every rule is unit-testable and shared by all write paths.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from core.knowledge.schema import node_id, pod_id, workload_id
from core.logs.redact import redact
from core.model import EntityKind, EntityRef, Event
from core.sources.alerts import label_fingerprint
from core.sources.common import ItemProblem, parse_time, type_name

# Longest key the relational store takes everywhere it is used (LogLine.ingest_key is 128).
MAX_KEY_LEN = 128
UNKNOWN_SERVICE = "unknown"

Ref = tuple[str | None, str | None, str | None, str | None, str | None, str | None]


def ingest_key(event: Event, tenant: str) -> str:
    """The idempotency key of an event: its `ingest_id` (or content hash), per tenant, at most 128 chars."""
    key = event.dedup_key()
    if tenant != "default":
        key = f"{tenant}|{key}"
    if len(key) > MAX_KEY_LEN:
        # a long ingest_id is still stable, just hashed to fit the column
        key = "k:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return key


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an event happened, as graph ids.

    `primary` is the most specific workload id (EntityRef.primary_id after defaults) and
    `primary_label` the label it gets when Sherlog has to create it (a placeholder Service for
    `service:` ids, else Pod/Node/Host). `pod` is set when the event names a pod *and* its
    service, so the pod can hang off the service with PART_OF; `node` whenever a node is named.
    """

    primary: str | None
    primary_label: str | None
    name: str
    cluster: str | None
    namespace: str | None
    service: str | None
    pod: str | None
    pod_name: str | None
    node: str | None
    node_name: str | None
    host: str | None

    @property
    def metric_entity(self) -> str | None:
        """Pod-scoped samples stay on the pod (two pods of one service report the same series)."""
        return self.pod or self.primary


def entity_tuple(ref: EntityRef) -> Ref:
    return (ref.cluster, ref.namespace, ref.service, ref.pod, ref.node, ref.host)


def with_defaults(ref: Ref, defaults: Ref | None) -> Ref:
    """Fill what the envelope lacks from `defaults`: the cluster always; the workload (service,
    pod, node, host) only when the envelope names none; the namespace only for services and pods."""
    if defaults is None:
        return ref
    cluster, namespace, service, pod, node, host = ref
    d_cluster, d_namespace, d_service, d_pod, d_node, d_host = defaults
    if not (service or pod or node or host):
        service, pod, node, host = d_service, d_pod, d_node, d_host
    if not namespace and (service or pod):
        namespace = d_namespace
    return (cluster or d_cluster, namespace, service, pod, node, host)


@lru_cache(maxsize=65_536)
def place(ref: Ref) -> Placement:
    """The graph ids an (already defaulted) entity tuple names; cached, events repeat entities."""
    cluster, namespace, service, pod, node, host = ref
    c, ns = cluster or "", namespace or ""
    pod_ref = pod_id(pod, c, ns) if pod else None
    node_ref = node_id(node, c) if node else None
    if service:
        primary, label, name = workload_id(service, c, ns), EntityKind.SERVICE.value, service
    elif pod_ref:
        primary, label, name = pod_ref, EntityKind.POD.value, pod or ""
    elif node_ref:
        primary, label, name = node_ref, EntityKind.NODE.value, node or ""
    elif host:
        primary, label, name = f"host:{host}", EntityKind.HOST.value, host
    else:
        primary, label, name = None, None, ""
    return Placement(
        primary=primary,
        primary_label=label,
        name=name,
        cluster=cluster,
        namespace=namespace,
        service=service,
        pod=pod_ref if service else None,
        pod_name=pod if service else None,
        node=node_ref,
        node_name=node,
        host=host,
    )


def unknown_service(defaults: Ref | None) -> Ref:
    """Where a log line that names no workload goes (nothing accepted is dropped)."""
    cluster = defaults[0] if defaults else None
    namespace = defaults[1] if defaults else None
    return (cluster, namespace, UNKNOWN_SERVICE, None, None, None)


# --- metrics ------------------------------------------------------------------------------------


def metric_sample(event: Event) -> tuple[str, float]:
    """(metric name, value) of a metric event; ItemProblem naming the attribute otherwise."""
    attrs = event.attributes
    metric = attrs.get("metric")
    if metric is None:
        raise ItemProblem("attributes.metric", "a metric event needs attributes.metric (the series name)")
    if not isinstance(metric, str) or not metric.strip():
        raise ItemProblem("attributes.metric", f"expected a non-empty string, got {type_name(metric)}")
    if len(metric) > 128:
        raise ItemProblem("attributes.metric", f"metric name is {len(metric)} characters long; the limit is 128")
    if "value" not in attrs or attrs["value"] is None:
        raise ItemProblem("attributes.value", "a metric event needs attributes.value (a number)")
    raw = attrs["value"]
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ItemProblem("attributes.value", f"expected a number, got {type_name(raw)}")
    try:
        value = float(raw)
    except ValueError:
        raise ItemProblem("attributes.value", f"expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ItemProblem("attributes.value", f"value must be finite, got {raw!r}")
    return metric.strip(), value


# --- alerts -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertState:
    """One alert notification, normalised from core.sources.alerts or Alertmanager-shaped attributes."""

    fingerprint: str
    alertname: str
    status: str
    severity: str
    starts_at: float | None
    ends_at: float | None
    summary: str
    runbook_url: str | None
    labels: dict[str, str]

    @property
    def node_id(self) -> str:
        return f"alert:{self.fingerprint}"


def _epoch(attrs: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    """The first of `keys` present as epoch seconds (numbers) or RFC 3339 text; Go's zero time is None."""
    for key in keys:
        value = attrs.get(key)
        if value is None or value == "":
            continue
        ts = parse_time(value, f"attributes.{key}", allow_zero=True)
        return ts.timestamp() if ts is not None else None
    return None


def _str_labels(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ItemProblem("attributes.labels", f"expected an object of strings, got {type_name(raw)}")
    return {str(k): str(v) for k, v in raw.items() if v is not None}


def alert_state(event: Event) -> AlertState:
    """The alert an alert event reports; ItemProblem naming the attribute when it cannot be read."""
    attrs = event.attributes
    labels = _str_labels(attrs.get("labels"))
    raw_annotations = attrs.get("annotations")
    annotations: dict[str, Any] = raw_annotations if isinstance(raw_annotations, dict) else {}
    alertname = attrs.get("alertname") or labels.get("alertname")
    if not isinstance(alertname, str) or not alertname.strip():
        raise ItemProblem("attributes.alertname", "an alert event needs attributes.alertname (or labels.alertname)")
    status = attrs.get("status")
    if status not in ("firing", "resolved"):
        raise ItemProblem("attributes.status", f"must be 'firing' or 'resolved', got {status!r}")
    fingerprint = attrs.get("fingerprint")
    if fingerprint is not None and (not isinstance(fingerprint, str) or not fingerprint.strip()):
        raise ItemProblem("attributes.fingerprint", f"expected a non-empty string, got {type_name(fingerprint)}")
    if not fingerprint:
        fingerprint = label_fingerprint(labels or {"alertname": alertname})
    starts = _epoch(attrs, ("starts_at", "startsAt"))
    ends = _epoch(attrs, ("ends_at", "endsAt"))
    if status == "resolved" and ends is None:
        ends = event.ts.timestamp()  # a resolution is an event at the moment the alert ended
    summary = attrs.get("summary") or annotations.get("summary") or annotations.get("description") or ""
    runbook_url = attrs.get("runbook_url") or annotations.get("runbook_url") or annotations.get("runbook")
    return AlertState(
        fingerprint=fingerprint.strip(),
        alertname=alertname.strip(),
        status=status,
        severity=labels.get("severity") or event.severity.value,
        starts_at=starts,
        ends_at=ends if status == "resolved" else None,
        summary=redact(str(summary)),
        runbook_url=str(runbook_url) if runbook_url else None,
        labels=labels,
    )


# --- changes ------------------------------------------------------------------------------------


def change_props(event: Event, key: str) -> dict[str, Any]:
    """Properties of the Change node (schema.py) for a change event."""
    attrs = event.attributes

    def text(name: str) -> str | None:
        v = attrs.get(name)
        return redact(str(v)) if v is not None and v != "" else None

    change_id = event.ingest_id or key.rsplit(":", 1)[-1]
    return {
        "id": f"change:{change_id}",
        "name": text("description") or event.body[:200] or "change",
        "change_type": text("change_type") or "change",
        "ts": event.ts.timestamp(),
        "version": text("version"),
        "previous_version": text("previous_version"),
        "author": text("author"),
        "description": text("description") or redact(event.body),
    }


# --- JSON for event records ----------------------------------------------------------------------


def json_ready(value: Any) -> Any:
    """Attributes as plain JSON values, strings redacted (event records keep them verbatim otherwise)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    return json.loads(json.dumps(value, default=str))
