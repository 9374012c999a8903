"""One demo service, served in-process on a loopback port: work, faults, metrics, logs."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaos.local.service import ServiceConfig, make_server, parse_args
from chaos.local.stack import parse_exposition
from tests.fixtures.net import free_port


@contextlib.contextmanager
def serving(tmp_path: Path, name: str, deps: dict[str, str] | None = None, quota: int = 1024 * 1024) -> Iterator[str]:
    cfg = ServiceConfig(
        name=name,
        port=free_port(),
        log_file=tmp_path / "logs" / f"{name}.log",
        sandbox=tmp_path / "sandbox" / name,
        deps=deps or {},
        disk_quota_bytes=quota,
        base_latency_ms=0.5,
    )
    server, service = make_server(cfg)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{cfg.port}"
    finally:
        server.shutdown()
        server.server_close()
        service.close()


def _metrics(url: str) -> dict[str, float]:
    return parse_exposition(httpx.get(f"{url}/metrics").text)


def _log(tmp_path: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "logs" / f"{name}.log").read_text().splitlines()]


def test_healthy_request_is_counted_and_logged(tmp_path: Path) -> None:
    with serving(tmp_path, "payments") as url:
        for _ in range(3):
            r = httpx.get(f"{url}/", headers={"X-Trace-Id": "abc123"})
            assert r.status_code == 200 and r.json()["service"] == "payments"
        assert httpx.get(f"{url}/healthz").status_code == 200
        m = _metrics(url)
    assert m['http_requests_total{code="200",method="GET"}'] == 3
    assert m['http_request_duration_seconds_count{method="GET"}'] == 3
    for name in ("process_cpu_usage", "container_cpu_usage_seconds_total", "container_memory_working_set_bytes"):
        assert name in m
    assert m["sandbox_disk_quota_bytes"] == 1024 * 1024
    requests = [r for r in _log(tmp_path, "payments") if r.get("status")]
    assert len(requests) == 3  # /healthz and /metrics are not request lines
    assert requests[0]["level"] == "info" and requests[0]["trace_id"] == "abc123"
    assert requests[0]["ts"].endswith("Z") and requests[0]["service"] == "payments"


def test_error_fault_fails_requests_with_500_and_heals(tmp_path: Path) -> None:
    with serving(tmp_path, "payments") as url:
        state = httpx.post(f"{url}/fault", json={"error_rate": 1.0, "error_message": "card processor refused"}).json()
        assert state["error_rate"] == 1.0
        r = httpx.get(f"{url}/")
        assert r.status_code == 500 and r.json()["error"] == "card processor refused"
        httpx.post(f"{url}/fault", json={"error_rate": 0})
        assert httpx.get(f"{url}/").status_code == 200
        m = _metrics(url)
    assert m['http_requests_total{code="500",method="GET"}'] == 1
    errors = [r for r in _log(tmp_path, "payments") if r["level"] == "error"]
    assert [e["msg"] for e in errors] == ["card processor refused"]


def test_a_failing_dependency_makes_the_caller_answer_502_naming_it(tmp_path: Path) -> None:
    with serving(tmp_path, "payments") as pay, serving(tmp_path, "checkout", {"payments": pay}) as checkout:
        assert httpx.get(f"{checkout}/").status_code == 200
        httpx.post(f"{pay}/fault", json={"error_rate": 1.0})
        r = httpx.get(f"{checkout}/", headers={"X-Trace-Id": "t-1"})
        assert r.status_code == 502
        assert r.json()["error"] == "call to payments failed: HTTP 500"
        m = _metrics(checkout)
    assert m['http_client_requests_total{code="500",peer="payments"}'] == 1
    assert m['http_client_requests_total{code="200",peer="payments"}'] == 1
    line = next(r for r in _log(tmp_path, "checkout") if r["level"] == "error")
    assert line["peer"] == "payments" and line["trace_id"] == "t-1"
    # the trace id travelled to the dependency
    assert any(r.get("trace_id") == "t-1" and r.get("status") == 500 for r in _log(tmp_path, "payments"))


def test_unreachable_dependency_is_a_502(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with serving(tmp_path, "checkout", {"payments": dead}) as url:
        r = httpx.get(f"{url}/")
    assert r.status_code == 502 and r.json()["error"].startswith("call to payments failed:")


def test_latency_fault_slows_requests(tmp_path: Path) -> None:
    with serving(tmp_path, "catalog") as url:
        httpx.post(f"{url}/fault", json={"latency_ms": 300})
        httpx.get(f"{url}/")
        m = _metrics(url)
    # the one request landed above the 250 ms bucket boundary
    assert m['http_request_duration_seconds_bucket{le="0.25",method="GET"}'] == 0
    assert m['http_request_duration_seconds_bucket{le="0.5",method="GET"}'] == 1


def test_disk_fill_over_quota_fails_writes_like_a_full_disk(tmp_path: Path) -> None:
    with serving(tmp_path, "orders-db", quota=64 * 1024) as url:
        assert httpx.get(f"{url}/").status_code == 200
        httpx.post(f"{url}/fault", json={"disk_fill": {"path": "filler.bin", "bytes": 64 * 1024}})
        assert (tmp_path / "sandbox" / "orders-db" / "filler.bin").stat().st_size == 64 * 1024
        r = httpx.get(f"{url}/")
        assert r.status_code == 500
        assert "No space left on device" in r.json()["error"]
        assert _metrics(url)["sandbox_disk_used_bytes"] >= 64 * 1024
        httpx.post(f"{url}/fault", json={"disk_fill": None})
        assert not (tmp_path / "sandbox" / "orders-db" / "filler.bin").exists()
        assert httpx.get(f"{url}/").status_code == 200


def test_cpu_burn_starts_and_stops_a_burner(tmp_path: Path) -> None:
    with serving(tmp_path, "catalog") as url:
        assert httpx.post(f"{url}/fault", json={"cpu_burn": True, "cpu_duty": 0.2}).json()["cpu_burn"] is True
        names = {t.name for t in threading.enumerate()}
        assert "cpu-burn" in names
        httpx.post(f"{url}/fault", json={"reset": True})
        assert "cpu-burn" not in {t.name for t in threading.enumerate()}
        assert httpx.get(f"{url}/fault").json()["cpu_burn"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error_rate": 2}, "'error_rate' must be a number between 0 and 1"),
        ({"latency_ms": "slow"}, "'latency_ms'"),
        ({"cpu_burn": "yes"}, "'cpu_burn' must be true or false"),
        ({"explode": True}, "unknown fault field(s) 'explode'"),
        ({"disk_fill": {"path": "../../escape.bin", "bytes": 10}}, "outside the sandbox"),
        ({"disk_fill": {"path": "f.bin"}}, "'disk_fill' must be null or"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_fault_bodies_are_400_naming_the_field(tmp_path: Path, body: object, message: str) -> None:
    with serving(tmp_path, "payments") as url:
        before = httpx.get(f"{url}/fault").json()
        r = httpx.post(f"{url}/fault", json=body)
        assert r.status_code == 400
        assert message in r.json()["error"]
        assert httpx.get(f"{url}/fault").json() == before  # nothing half-applied
    assert not (tmp_path / "escape.bin").exists()


def test_fault_body_must_be_json(tmp_path: Path) -> None:
    with serving(tmp_path, "payments") as url:
        r = httpx.post(f"{url}/fault", content=b"{nope")
    assert r.status_code == 400 and "not JSON" in r.json()["error"]


def test_command_line() -> None:
    cfg = parse_args(
        [
            "--name",
            "checkout",
            "--port",
            "8101",
            "--log-file",
            "l.log",
            "--sandbox",
            "sb",
            "--deps",
            "payments=http://127.0.0.1:8102",
        ]
    )
    assert cfg.deps == {"payments": "http://127.0.0.1:8102"}
    with pytest.raises(SystemExit, match=r"name=http://127\.0\.0\.1:PORT"):
        parse_args(["--name", "c", "--port", "1", "--log-file", "l", "--sandbox", "s", "--deps", "payments"])
