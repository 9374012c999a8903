"""Prometheus HTTP API pull client (`/api/v1/query_range`, `/api/v1/query`),
the golden-signal and resource PromQL templates Sherlog pulls per service,
and the mapping of result series to metric Events.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from string import Template
from typing import Any

import httpx

from core.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError, InvalidPayload
from core.model import EntityRef, Event, EventKind
from core.sources.common import entity_from_labels, type_name
from core.sources.httpjson import DEFAULT_TIMEOUT_S, get_json

BACKEND = "prometheus"


@dataclass
class Series:
    """One result series: its labels and (epoch seconds, value) points in time order."""

    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.labels.get("__name__")


@dataclass(frozen=True)
class MetricQuery:
    """A named PromQL query whose results are stored under `metric` with `unit`."""

    metric: str
    promql: str
    unit: str


TimeLike = datetime | float | int
StepLike = timedelta | float | int | str


def _ts_param(t: TimeLike) -> str:
    return f"{t.timestamp():.3f}" if isinstance(t, datetime) else f"{float(t):.3f}"


def _step_param(step: StepLike) -> str:
    if isinstance(step, timedelta):
        return f"{step.total_seconds():g}"
    if isinstance(step, str):
        return step
    return f"{float(step):g}"


def _value(raw: Any, where: str) -> float:
    # Prometheus encodes sample values as strings ("1.5", "NaN", "+Inf")
    try:
        return float(raw)
    except (TypeError, ValueError) as e:
        raise BackendError(f"prometheus: {where}: sample value {raw!r} is not a number", backend=BACKEND) from e


def _point(pair: Any, where: str) -> tuple[float, float]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise BackendError(f"prometheus: {where}: expected [time, value], got {type_name(pair)}", backend=BACKEND)
    return float(pair[0]), _value(pair[1], where)


def parse_query_data(data: Any) -> list[Series]:
    """The `data` object of a query/query_range answer (matrix, vector, scalar or string) → Series."""
    if not isinstance(data, Mapping):
        raise BackendError(f"prometheus: 'data' is {type_name(data)}, expected an object", backend=BACKEND)
    rtype, result = data.get("resultType"), data.get("result")
    if rtype == "matrix":
        return [
            Series(dict(s.get("metric") or {}), [_point(p, f"result[{i}]") for p in s.get("values") or []])
            for i, s in enumerate(result or [])
        ]
    if rtype == "vector":
        return [
            Series(dict(s.get("metric") or {}), [_point(s.get("value"), f"result[{i}]")])
            for i, s in enumerate(result or [])
        ]
    if rtype == "scalar":
        return [Series({}, [_point(result, "result")])]
    if rtype == "string":
        # a string result has no numeric value to store
        raise InvalidPayload("prometheus: the query returns a string, not a number; query a metric instead")
    raise BackendError(f"prometheus: unknown resultType {rtype!r}", backend=BACKEND)


class PrometheusClient:
    """Reads series from a Prometheus (or API-compatible: Thanos, Mimir, VictoriaMetrics) server."""

    def __init__(
        self, base_url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, client: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout_s)
        self._owns_client = client is None

    def _get(self, path: str, params: dict[str, str]) -> list[Series]:
        url = f"{self.base_url}{path}"
        status, body = get_json(self._client, url, backend=BACKEND, params=params, json_5xx=True)
        if not isinstance(body, Mapping) or "status" not in body:
            raise BackendError(
                f"prometheus at {url}: answer is not a Prometheus API response: {str(body)[:200]}",
                backend=BACKEND,
                hint="is the URL the Prometheus root (http://host:9090)?",
            )
        if body["status"] != "success":
            etype, msg = body.get("errorType", "error"), body.get("error", "no error text")
            if etype == "timeout":
                raise BackendTimeout(
                    f"prometheus query timed out: {msg}",
                    backend=BACKEND,
                    hint="narrow the time range or raise the step",
                )
            if status >= 500:
                raise BackendUnavailable(f"prometheus failed (HTTP {status}, {etype}): {msg}", backend=BACKEND)
            if status in (400, 422) or etype in ("bad_data", "execution"):
                raise InvalidPayload(
                    f"prometheus rejected the query ({etype}): {msg}",
                    hint=f"check the PromQL: {params.get('query', '')[:200]}",
                )
            raise BackendError(f"prometheus query failed (HTTP {status}, {etype}): {msg}", backend=BACKEND)
        return parse_query_data(body.get("data"))

    def query_range(self, promql: str, start: TimeLike, end: TimeLike, step: StepLike) -> list[Series]:
        """Range query: every series with its points between start and end at `step` resolution."""
        return self._get(
            "/api/v1/query_range",
            {"query": promql, "start": _ts_param(start), "end": _ts_param(end), "step": _step_param(step)},
        )

    def query(self, promql: str, at: TimeLike | None = None) -> list[Series]:
        """Instant query; each series has a single point."""
        params = {"query": promql}
        if at is not None:
            params["time"] = _ts_param(at)
        return self._get("/api/v1/query", params)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- golden signals ---------------------------------------------------------------------------

# `$svc` is the label naming the service, `$window` the rate window. Metric names
# follow the common conventions (Prometheus client libraries, cAdvisor).
DEFAULT_GOLDEN_SIGNALS: dict[str, tuple[str, str]] = {
    "request_rate": ("sum by ($svc) (rate(http_requests_total[$window]))", "req/s"),
    "error_ratio": (
        'sum by ($svc) (rate(http_requests_total{code=~"5.."}[$window]))'
        " / sum by ($svc) (rate(http_requests_total[$window]))",
        "ratio",
    ),
    "latency_p50": (
        "histogram_quantile(0.5, sum by ($svc, le) (rate(http_request_duration_seconds_bucket[$window])))",
        "s",
    ),
    "latency_p99": (
        "histogram_quantile(0.99, sum by ($svc, le) (rate(http_request_duration_seconds_bucket[$window])))",
        "s",
    ),
    "cpu": ("sum by ($svc) (rate(container_cpu_usage_seconds_total[$window]))", "cores"),
    "memory": ("sum by ($svc) (container_memory_working_set_bytes)", "bytes"),
}


def golden_signal_queries(
    service_label: str = "service",
    *,
    window: str = "5m",
    overrides: Mapping[str, str | tuple[str, str]] | None = None,
) -> list[MetricQuery]:
    """The per-service queries to pull: request rate, error ratio, p50/p99 latency, CPU, memory.

    `overrides` replaces a template (or adds a metric) by name; a value is a PromQL
    template (`$svc`, `$window` placeholders) or a (template, unit) pair.
    """
    if not service_label.replace("_", "").isalnum():
        raise ConfigError(f"service_label {service_label!r} is not a valid Prometheus label name")
    templates: dict[str, tuple[str, str]] = dict(DEFAULT_GOLDEN_SIGNALS)
    for name, value in (overrides or {}).items():
        if isinstance(value, str):
            templates[name] = (value, templates.get(name, ("", ""))[1])
        else:
            templates[name] = (value[0], value[1])
    out: list[MetricQuery] = []
    for name, (tpl, unit) in templates.items():
        try:
            promql = Template(tpl).substitute(svc=service_label, window=window)
        except (KeyError, ValueError) as e:
            raise ConfigError(f"golden signal '{name}': bad template placeholder {e}; use $svc and $window only") from e
        out.append(MetricQuery(metric=name, promql=promql, unit=unit))
    return out


def series_to_events(
    series: Sequence[Series],
    metric_name: str,
    *,
    unit: str | None = None,
    defaults: EntityRef | None = None,
    source: str = "prometheus",
) -> list[Event]:
    """One metric Event per point, placed on the entity its labels name.

    NaN and ±Inf points are left out: Prometheus uses them for "no data" (0/0
    ratios, empty histograms), not as measurements.
    """
    events: list[Event] = []
    for s in series:
        entity = entity_from_labels(s.labels, defaults)
        key = hashlib.sha256(repr(sorted(s.labels.items())).encode()).hexdigest()[:16]
        for ts, value in s.points:
            if not math.isfinite(value):
                continue
            events.append(
                Event(
                    source=source,
                    kind=EventKind.METRIC,
                    ts=datetime.fromtimestamp(ts, tz=UTC),
                    entity=entity,
                    body=f"{metric_name}={value:g}",
                    attributes={"metric": metric_name, "value": value, "unit": unit, "labels": s.labels},
                    # a re-pulled window overlaps the last one: the same point is a duplicate
                    ingest_id=f"prom:{metric_name}:{key}:{ts:.3f}",
                )
            )
    return events
