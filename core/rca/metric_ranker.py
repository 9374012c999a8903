"""Rank services as root-cause candidates from metric anomalies, with optional graph, logs, changes and prior.

Pipeline for one case (baseline period, anomalous window, inject time):

1. Log lines, if any, become per-service count series (``<service>_log_lines``/``_log_errors``)
   appended to both periods, so logs are scored exactly like metrics.
2. Every series is scored against its own baseline (:mod:`core.metrics.anomaly`): strength in
   robust z units and onset time.
3. A service's *strength* is its strongest series; its onset the earliest onset among them.
4. ``score = strength × onset × upstream × change × prior`` (:mod:`core.rca.factors`); each
   factor is 1 when its input is absent.
5. Services are sorted by score, descending, then by name, so equal scores always come out in the
   same order. Nothing here is random: the same data gives the same ranking.
6. Each candidate gets a confidence from :mod:`core.rca.confidence`.

Nothing in this module knows service names, fault types or ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.metrics.anomaly import AnomalyParams, MetricAnomaly, detect_anomalies
from core.metrics.cases import MetricCase
from core.metrics.log_counts import add_log_counts
from core.metrics.names import parse_columns
from core.rca.confidence import confidence as confidence_of
from core.rca.factors import FactorParams, change_factors, onset_factors, prior_factors, upstream_factors


@dataclass(frozen=True)
class RankerParams:
    """Detector and factor settings used by :func:`rank_case`."""

    anomaly: AnomalyParams = field(default_factory=AnomalyParams)
    factors: FactorParams = field(default_factory=FactorParams)


@dataclass(frozen=True)
class RankedService:
    """One root-cause candidate: its score, confidence, the factors behind the score and its evidence.

    ``evidence`` holds the service's anomalous series, strongest first (its strongest series even
    when none crossed the threshold, so the "why" always points at data).
    """

    service: str
    score: float
    confidence: float
    strength: float
    onset_time: float | None
    factors: Mapping[str, float]
    evidence: tuple[MetricAnomaly, ...]
    why: str


@dataclass(frozen=True)
class Ranking:
    """The ranked candidates of one case, plus every scored series and notes on the inputs."""

    causes: tuple[RankedService, ...]
    inject_time: float
    anomalies: tuple[MetricAnomaly, ...]
    notes: tuple[str, ...] = ()

    @property
    def services(self) -> list[str]:
        return [c.service for c in self.causes]

    def top(self, k: int) -> tuple[RankedService, ...]:
        return self.causes[:k]

    def to_json(self, k: int) -> dict[str, Any]:
        """``{"ranking": [...], "scores": [...], "confidence": [...], "inject_time": t}`` for the top ``k``."""
        top = self.top(k)
        return {
            "ranking": [c.service for c in top],
            "scores": [round(c.score, 6) for c in top],
            "confidence": [round(c.confidence, 4) for c in top],
            "inject_time": self.inject_time,
        }


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _why(name: str, ev: tuple[MetricAnomaly, ...], onset: float | None, inject: float, f: Mapping[str, float]) -> str:
    if not ev or ev[0].strength <= 0:
        return f"{name}: no series left its baseline"
    a = ev[0]
    parts = [
        f"{a.column} {'rose' if a.peak_z >= 0 else 'fell'} to {_fmt(a.peak_value)} "
        f"(baseline median {_fmt(a.baseline_median)}, robust z {a.peak_z:+.1f})"
    ]
    if onset is not None:
        parts.append(f"onset {onset - inject:+.0f} s from the inject time")
    others = [x.column for x in ev[1:] if x.is_anomalous]
    if others:
        parts.append(f"also anomalous: {', '.join(others[:3])}{' ...' if len(others) > 3 else ''}")
    if f.get("upstream", 1.0) > 1.0:
        parts.append("upstream of other anomalous services")
    elif f.get("upstream", 1.0) < 1.0:
        parts.append("calls other anomalous services (may be a symptom)")
    if f.get("change", 1.0) > 1.0:
        parts.append("changed shortly before the incident")
    if f.get("prior", 1.0) != 1.0:
        parts.append(f"historical prior ×{f['prior']:.2g}")
    return "; ".join(parts)


def rank_case(
    case: MetricCase,
    *,
    prior: Mapping[str, float] | None = None,
    params: RankerParams | None = None,
) -> Ranking:
    """Rank every service in ``case`` as a root-cause candidate (see the module docstring)."""
    params = params or RankerParams()
    notes: list[str] = []
    baseline, window = case.baseline, case.window
    if case.logs:
        log_services = sorted({ln.service for ln in case.logs})
        baseline, in_b = add_log_counts(baseline, case.logs, log_services)
        window, in_w = add_log_counts(window, case.logs, log_services)
        outside = int((~(in_b | in_w)).sum())
        if outside:
            notes.append(f"{outside} log line(s) fall outside the baseline and anomalous periods and were not scored")
    names = parse_columns(window.columns, source=case.source)
    anomalies = detect_anomalies(baseline, window, names, params.anomaly)
    unscored = [a for a in anomalies if not a.scored]
    if unscored:
        notes.append(
            f"{len(unscored)} series could not be scored ({unscored[0].column}: {unscored[0].note}"
            f"{'; ...' if len(unscored) > 1 else ''})"
        )

    by_service: dict[str, list[MetricAnomaly]] = {}
    for a in anomalies:
        by_service.setdefault(a.service, []).append(a)
    services = sorted(by_service)
    for s in services:
        by_service[s].sort(key=lambda a: (-a.strength, a.column))
    strength = {s: by_service[s][0].strength for s in services}
    onsets: dict[str, float | None] = {}
    for s in services:
        ts = [a.onset_time for a in by_service[s] if a.onset_time is not None]
        onsets[s] = min(ts) if ts else None
    anomalous = {s for s in services if onsets[s] is not None}

    if case.edges:
        known = set(services)
        unknown = sorted({n for e in case.edges for n in (e.source, e.target)} - known)
        if unknown and len(unknown) == len({n for e in case.edges for n in (e.source, e.target)}):
            notes.append("the call graph names no service that has metrics; it did not affect the ranking")
        elif unknown:
            notes.append(f"call graph nodes without metrics (used only for paths): {', '.join(unknown[:5])}")
    if case.changes:
        unknown_c = sorted({c.service for c in case.changes} - set(services))
        if unknown_c:
            notes.append(f"changes on services without metrics were not scored: {', '.join(unknown_c[:5])}")

    first_onset = min((t for t in onsets.values() if t is not None), default=case.inject_time)
    f_onset = onset_factors(onsets, params.factors)
    f_up = upstream_factors(services, anomalous, case.edges, params.factors)
    f_change = change_factors(services, case.changes, first_onset, params.factors)
    f_prior = prior_factors(services, prior)

    scored: list[tuple[str, float, dict[str, float]]] = []
    for s in services:
        f = {"onset": f_onset[s], "upstream": f_up[s], "change": f_change[s], "prior": f_prior[s]}
        score = strength[s] * math.prod(f.values())
        scored.append((s, score, f))
    scored.sort(key=lambda t: (-t[1], t[0]))

    causes: list[RankedService] = []
    for i, (s, score, f) in enumerate(scored):
        rival = scored[1][1] if i == 0 and len(scored) > 1 else (scored[0][1] if i > 0 else 0.0)
        ev_all = by_service[s]
        ev = tuple(a for a in ev_all if a.is_anomalous) or tuple(ev_all[:1])
        causes.append(
            RankedService(
                service=s,
                score=score,
                confidence=confidence_of(score, rival, strength[s]),
                strength=strength[s],
                onset_time=onsets[s],
                factors=f,
                evidence=ev,
                why=_why(s, ev, onsets[s], case.inject_time, f),
            )
        )
    return Ranking(tuple(causes), case.inject_time, tuple(anomalies), tuple(notes))
