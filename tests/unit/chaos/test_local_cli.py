"""The `chaos run --target local|k8s` command bodies: URLs from Settings, waiting for Sherlog's
answer (or not, when the server records none), and kubectl dry runs printed."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console

from chaos.local.cli import AnswerWatch, run_k8s_command, sherlog_url_from
from core.settings import ServerSettings, Settings
from tests.fixtures.net import free_port


@contextlib.contextmanager
def investigations_server(status: int, body: Any, seen: list[dict[str, str]]) -> Iterator[str]:
    """Answers GET /investigations with `status` and `body`, recording the request headers."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            data = json.dumps(body).encode()
            self.send_response(status if self.path == "/investigations" else 404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_sherlog_url_from_settings(tmp_path: Path) -> None:
    assert sherlog_url_from(Settings(data_dir=tmp_path)) == "http://127.0.0.1:8765"
    s = Settings(data_dir=tmp_path, server=ServerSettings(host="0.0.0.0", port=9000))
    assert sherlog_url_from(s) == "http://127.0.0.1:9000"


def test_answer_watch_finds_the_answer_about_the_service() -> None:
    items: list[dict[str, Any]] = [
        {"trigger": {"labels": {"service": "checkout"}}, "answer": {"summary": "checkout"}},
        {"trigger": {"labels": {"service": "payments"}}, "answer": None},  # still investigating
    ]
    seen: list[dict[str, str]] = []
    with investigations_server(200, {"investigations": items}, seen) as url:
        watch = AnswerWatch(url, "payments", token="tok")
        assert watch(None) is False  # type: ignore[arg-type]
        assert watch.supported is True and watch.found is None
        items[1]["answer"] = {"summary": "payments is failing"}
        assert watch(None) is True  # type: ignore[arg-type]
    assert watch.found is not None and watch.found["answer"]["summary"] == "payments is failing"
    assert seen[0]["Authorization"] == "Bearer tok"


def test_answer_watch_stops_at_once_when_sherlog_records_no_investigations() -> None:
    with investigations_server(404, {"detail": "Not Found"}, []) as url:
        watch = AnswerWatch(url, "payments")
        assert watch(None) is True  # type: ignore[arg-type]
    assert watch.supported is False and watch.found is None


def test_answer_watch_keeps_waiting_while_sherlog_is_unreachable() -> None:
    watch = AnswerWatch(f"http://127.0.0.1:{free_port()}", "payments")
    assert watch(None) is False  # type: ignore[arg-type]
    assert watch.supported is None


def test_k8s_command_dry_run_prints_the_commands() -> None:
    console = Console(record=True, width=200)
    results = run_k8s_command(
        "payments-bad-deploy",
        namespace="boutique",
        context="kind-demo",
        dry_run=True,
        kubectl="/nonexistent/kubectl",
        console=console,
    )
    text = console.export_text()
    assert [r.executed for r in results] == [False]
    assert (
        "would run: /nonexistent/kubectl --context kind-demo --namespace boutique set image deployment/payments "
        "payments=nonexistent.invalid/none:0" in text
    )
