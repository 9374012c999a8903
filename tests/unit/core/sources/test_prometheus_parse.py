"""Prometheus result parsing, golden-signal templates, series → events, and how
the client treats answers that are not what Prometheus sends (via httpx's
MockTransport standing in for the server; the real server is in
tests/integration/core/sources/test_prometheus_client_real.py)."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from core.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError, InvalidPayload
from core.model import EntityRef, EventKind
from core.sources.prometheus import (
    PrometheusClient,
    Series,
    golden_signal_queries,
    parse_query_data,
    series_to_events,
)

MATRIX = {
    "resultType": "matrix",
    "result": [
        {
            "metric": {"__name__": "http_requests_total", "service": "checkout", "namespace": "boutique"},
            "values": [[1715680800, "1.5"], [1715680815, "NaN"], [1715680830, "+Inf"], [1715680845, "2"]],
        },
        {"metric": {"service": "cart"}, "values": [[1715680800.5, "0"]]},
    ],
}


def test_matrix_vector_and_scalar_results() -> None:
    series = parse_query_data(MATRIX)
    assert series[0].name == "http_requests_total"
    assert series[0].points[0] == (1715680800.0, 1.5)
    assert math.isnan(series[0].points[1][1]) and series[0].points[2][1] == math.inf
    vector = parse_query_data({"resultType": "vector", "result": [{"metric": {"job": "x"}, "value": [1.0, "3"]}]})
    assert vector == [Series({"job": "x"}, [(1.0, 3.0)])]
    assert parse_query_data({"resultType": "scalar", "result": [2.0, "42"]}) == [Series({}, [(2.0, 42.0)])]
    with pytest.raises(InvalidPayload, match="string, not a number"):
        parse_query_data({"resultType": "string", "result": [1, "x"]})
    with pytest.raises(BackendError, match="not a number"):
        parse_query_data({"resultType": "vector", "result": [{"metric": {}, "value": [1, "abc"]}]})


def test_series_to_events_skips_non_finite_and_is_idempotent() -> None:
    series = parse_query_data(MATRIX)
    events = series_to_events(series, "request_rate", unit="req/s", defaults=EntityRef(cluster="sim"))
    assert [(e.entity.service, e.attributes["value"]) for e in events] == [
        ("checkout", 1.5),
        ("checkout", 2.0),
        ("cart", 0.0),
    ]
    ev = events[0]
    assert ev.kind is EventKind.METRIC and ev.attributes["metric"] == "request_rate"
    assert ev.attributes["unit"] == "req/s"
    assert ev.entity.primary_id() == "service:sim/boutique/checkout"
    assert ev.ts.timestamp() == 1715680800.0
    again = series_to_events(parse_query_data(MATRIX), "request_rate", unit="req/s")
    assert [e.dedup_key() for e in again] == [e.dedup_key() for e in events], "a re-pulled window dedups"


def test_golden_signal_templates() -> None:
    queries = {q.metric: q for q in golden_signal_queries("app", window="2m")}
    assert set(queries) == {"request_rate", "error_ratio", "latency_p50", "latency_p99", "cpu", "memory"}
    assert queries["request_rate"].promql == "sum by (app) (rate(http_requests_total[2m]))"
    assert 'code=~"5.."' in queries["error_ratio"].promql
    assert queries["latency_p99"].promql.startswith("histogram_quantile(0.99, sum by (app, le)")
    assert (queries["memory"].unit, queries["cpu"].unit) == ("bytes", "cores")
    custom = {
        q.metric: q
        for q in golden_signal_queries(
            overrides={"cpu": "sum by ($svc) (rate(process_cpu_seconds_total[$window]))", "queue": ("max(q)", "msgs")}
        )
    }
    assert custom["cpu"].promql == "sum by (service) (rate(process_cpu_seconds_total[5m]))"
    assert custom["cpu"].unit == "cores" and custom["queue"].unit == "msgs"
    with pytest.raises(ConfigError, match="placeholder"):
        golden_signal_queries(overrides={"x": "rate(m[$windw])"})
    with pytest.raises(ConfigError, match="not a valid Prometheus label name"):
        golden_signal_queries("service name")


def _client(handler: Any) -> PrometheusClient:
    return PrometheusClient("http://prom.test", client=httpx.Client(transport=httpx.MockTransport(handler)))


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (503, "service unavailable", BackendUnavailable, "HTTP 503"),
        (200, "<html>login</html>", BackendError, "non-JSON body"),
        (200, '{"hello": "world"}', BackendError, "not a Prometheus API response"),
        (
            422,
            '{"status": "error", "errorType": "execution", "error": "query processing would load too many samples '
            'into memory in query execution"}',
            InvalidPayload,
            "too many samples",
        ),
        (
            503,
            '{"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}',
            BackendTimeout,
            "query timed out in expression evaluation",
        ),
        (
            503,
            '{"status": "error", "errorType": "unavailable", "error": "TSDB not ready"}',
            BackendUnavailable,
            "TSDB not ready",
        ),
    ],
)
def test_answers_that_are_not_results(status: int, body: str, error: type[Exception], message: str) -> None:
    with _client(lambda req: httpx.Response(status, text=body)) as client, pytest.raises(error) as err:
        client.query("up")
    assert message in str(err.value)


def test_query_range_sends_prometheus_parameters() -> None:
    seen: dict[str, str] = {}

    def handler(req: httpx.Request) -> httpx.Response:
        seen.update(dict(req.url.params))
        seen["path"] = req.url.path
        return httpx.Response(200, json={"status": "success", "data": MATRIX})

    with _client(handler) as client:
        series = client.query_range("up", 1715680800, 1715681100.25, 15)
    assert len(series) == 2
    assert seen == {
        "path": "/api/v1/query_range",
        "query": "up",
        "start": "1715680800.000",
        "end": "1715681100.250",
        "step": "15",
    }
