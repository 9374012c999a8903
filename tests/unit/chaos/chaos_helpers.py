"""Reading simulated telemetry back out of Events, the way a consumer would."""

from __future__ import annotations

from datetime import datetime

from chaos.simulate import SimulationResult
from core.model import Event, EventKind


def series(
    result: SimulationResult,
    metric: str,
    *,
    service: str | None = None,
    pod: str | None = None,
    node: str | None = None,
) -> list[tuple[datetime, float]]:
    """(ts, value) samples of one metric for an entity. ``service`` alone means the service-level series."""
    out = []
    for e in result.events:
        if e.kind != EventKind.METRIC or e.attributes["metric"] != metric:
            continue
        ent = e.entity
        if pod is not None:
            if ent.pod != pod:
                continue
        elif service is not None:
            if ent.service != service or ent.pod is not None:
                continue
        elif node is not None and (ent.node != node or ent.service is not None):
            continue
        out.append((e.ts, float(e.attributes["value"])))
    return out


def pods_of(result: SimulationResult, service: str) -> list[str]:
    return sorted(
        {
            e.entity.pod
            for e in result.events
            if e.kind == EventKind.METRIC and e.entity.service == service and e.entity.pod
        }
    )


def anomaly_onset(samples: list[tuple[datetime, float]], onset: datetime, direction: str) -> datetime | None:
    """First time after ``onset`` that the series leaves its baseline range for two samples in a row."""
    base = [v for ts, v in samples if ts < onset]
    after = [(ts, v) for ts, v in samples if ts >= onset]
    if not base or not after:
        return None
    if direction == "up":
        hi = max(base)
        limit = hi * 1.1 + max(1e-3, 0.02 * abs(hi))
        hits = [v > limit for _, v in after]
    else:
        lo = min(base)
        limit = lo * 0.8 if lo > 0 else lo - max(1e-3, 0.2 * abs(lo))
        hits = [v < limit for _, v in after]
    for i in range(len(after) - 1):
        if hits[i] and hits[i + 1]:
            return after[i][0]
    if hits and hits[-1] and len(after) == 1:
        return after[0][0]
    return None


def alerts(result: SimulationResult, status: str = "firing") -> list[Event]:
    return [e for e in result.events if e.kind == EventKind.ALERT and e.attributes["status"] == status]
