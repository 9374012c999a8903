"""Pure reliability computations over stored rows: no I/O, no clock.

Definitions (the report states them too):

- An incident *belongs* to a week when it was **created** in [start, end).
- MTTA = acknowledged_at − created_at; MTTR = resolved_at − created_at, both taken between
  UTC instants (so an incident that spans a DST change lasts its real duration). Incidents
  not yet acknowledged / resolved are left out of the statistic and counted as such.
- Percentiles are **nearest-rank**: with n values sorted ascending, the p-th percentile is
  the value at 1-based rank ⌈p/100 · n⌉. The median is the nearest-rank p50 (for an even n,
  the lower of the two middle values), so every reported duration is one that happened.
- Open at week end: created before `end` and not resolved before `end`.
- Alert volume: alert records whose status is not "resolved" (one per firing episode; the
  ingester dedups Alertmanager's repeats), grouped by `alertname` for the noisiest list.
- Change-failure rate: incidents of the week that name a change (`change_id`) divided by
  the changes recorded in the week; undefined (None) when there were no changes.
- SLOs: error budget = 1 − objective; burn = (1 − achieved) / budget; remaining = 1 − burn
  (negative when the budget is overspent).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4)
UNKNOWN_SERVICE = "(none)"
UNNAMED_ALERT = "(unnamed)"

T = TypeVar("T", int, float, timedelta)


class IncidentLike(Protocol):
    """What the computations read from an incident row (core.db.tables.Incident fits)."""

    key: str
    title: str
    severity: int
    service: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    change_id: str | None


IncT = TypeVar("IncT", bound=IncidentLike)


class RecordLike(Protocol):
    """What the computations read from an event record (core.db.tables.EventRecord fits)."""

    ts: datetime
    kind: str
    attributes: dict[str, Any]


# ---------------------------------------------------------------------------- percentiles


def nearest_rank(values: Iterable[T], p: float) -> T | None:
    """Nearest-rank percentile: the value at 1-based rank ⌈p/100·n⌉ of the sorted values; None if empty."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class DurationStats:
    """Median and p90 (nearest-rank) of a set of durations, with how many were measured."""

    count: int
    median: timedelta | None
    p90: timedelta | None
    pending: int = 0
    """Incidents of the week the duration is not defined for yet (not acknowledged / resolved)."""


def duration_stats(durations: Sequence[timedelta], *, pending: int = 0) -> DurationStats:
    return DurationStats(len(durations), nearest_rank(durations, 50), nearest_rank(durations, 90), pending)


# ---------------------------------------------------------------------------- incidents


def created_in(incidents: Iterable[IncT], start: datetime, end: datetime) -> list[IncT]:
    """Incidents created in [start, end), oldest first."""
    return sorted((i for i in incidents if start <= i.created_at < end), key=lambda i: (i.created_at, i.key))


def mtta(incidents: Sequence[IncidentLike]) -> DurationStats:
    """Time to acknowledge over the incidents given (those acknowledged)."""
    acked = [i.acknowledged_at - i.created_at for i in incidents if i.acknowledged_at is not None]
    return duration_stats(acked, pending=len(incidents) - len(acked))


def mttr(incidents: Sequence[IncidentLike]) -> DurationStats:
    """Time to resolve over the incidents given (those resolved)."""
    resolved = [i.resolved_at - i.created_at for i in incidents if i.resolved_at is not None]
    return duration_stats(resolved, pending=len(incidents) - len(resolved))


def by_severity(incidents: Iterable[IncidentLike]) -> dict[int, int]:
    """Count per severity 1..4 (every severity present, zero when none)."""
    counts = Counter(i.severity for i in incidents)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def by_service(incidents: Iterable[IncidentLike]) -> list[tuple[str, int]]:
    """(service, count), most incidents first, then by name; no service counts as "(none)"."""
    counts = Counter(i.service or UNKNOWN_SERVICE for i in incidents)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def open_at(incidents: Iterable[IncT], instant: datetime) -> list[IncT]:
    """Incidents open at `instant`: created before it and not resolved before it; worst first."""
    still = [i for i in incidents if i.created_at < instant and (i.resolved_at is None or i.resolved_at >= instant)]
    return sorted(still, key=lambda i: (i.severity, i.created_at, i.key))


def per_day_by_severity(
    incidents: Iterable[IncidentLike], days: Sequence[tuple[date, datetime, datetime]]
) -> list[tuple[date, dict[int, int]]]:
    """Incidents created per local day (bounds from Week.day_bounds), split by severity."""
    items = list(incidents)
    return [(d, by_severity(i for i in items if lo <= i.created_at < hi)) for d, lo, hi in days]


# ---------------------------------------------------------------------------- alerts


def alert_name(record: RecordLike) -> str:
    """`alertname` attribute, else the `alertname` label, else "(unnamed)"."""
    attrs = record.attributes or {}
    name = attrs.get("alertname")
    if not name and isinstance(attrs.get("labels"), dict):
        name = attrs["labels"].get("alertname")
    return str(name) if name else UNNAMED_ALERT


def is_firing(record: RecordLike) -> bool:
    """An alert record counts unless it is the resolved notification of an episode."""
    return str((record.attributes or {}).get("status", "firing")).lower() != "resolved"


@dataclass(frozen=True)
class AlertStats:
    """Firing alerts in a week and the noisiest alert names."""

    total: int
    top: list[tuple[str, int]]
    distinct: int


def alert_stats(records: Iterable[RecordLike], *, limit: int = 10) -> AlertStats:
    """Volume of firing alerts and the `limit` noisiest names (count desc, then name)."""
    counts = Counter(alert_name(r) for r in records if r.kind == "alert" and is_firing(r))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return AlertStats(total=sum(counts.values()), top=ranked[:limit], distinct=len(counts))


# ---------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class ChangeStats:
    """Changes in a week and the share that led to an incident."""

    changes: int
    failed: int
    failure_rate: float | None


def change_stats(week_incidents: Iterable[IncidentLike], change_records: Iterable[RecordLike]) -> ChangeStats:
    """`failed` = incidents of the week linked to a change; rate = failed / changes (None without changes)."""
    n_changes = sum(1 for r in change_records if r.kind == "change")
    failed = sum(1 for i in week_incidents if i.change_id)
    return ChangeStats(n_changes, failed, failed / n_changes if n_changes else None)


# ---------------------------------------------------------------------------- SLOs


@dataclass(frozen=True)
class SLI:
    """An achieved service level (0..1) and how it was measured; `value` None when there is no data."""

    value: float | None
    samples: int
    notes: tuple[str, ...] = ()


Sample = tuple[str, datetime, float]
"""(entity_id, ts, value) of one metric sample."""


def availability_sli(error_ratio: Iterable[Sample], request_rate: Iterable[Sample]) -> SLI:
    """1 − mean error ratio weighted by request rate, pairing samples on (entity, ts).

    Weighting by traffic makes a quiet night's blip count less than a peak-hour outage.
    Without any request-rate sample the plain mean of the error ratio is used (and said).
    """
    notes: list[str] = []
    errors = {(e, ts): v for e, ts, v in error_ratio if math.isfinite(v)}
    rates = {(e, ts): v for e, ts, v in request_rate if math.isfinite(v)}
    if not errors:
        return SLI(None, 0, ("no http_error_ratio samples in the week",))
    paired = [(errors[k], rates[k]) for k in errors if k in rates]
    if not paired:
        notes.append("no request-rate samples at the error-ratio timestamps: unweighted mean of the error ratio")
        return SLI(1.0 - sum(errors.values()) / len(errors), len(errors), tuple(notes))
    if len(paired) < len(errors):
        unpaired = len(errors) - len(paired)
        notes.append(f"{unpaired} error-ratio samples had no request-rate sample at the same time and were left out")
    traffic = sum(r for _, r in paired)
    if traffic <= 0:
        return SLI(None, len(paired), (*notes, "no traffic in the week: availability undefined"))
    return SLI(1.0 - sum(e * r for e, r in paired) / traffic, len(paired), tuple(notes))


def latency_sli(latency_ms: Iterable[Sample], threshold_ms: float) -> SLI:
    """Fraction of latency samples at or under `threshold_ms`."""
    values = [v for _, _, v in latency_ms if math.isfinite(v)]
    if not values:
        return SLI(None, 0, ("no latency_p99_ms samples in the week",))
    good = sum(1 for v in values if v <= threshold_ms)
    return SLI(good / len(values), len(values))


def mean_ratio(points: Iterable[float]) -> SLI:
    """Mean of a query's SLI points (each already a good-fraction 0..1)."""
    values = [v for v in points if math.isfinite(v)]
    if not values:
        return SLI(None, 0, ("the query returned no data for the week",))
    return SLI(sum(values) / len(values), len(values))


@dataclass(frozen=True)
class Budget:
    """Error-budget arithmetic for one SLO over one week."""

    objective: float
    budget: float
    burn: float | None
    remaining: float | None
    met: bool | None


def error_budget(objective: float, achieved: float | None) -> Budget:
    """budget = 1 − objective; burn = (1 − achieved) / budget; remaining = 1 − burn."""
    budget = 1.0 - objective
    if achieved is None:
        return Budget(objective, budget, None, None, None)
    burn = (1.0 - achieved) / budget
    return Budget(objective, budget, burn, 1.0 - burn, achieved >= objective)


# ---------------------------------------------------------------------------- deltas


def delta(current: float | int | None, previous: float | int | None) -> float | None:
    """current − previous, or None when either side is undefined."""
    if current is None or previous is None:
        return None
    return float(current) - float(previous)


def seconds(d: timedelta | None) -> float | None:
    return d.total_seconds() if d is not None else None
