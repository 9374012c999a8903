"""Multiplicative ranking factors beside anomaly strength: onset, graph position, change proximity, prior.

Each factor is 1.0 when it has nothing to say, so a case without a graph, changes or history
ranks on strength and onset alone. Factors are modest (at most ×1.5 or ×2) on purpose: a
metric that moved 50 sigma should not lose to one that moved 5 because of a topology guess.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.errors import InputError
from core.metrics.cases import CallEdge, Change


@dataclass(frozen=True)
class FactorParams:
    """Weights and time constants of the factors (seconds)."""

    onset_weight: float = 0.25
    onset_tau_s: float = 60.0
    upstream_weight: float = 0.5
    downstream_penalty: float = 0.3
    change_weight: float = 1.0
    change_tau_s: float = 900.0
    change_horizon_s: float = 6 * 3600.0
    change_grace_s: float = 60.0


def onset_factors(onsets: Mapping[str, float | None], params: FactorParams = FactorParams()) -> dict[str, float]:
    """Earliest onset wins: ``1 + w · exp(-(t - t_first) / tau)`` for anomalous services, 1 for the rest.

    The first service to leave its baseline is the likeliest origin; others that follow within
    seconds keep most of the bonus, those minutes later lose it.
    """
    times = [t for t in onsets.values() if t is not None]
    if not times:
        return {s: 1.0 for s in onsets}
    first = min(times)
    return {
        s: 1.0 if t is None else 1.0 + params.onset_weight * math.exp(-(t - first) / params.onset_tau_s)
        for s, t in onsets.items()
    }


def _reach(adj: Mapping[str, Iterable[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = deque(sorted(adj.get(start, ())))
    while todo:
        n = todo.popleft()
        if n in seen or n == start:
            continue
        seen.add(n)
        todo.extend(sorted(adj.get(n, ())))
    return seen


def upstream_factors(
    services: Sequence[str],
    anomalous: set[str],
    edges: Sequence[CallEdge],
    params: FactorParams = FactorParams(),
) -> dict[str, float]:
    """Reward anomalous services that sit upstream of the other symptoms in fault propagation.

    With ``source`` calling ``target``, a fault in the target surfaces in its (transitive) callers.
    For an anomalous service ``s`` among ``A`` anomalous services:
    ``explained`` = share of the other anomalous services that transitively call ``s``,
    ``blamed`` = share of the other anomalous services that ``s`` transitively calls, and
    the factor is ``(1 + upstream_weight · explained) · (1 − downstream_penalty · blamed)``.
    Non-anomalous services, and every service when there is no graph, get 1.
    """
    if not edges or len(anomalous) < 2:
        return {s: 1.0 for s in services}
    callers: dict[str, set[str]] = defaultdict(set)
    callees: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if e.source != e.target:
            callees[e.source].add(e.target)
            callers[e.target].add(e.source)
    others = len(anomalous) - 1
    out: dict[str, float] = {}
    for s in services:
        if s not in anomalous:
            out[s] = 1.0
            continue
        explained = len(_reach(callers, s) & anomalous) / others
        blamed = len(_reach(callees, s) & anomalous) / others
        out[s] = (1.0 + params.upstream_weight * explained) * (1.0 - params.downstream_penalty * blamed)
    return out


def change_factors(
    services: Sequence[str],
    changes: Sequence[Change],
    incident_start: float,
    params: FactorParams = FactorParams(),
) -> dict[str, float]:
    """Reward services changed shortly before the incident started: ``1 + w · exp(-lead / tau)``.

    ``lead`` is how long before ``incident_start`` the change happened. Changes more than
    ``change_grace_s`` after the start cannot have caused it, and ones older than
    ``change_horizon_s`` are history; both count for nothing. The closest change counts.
    """
    out = {s: 1.0 for s in services}
    for c in changes:
        if c.service not in out:
            continue
        lead = incident_start - c.time
        if lead < -params.change_grace_s or lead > params.change_horizon_s:
            continue
        f = 1.0 + params.change_weight * math.exp(-max(lead, 0.0) / params.change_tau_s)
        out[c.service] = max(out[c.service], f)
    return out


def prior_factors(services: Sequence[str], prior: Mapping[str, float] | None) -> dict[str, float]:
    """Historical prior per service (e.g. how often it was the cause before); 1 when unknown.

    Values must be positive and finite: a zero prior would make evidence irrelevant.
    """
    out = {s: 1.0 for s in services}
    for s, w in (prior or {}).items():
        if not (isinstance(w, int | float) and math.isfinite(w) and w > 0):
            raise InputError(f"historical prior for {s!r} must be a positive finite number, got {w!r}")
        if s in out:
            out[s] = float(w)
    return out
