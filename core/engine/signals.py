"""Turn gathered telemetry into per-entity signals, each with a strength, an onset and its evidence.

A *signal* is one observation that an entity left normal: a metric series (of the entity or one
of its pods), a log burst or new error template, a firing alert, a Kubernetes warning. Strengths
are on one scale, robust-z-like units, so they can be compared and combined:

* metric series: the detector's direction-weighted peak z (core.engine.gatherers.metrics);
* log signals: the Poisson tail's `-log10 p` (capped at 50 by core.ingest.signals);
* alerts: 20 for critical, 10 for warning (info alerts are context, not evidence);
* Kubernetes Warning events: 10.

Pod-level signals count for their workload (and remember their pod and node).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.engine.evidence import EvidenceBook, make_evidence
from core.engine.gatherers.events import AlertInfo, K8sInfo
from core.engine.gatherers.logs import LogScan, severe
from core.engine.gatherers.metrics import MetricScan, SeriesAnomaly
from core.knowledge.schema import short_name
from core.model import EvidenceKind

Z_CAP = 1000.0
ALERT_Z = {3: 20.0, 2: 15.0, 1: 10.0}
K8S_WARNING_Z = 10.0
#: Metric series weaker than this (robust z) are not turned into signals at all.
MIN_SIGNAL_Z = 3.0


@dataclass(frozen=True)
class Signal:
    """One piece of evidence that `entity` left normal."""

    entity: str
    source: str  # metric | log | alert | k8s
    family: str
    z: float
    onset: float | None  # epoch seconds
    evidence_id: str
    detail: str = ""  # pod name, template, alert name ...
    node: str | None = None  # where a pod-level signal happened


def _ts(epoch: float | None) -> datetime | None:
    from datetime import UTC

    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _fmt(x: float) -> str:
    if abs(x) >= 1e9:
        return f"{x / 1e9:.3g}G"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:.4g}"


def metric_signals(
    scan: MetricScan, book: EvidenceBook, pod_owner: Mapping[str, str], pod_node: Mapping[str, str | None]
) -> list[Signal]:
    """A signal per anomalous series (strength ≥ MIN_SIGNAL_Z with an onset)."""
    out: list[Signal] = []
    for entity in sorted(scan.anomalies):
        owner = pod_owner.get(entity, entity)
        for a in scan.anomalies[entity]:
            if not a.is_anomalous or a.strength < MIN_SIGNAL_Z:
                continue
            ev = book.add(_metric_evidence(a, owner, entity if entity != owner else None))
            out.append(
                Signal(
                    entity=owner,
                    source="metric",
                    family=a.family,
                    z=min(a.strength, Z_CAP),
                    onset=a.onset_time,
                    evidence_id=ev,
                    detail=a.metric,
                    node=pod_node.get(entity),
                )
            )
    return out


def _metric_evidence(a: SeriesAnomaly, owner: str, pod: str | None):  # type: ignore[no-untyped-def]
    where = short_name(owner) + (f" (pod {short_name(pod)})" if pod else "")
    verb = "rose" if a.peak_z >= 0 else "fell"
    onset = _ts(a.onset_time)
    text = (
        f"{where}: {a.metric} {verb} to {_fmt(a.peak_value)} (baseline {_fmt(a.baseline_median)}, "
        f"robust z {a.peak_z:+.1f})" + (f", from {onset:%H:%M:%S} UTC" if onset else "")
    )
    return make_evidence(
        EvidenceKind.METRIC,
        owner,
        text,
        key=(pod or owner, a.metric, a.onset_time),
        ts=onset,
        score=min(a.strength, Z_CAP),
        attributes={
            "metric": a.metric,
            "family": a.family,
            "pod": pod,
            "peak": a.peak_value,
            "baseline": a.baseline_median,
            "z": round(a.peak_z, 2),
            "direction": a.direction,
        },
    )


def log_signals_of(
    scan: LogScan, book: EvidenceBook, pod_owner: Mapping[str, str]
) -> tuple[list[Signal], dict[str, set[str]]]:
    """Signals for severe log evidence, and who blames whom (named entity → the entities naming it)."""
    out: list[Signal] = []
    blamed: dict[str, set[str]] = {}
    for i, sig in enumerate(scan.signals):
        if not severe(sig):
            continue
        owner = pod_owner.get(sig.entity_id, sig.entity_id)
        what = {
            "new_template": "new log template",
            "burst": "log burst",
            "error_rate": "error-level log rate jump",
        }.get(sig.kind, sig.kind)
        sample = f' e.g. "{sig.samples[0][:220]}"' if sig.samples else ""
        tpl = f' "{sig.template[:160]}"' if sig.template and sig.kind != "error_rate" else f" ({sig.template})"
        text = (
            f"{short_name(owner)}: {what}{tpl} at {sig.level} level, {sig.count} lines since "
            f"{sig.onset:%H:%M} UTC (baseline {sig.baseline_count}).{sample}"
        )
        ev = book.add(
            make_evidence(
                EvidenceKind.LOG,
                owner,
                text,
                key=(owner, sig.kind, sig.template_id, sig.onset),
                ts=sig.onset,
                score=sig.score,
                attributes={
                    "kind": sig.kind,
                    "template_id": sig.template_id,
                    "template": sig.template,
                    "level": sig.level,
                    "count": sig.count,
                    "baseline_count": sig.baseline_count,
                    "samples": list(sig.samples),
                    "names": scan.mentions.get(i, []),
                },
            )
        )
        out.append(
            Signal(
                entity=owner,
                source="log",
                family="errors" if sig.level in ("error", "critical") else "warnings",
                z=float(sig.score),
                onset=sig.onset.timestamp(),
                evidence_id=ev,
                detail=sig.template[:120],
            )
        )
        for named in scan.mentions.get(i, []):
            blamed.setdefault(pod_owner.get(named, named), set()).add(owner)
    return out, blamed


def alert_signals(alerts: list[AlertInfo], book: EvidenceBook, pod_owner: Mapping[str, str]) -> list[Signal]:
    """Signals for alerts of warning severity or worse."""
    out = []
    for a in alerts:
        if a.entity is None:
            continue
        owner = pod_owner.get(a.entity, a.entity)
        state = (
            "firing" if a.status == "firing" else f"fired, resolved {a.ends_at:%H:%M} UTC" if a.ends_at else a.status
        )
        text = f"alert {a.alertname} ({a.severity}) on {short_name(owner)} since {a.starts_at:%H:%M} UTC, {state}" + (
            f": {a.summary}" if a.summary else ""
        )
        ev = book.add(
            make_evidence(
                EvidenceKind.ALERT,
                owner,
                text,
                key=(a.fingerprint, a.starts_at),
                ts=a.starts_at,
                link=a.runbook_url,
                score=ALERT_Z.get(a.rank, 0.0),
                attributes={"alertname": a.alertname, "severity": a.severity, "status": a.status},
            )
        )
        z = ALERT_Z.get(a.rank)
        if z is None:
            continue
        out.append(Signal(owner, "alert", "alert", z, a.starts_at.timestamp(), ev, detail=a.alertname))
    return out


def k8s_signals(events: list[K8sInfo], book: EvidenceBook, pod_owner: Mapping[str, str]) -> list[Signal]:
    """Signals for Kubernetes Warning events, folded per (entity, reason): first time, total count."""
    folded: dict[tuple[str, str], list[K8sInfo]] = {}
    for e in events:
        if e.entity is None or e.type.lower() != "warning":
            continue
        folded.setdefault((pod_owner.get(e.entity, e.entity), e.reason), []).append(e)
    out = []
    for (owner, reason), items in sorted(folded.items()):
        first = items[0]
        n = sum(i.count for i in items)
        text = f"Kubernetes {reason} on {short_name(owner)} ({n}x since {first.ts:%H:%M:%S} UTC): {first.message[:220]}"
        ev = book.add(
            make_evidence(
                EvidenceKind.K8S_EVENT,
                owner,
                text,
                key=(owner, reason, first.key),
                ts=first.ts,
                score=K8S_WARNING_Z,
                attributes={"reason": reason, "count": n, "object": first.object},
            )
        )
        out.append(Signal(owner, "k8s", "k8s", K8S_WARNING_Z, first.ts.timestamp(), ev, detail=reason))
    return out
