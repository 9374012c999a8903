"""`sherlog chat`: the console adapter has the demo conversation over the real engine, and the
`chat` / `serve` commands work through the Typer app that `bot.cli.register` builds."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys

import httpx
import typer
from typer.testing import CliRunner

from bot.cli import register
from bot.console import ConsoleChat
from bot.incidents import AskFn
from bot.services import BotServices
from tests.fixtures.net import free_port, wait_for_port
from tests.integration.bot.conftest import PROJECT_ROOT, Demo


def test_console_demo_conversation(demo: Demo, real_ask: AskFn) -> None:
    services = BotServices(settings=demo.stack.settings, db=demo.stack.db, ask=real_ask)
    out = io.StringIO()
    chat = ConsoleChat(services, user="@alice", out=out)

    answer = chat.handle("why is checkout failing?")
    assert answer is not None and answer.startswith(f"Root cause: {demo.truth.root_cause}")
    assert "Evidence (" in answer and "Causal path:" in answer
    assert "Investigating" in out.getvalue()  # the placeholder, printed before the engine ran

    follow = chat.handle("what changed there?")
    assert follow and demo.stack.db.get_thread_memory("console", "console", chat.thread)

    assert chat.handle("/helpful") == "Thanks — feedback recorded."
    full = chat.handle("/evidence")
    assert full is not None and re.search(r"Evidence \((\d+) of \1\)", full)

    declared = chat.handle("/incident declare Checkout failing sev2")
    assert declared is not None
    m = re.search(r"INC-\d+", declared)
    assert m is not None
    key = m.group(0)
    assert "lead" in (chat.handle("/incident lead @alice") or "")
    rca = chat.handle("/incident rca")
    assert rca is not None and f"Root cause: {demo.truth.root_cause}" in rca
    assert "resolved" in (chat.handle("/incident resolve raised max_connections") or "")
    pm = chat.handle("/incident postmortem")
    assert pm is not None and f"# Postmortem: {key} — Checkout failing" in pm and "**orders-db**" in pm
    assert demo.stack.db.get_incident(key).status == "resolved"

    bad = chat.handle("/incident sev 9")
    assert bad is not None and "severity must be 1" in bad
    assert "Unknown command" in (chat.handle("/frobnicate") or "")
    assert chat.handle("/new") == "Started a new conversation thread."
    assert chat.handle("/quit") is None


def _env(demo: Demo) -> dict[str, str]:
    s = demo.stack.settings
    return {
        "SHERLOG_DATA_DIR": str(s.data_dir),
        "SHERLOG_GRAPH__URI": str(s.graph.uri),
        "SHERLOG_GRAPH__GRAPH_NAME": s.graph.graph_name,
    }


def test_chat_command_reads_the_terminal(demo: Demo) -> None:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(
        app, ["chat", "--user", "@bob"], input="why is checkout failing?\n/incident list\n/quit\n", env=_env(demo)
    )
    assert result.exit_code == 0, result.output
    assert f"Root cause: {demo.truth.root_cause}" in result.output
    assert "Open incidents" in result.output


def test_serve_command_binds_loopback_and_answers_health(demo: Demo) -> None:
    port = free_port()
    script = "import typer, bot.cli as c; app = typer.Typer(); c.register(app); app()"
    env = {**os.environ, **_env(demo), "SHERLOG_CONFIG": "/nonexistent/sherlog.toml"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "serve", "--port", str(port), "--log-level", "warning"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=120)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()[-2000:]
