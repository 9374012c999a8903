"""The local chaos target end to end, with real processes everywhere.

1. The demo app's faults are real: a killed service is gone and comes back, errors and a
   full sandbox propagate to callers as 5xx, a burner really uses CPU, latency lands in the
   histogram.
2. Fault → alert → Sherlog: with Sherlog's real server (`bot.server.create_app`) on the
   session FalkorDB, `run_local` starts the demo app, Prometheus and Alertmanager (Debian
   packages), feeds Sherlog, makes `payments` fail, and Alertmanager's webhook delivers
   HighErrorRate for `payments` to Sherlog, which stores it on the payments service.
3. Sherlog's answer: the same run, waiting for the answer Sherlog works out on its own from
   the alert (bot.investigate); it must name `payments`, also when the alert that triggered it
   was on a caller.

The hook's record this test reads: `GET /investigations` →
`{"investigations": [{"id", "trigger": {"source", "alertname", "labels": {...}, "fingerprints"},
"question", "status": "running"|"done"|"failed", "answer": <Answer JSON, null until done>,
"error", "posted_to", "created_at", "finished_at"}]}`, newest first, one item per firing
notification group.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.local.app import DemoApp
from chaos.local.faults import make_fault
from chaos.local.procs import poll
from chaos.local.run import LocalRunResult, run_local
from chaos.local.stack import LocalTarget, parse_exposition
from core.errors import BackendUnavailable
from core.model import Answer
from core.settings import Settings
from core.wiring import Stack, open_stack
from tests.fixtures.net import free_port, wait_for_port
from tests.fixtures.procs import require_binary

pytestmark = pytest.mark.slow

PAYMENTS = "service:local/demo/payments"
INVESTIGATIONS = "/investigations"


def _metric(app: DemoApp, service: str, name: str) -> float:
    return parse_exposition(httpx.get(f"{app.url(service)}/metrics", timeout=5).text).get(name, 0.0)


def _get(app: DemoApp, service: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"{app.url(service)}{path}", timeout=10)


def test_demo_app_faults_are_real_and_heal(tmp_path: Path) -> None:
    with DemoApp(tmp_path, disk_quota_bytes=1024 * 1024) as app:
        assert _get(app, "frontend").status_code == 200

        errors = make_fault(app, "errors", "payments", {"rate": 1.0})
        errors.inject()
        assert _get(app, "checkout").json()["error"] == "call to payments failed: HTTP 500"
        assert _get(app, "frontend").json()["error"] == "call to checkout failed: HTTP 502"
        errors.heal()
        assert _get(app, "frontend").status_code == 200

        kill = make_fault(app, "kill", "catalog")
        old_pid = app.process("catalog").pid
        kill.inject()
        assert not app.process("catalog").alive
        with pytest.raises(httpx.ConnectError):
            _get(app, "catalog", "/healthz")
        assert _get(app, "frontend").json()["error"].startswith("call to catalog failed:")
        kill.heal()
        assert app.process("catalog").pid != old_pid
        assert _get(app, "catalog", "/healthz").json()["pid"] == app.process("catalog").pid
        assert _get(app, "frontend").status_code == 200

        fill = make_fault(app, "disk_fill", "orders-db")
        fill.inject()
        filler = tmp_path / "sandbox" / "orders-db" / "filler.bin"
        assert filler.stat().st_size == 1024 * 1024
        assert "No space left on device" in _get(app, "orders-db").json()["error"]
        assert _get(app, "checkout").json()["error"] == "call to orders-db failed: HTTP 500"
        fill.heal()
        assert not filler.exists()
        assert _get(app, "checkout").status_code == 200

        latency = make_fault(app, "latency", "payments", {"ms": 300})
        latency.inject()
        fast = 'http_request_duration_seconds_bucket{le="0.25",method="GET"}'
        fast_before = _metric(app, "payments", fast)
        _get(app, "payments")
        assert _metric(app, "payments", fast) == fast_before  # the request took longer than 250 ms
        latency.heal()

        cpu_name = "container_cpu_usage_seconds_total"
        cpu_before = _metric(app, "catalog", cpu_name)
        burn = make_fault(app, "cpu_burn", "catalog", {"duty": 0.5})
        burn.inject()
        # a burner is real work: the process accumulates CPU time while otherwise idle
        poll(lambda: _metric(app, "catalog", cpu_name) - cpu_before >= 0.3, timeout=30, what="catalog burning CPU")
        burn.heal()
        assert _get(app, "catalog", "/fault").json()["cpu_burn"] is False

    # the services were stopped with their process groups
    assert all(not app.process(n).alive for n in app.names)
    logged = (tmp_path / "logs" / "payments.log").read_text()
    assert '"level":"error"' in logged and "internal error" in logged


def test_a_failed_start_stops_everything_it_started(tmp_path: Path) -> None:
    require_binary("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager")
    # a "prometheus" that exits at once: the services and Alertmanager are already up by then
    target = LocalTarget(tmp_path, "http://127.0.0.1:1/hook", prometheus_bin="/bin/false")
    with pytest.raises(BackendUnavailable, match="prometheus exited with code 1"):
        target.start()
    assert target.alertmanager is not None and not target.alertmanager.alive
    assert all(not target.app.process(n).alive for n in target.app.names)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{target.alertmanager_url}/-/ready", timeout=2)


# --------------------------------------------------------------------------- Sherlog's server


@dataclass
class RunningSherlog:
    url: str
    stack: Stack


@contextlib.contextmanager
def sherlog_server(settings: Settings) -> Iterator[RunningSherlog]:
    """`sherlog serve`'s app (bot.server.create_app) under uvicorn on a free loopback port."""
    import uvicorn

    from bot.server import create_app

    stack = open_stack(settings, start=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, stack=stack), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port, timeout=60)
        url = f"http://127.0.0.1:{port}"
        poll(lambda: httpx.get(f"{url}/health").status_code == 200, timeout=30, what="sherlog /health")
        yield RunningSherlog(url, stack)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        stack.close()


def _require_target_binaries() -> None:
    require_binary("/usr/bin/prometheus", "prometheus")
    require_binary("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager")


def test_fault_alert_and_telemetry_reach_sherlog(settings: Settings, tmp_path: Path) -> None:
    _require_target_binaries()
    with sherlog_server(settings) as sherlog:
        result = run_local("errors:payments", sherlog_url=sherlog.url, workdir=tmp_path / "target")

        assert result.delivered_at is not None and result.fired_at is not None
        labels = result.alert["labels"]
        assert (labels["alertname"], labels["service"]) == ("HighErrorRate", "payments")
        assert result.webhook_failures == 0
        # the alert Alertmanager delivered is stored on the payments service
        rows = sherlog.stack.graph.query(
            "MATCH (a:Alert)-[:FIRED_ON]->(s) WHERE a.alertname = $name RETURN s.id AS sid, a.status AS status",
            {"name": "HighErrorRate"},
        )
        assert PAYMENTS in {r["sid"] for r in rows}, rows
        # the telemetry went through the intake without a single rejection
        feed = result.feed
        assert feed is not None
        assert feed.problems == [] and feed.rejected == 0
        assert feed.log_events > 0 and feed.metric_events > 0 and feed.topology_entities >= 5
        # payments' failures are among the stored log lines
        failures = [line for line in sherlog.stack.db.log_lines(service=PAYMENTS) if line.level == "error"]
        assert failures, "no payments error line reached Sherlog"
        assert all(line.message.startswith("internal error") for line in failures)
        # the traffic really failed while the fault was on, and the fault was undone
        assert result.load is not None and result.load.failed > 0
        assert result.healed_at is not None


# --------------------------------------------------------------------------- Sherlog's answer


def _investigations(url: str) -> list[dict[str, Any]]:
    """What Sherlog investigated on its own (the auto-investigation hook's record)."""
    r = httpx.get(f"{url}{INVESTIGATIONS}", timeout=10)
    r.raise_for_status()
    items: list[dict[str, Any]] = r.json()["investigations"]
    return items


def _about(item: dict[str, Any], service: str) -> bool:
    labels = (item.get("trigger") or {}).get("labels") or {}
    return labels.get("service") == service


def test_sherlog_answer_names_the_faulted_service(settings: Settings, tmp_path: Path) -> None:
    _require_target_binaries()
    with sherlog_server(settings) as sherlog:
        assert _investigations(sherlog.url) == []  # a fresh server has investigated nothing yet

        def answered(_: LocalRunResult) -> bool:
            return any(_about(i, "payments") and i.get("answer") for i in _investigations(sherlog.url))

        result = run_local("errors:payments", sherlog_url=sherlog.url, workdir=tmp_path / "target", wait_for=answered)
        assert result.waited, f"Sherlog posted no answer about payments within 60 s of the alert: {result}"

        investigations = _investigations(sherlog.url)
        item = next(i for i in investigations if _about(i, "payments") and i.get("answer"))
        assert item["trigger"]["alertname"] == "HighErrorRate" and item["trigger"]["source"] == "alertmanager"
        assert item["status"] == "done" and item["question"] == "why is payments firing HighErrorRate?"
        answer = Answer.model_validate(item["answer"])
        assert answer.root_causes, answer.summary
        assert answer.root_causes[0].entity == PAYMENTS, [rc.entity for rc in answer.root_causes]
        assert "payments" in answer.summary
        # the callers alerted too (their requests failed through payments): whatever Sherlog already
        # answered about them must trace it back to payments, not stop at the alerting service
        for caller in ("checkout", "frontend"):
            for other in (i for i in investigations if _about(i, caller) and i.get("answer")):
                top = Answer.model_validate(other["answer"]).root_causes
                assert top and top[0].entity == PAYMENTS, (caller, [rc.entity for rc in top])
