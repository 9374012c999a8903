"""`sherlog serve`'s app: health, readiness (503 with detail when a store is down), metrics,
the intake endpoints mounted and counted, and Slack's endpoint refusing when not configured."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.server import check_port_free, create_app
from bot.services import BotServices, engine_ask
from core.errors import PortInUse
from core.settings import GraphSettings, Settings
from core.wiring import open_stack
from tests.fixtures.net import free_port
from tests.integration.bot.conftest import Demo, run_uvicorn


def test_health_ready_metrics_and_intake(demo: Demo) -> None:
    services = BotServices(settings=demo.stack.settings, db=demo.stack.db, ask=engine_ask(demo.stack))
    app = create_app(demo.stack.settings, stack=demo.stack, services=services)
    server, thread, port = run_uvicorn(app)
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{base}/health", timeout=10).json() == {"status": "ok"}
        ready = httpx.get(f"{base}/ready", timeout=30)
        assert ready.status_code == 200
        body = ready.json()
        assert body["ready"] is True
        assert {s["name"] for s in body["stores"]} == {"graph", "vector", "relational"}
        assert body["adapters"] == {"slack_http": False, "slack_socket_mode": False, "discord": False}

        slack = httpx.post(f"{base}/slack/events", content="{}", timeout=10)
        assert slack.status_code == 404 and "SHERLOG_SLACK__SIGNING_SECRET" in slack.json()["hint"]

        now = datetime.now(UTC).isoformat()
        logs = {"service": "checkout", "lines": [f"{now} ERROR checkout failed to reach orders-db"]}
        r = httpx.post(f"{base}/ingest/logs", json=logs, timeout=60)
        assert r.status_code < 300, r.text
        assert (
            httpx.post(
                f"{base}/ingest/logs", content=b"[", headers={"Content-Type": "application/json"}, timeout=30
            ).status_code
            == 400
        )

        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert 'sherlog_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
        assert f'sherlog_ingest_requests_total{{endpoint="/ingest/logs",status="{r.status_code}"}} 1.0' in text
        assert 'sherlog_ingest_requests_total{endpoint="/ingest/logs",status="400"} 1.0' in text
        assert "sherlog_answer_latency_seconds_bucket" in text or "sherlog_answer_latency_seconds" in text
    finally:
        server.should_exit = True
        thread.join(30)


def test_ready_is_503_with_detail_when_a_store_is_down(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens there
    settings = Settings(data_dir=tmp_path, graph=GraphSettings(uri=f"falkor://127.0.0.1:{dead}", graph_name="x"))
    stack = open_stack(settings, start=False)
    app = create_app(settings, stack=stack)
    server, thread, port = run_uvicorn(app)
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=60)
        assert r.status_code == 503
        stores = {s["name"]: s for s in r.json()["stores"]}
        assert stores["graph"]["running"] is False and str(dead) in stores["graph"]["detail"]
        assert stores["relational"]["running"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
    finally:
        server.should_exit = True
        thread.join(30)
        stack.close()


def test_a_taken_port_is_refused_with_a_clear_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port}") as e:
            check_port_free("127.0.0.1", port)
        assert e.value.hint and "--port" in e.value.hint
