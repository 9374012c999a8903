"""PrometheusClient against a real Prometheus (Debian package) scraping a real
prometheus_client exporter on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from core.errors import BackendTimeout, BackendUnavailable, InvalidPayload
from core.model import EventKind
from core.sources.prometheus import PrometheusClient, golden_signal_queries, series_to_events
from tests.fixtures.net import free_port
from tests.fixtures.procs import ServerProcess
from tests.fixtures.prometheus import throwaway_prometheus, wait_for_series


@pytest.fixture(scope="module")
def exporter() -> Iterator[int]:
    """A real /metrics endpoint with per-service request counters and a memory gauge."""
    registry = CollectorRegistry()
    requests = Counter("http_requests", "requests", ["service", "code"], registry=registry)
    memory = Gauge("container_memory_working_set_bytes", "memory", ["service"], registry=registry)
    requests.labels("checkout", "200").inc(120)
    requests.labels("checkout", "500").inc(7)
    requests.labels("cart", "200").inc(40)
    memory.labels("checkout").set(256 * 1024 * 1024)
    memory.labels("cart").set(64 * 1024 * 1024)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def prom(exporter: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with throwaway_prometheus(tmp_path_factory.mktemp("prom"), targets=[f"127.0.0.1:{exporter}"]) as server:
        wait_for_series(server.url, 'container_memory_working_set_bytes{job="targets"}')
        yield server


def test_query_range_returns_the_scraped_series(prom: ServerProcess) -> None:
    with PrometheusClient(prom.url) as client:
        end = time.time()
        series = client.query_range('http_requests_total{job="targets"}', end - 60, end, 1)
    by_key = {(s.labels["service"], s.labels["code"]): s for s in series}
    assert set(by_key) == {("checkout", "200"), ("checkout", "500"), ("cart", "200")}
    checkout_errors = by_key[("checkout", "500")]
    assert checkout_errors.name == "http_requests_total"
    assert checkout_errors.points, "a range query over a scraped counter has points"
    assert all(v == 7.0 for _, v in checkout_errors.points)
    times = [t for t, _ in checkout_errors.points]
    assert times == sorted(times) and all(end - 61 <= t <= end + 1 for t in times)


def test_instant_query_and_events_for_a_golden_signal(prom: ServerProcess) -> None:
    memory_q = next(q for q in golden_signal_queries("service") if q.metric == "memory")
    with PrometheusClient(prom.url) as client:
        series = client.query(memory_q.promql)
    values = {s.labels["service"]: s.points[0][1] for s in series}
    assert values == {"checkout": 256 * 1024 * 1024, "cart": 64 * 1024 * 1024}
    events = series_to_events(series, memory_q.metric, unit=memory_q.unit)
    assert {e.entity.service for e in events} == {"checkout", "cart"}
    assert all(e.kind is EventKind.METRIC and e.attributes["unit"] == "bytes" for e in events)


def test_every_default_golden_signal_query_is_valid_promql(prom: ServerProcess) -> None:
    # Prometheus parses each template: a syntax error would come back as InvalidPayload
    with PrometheusClient(prom.url) as client:
        for q in golden_signal_queries("service", window="1m"):
            client.query(q.promql)


def test_a_promql_error_carries_prometheus_own_message(prom: ServerProcess) -> None:
    with PrometheusClient(prom.url) as client, pytest.raises(InvalidPayload) as err:
        client.query("sum(rate(http_requests_total[5m]")
    assert "bad_data" in str(err.value)
    assert "unclosed left parenthesis" in str(err.value)


def test_unreachable_server_is_backend_unavailable() -> None:
    with PrometheusClient(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(BackendUnavailable):
        client.query("up")


def test_a_server_that_never_answers_is_a_timeout(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection, never answers HTTP
        port = listener.getsockname()[1]
        with PrometheusClient(f"http://127.0.0.1:{port}", timeout_s=0.3) as client, pytest.raises(BackendTimeout):
            client.query("up")
