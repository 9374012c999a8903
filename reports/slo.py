"""Evaluate the SLOs of `[report] slos` in sherlog.toml for one week.

Two sources:

- ingested metrics (default): availability from `http_error_ratio` weighted by
  `http_requests_per_second`, latency from `latency_p99_ms` against `threshold_ms`,
  over the metric points of the SLO's service entity;
- a Prometheus query (`query = "..."`) when `sources.prometheus_url` is set. The query
  must return the SLI itself, a good-fraction between 0 and 1 (e.g.
  `sum(rate(http_requests_total{code!~"5.."}[5m])) / sum(rate(http_requests_total[5m]))`);
  it is evaluated every 5 minutes over the week and the points are averaged.

A source that cannot answer becomes a caveat on that SLO, never a failed report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from core.db.store import RelationalStore
from core.db.tables import MetricPoint
from core.errors import SherlogError
from core.knowledge.schema import short_name
from core.settings import SLO, Settings
from core.sources.prometheus import PrometheusClient
from reports.metrics import SLI, Budget, Sample, availability_sli, error_budget, latency_sli, mean_ratio
from reports.week import Week

ERROR_RATIO = "http_error_ratio"
REQUEST_RATE = "http_requests_per_second"
LATENCY_P99 = "latency_p99_ms"
PROMETHEUS_STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class SLOResult:
    """One SLO over one week: what was achieved, from where, and its error budget."""

    name: str
    service: str
    kind: str
    objective: float
    threshold_ms: float | None
    source: str
    sli: SLI
    budget: Budget
    caveats: tuple[str, ...] = field(default_factory=tuple)

    @property
    def achieved(self) -> float | None:
        return self.sli.value


def _service_entities(db: RelationalStore, service: str, metrics: Sequence[str], week: Week) -> list[str]:
    """Entity ids whose metric points belong to `service`: an exact id, or every `service:.../<name>`."""
    if ":" in service:
        return [service]
    table = MetricPoint.__table__  # type: ignore[attr-defined]
    stmt = (
        sa.select(table.c.entity_id)
        .where(table.c.metric.in_(list(metrics)), table.c.ts >= week.start, table.c.ts < week.end)
        .distinct()
    )
    with db.session() as s:
        ids = [str(r) for r in s.execute(stmt).scalars()]
    return sorted(i for i in ids if i.startswith("service:") and short_name(i) == service)


def _samples(db: RelationalStore, entity_ids: list[str], metric: str, week: Week) -> list[Sample]:
    if not entity_ids:
        return []
    rows = db.metric_points(since=week.start, until=week.end, entity_ids=entity_ids, metrics=[metric])
    return [(p.entity_id, p.ts, p.value) for p in rows]


def _from_metrics(db: RelationalStore, slo: SLO, week: Week) -> SLI:
    if slo.kind == "latency":
        assert slo.threshold_ms is not None
        ids = _service_entities(db, slo.service, [LATENCY_P99], week)
        return latency_sli(_samples(db, ids, LATENCY_P99, week), slo.threshold_ms)
    ids = _service_entities(db, slo.service, [ERROR_RATIO, REQUEST_RATE], week)
    if not ids:
        return SLI(None, 0, (f"no metric points for service {slo.service!r} in the week",))
    return availability_sli(_samples(db, ids, ERROR_RATIO, week), _samples(db, ids, REQUEST_RATE, week))


def _from_prometheus(client: PrometheusClient, slo: SLO, week: Week) -> SLI:
    assert slo.query is not None
    last = week.end - PROMETHEUS_STEP  # the point at `end` belongs to the next week
    series = client.query_range(slo.query, week.start, last, PROMETHEUS_STEP)
    values = [v for s in series for _, v in s.points if math.isfinite(v)]
    sli = mean_ratio(values)
    if len(series) > 1:
        return SLI(sli.value, sli.samples, (*sli.notes, f"the query returned {len(series)} series; all averaged"))
    return sli


def evaluate_slo(
    db: RelationalStore, settings: Settings, slo: SLO, week: Week, *, prometheus: PrometheusClient | None = None
) -> SLOResult:
    """One SLO for `week`; problems become caveats on the result."""
    caveats: list[str] = []

    def result(source: str, sli: SLI) -> SLOResult:
        return SLOResult(
            name=slo.name,
            service=slo.service,
            kind=slo.kind,
            objective=slo.objective,
            threshold_ms=slo.threshold_ms,
            source=source,
            sli=sli,
            budget=error_budget(slo.objective, sli.value),
            caveats=tuple(caveats) + sli.notes,
        )

    if slo.kind == "latency" and slo.threshold_ms is None and not slo.query:
        caveats.append("a latency SLO needs threshold_ms (or a Prometheus query): not evaluated")
        return result("none", SLI(None, 0))
    if slo.query:
        if prometheus is None:
            caveats.append(
                "has a Prometheus query but sources.prometheus_url is not set: evaluated on ingested metrics instead"
            )
        else:
            try:
                return result("prometheus", _from_prometheus(prometheus, slo, week))
            except SherlogError as e:
                caveats.append(f"Prometheus query failed: {e.message}")
                return result("prometheus", SLI(None, 0))
        if slo.kind == "latency" and slo.threshold_ms is None:
            caveats.append("a latency SLO on ingested metrics needs threshold_ms: not evaluated")
            return result("none", SLI(None, 0))
    return result("metrics", _from_metrics(db, slo, week))


def evaluate_slos(
    db: RelationalStore, settings: Settings, week: Week, *, prometheus: PrometheusClient | None = None
) -> list[SLOResult]:
    """Every configured SLO for `week`, in configuration order.

    A Prometheus client is built from `settings.sources.prometheus_url` when any SLO has a
    query and none was passed in.
    """
    slos = settings.report.slos
    own = None
    if prometheus is None and settings.sources.prometheus_url and any(s.query for s in slos):
        prometheus = own = PrometheusClient(settings.sources.prometheus_url)
    try:
        return [evaluate_slo(db, settings, slo, week, prometheus=prometheus) for slo in slos]
    finally:
        if own is not None:
            own.close()
