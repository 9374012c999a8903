"""`sherlog up / status / down / reset` as a user runs them, against the real embedded FalkorDB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.graph import build_graph_store, embedded_server
from core.settings import GraphSettings, Settings
from tests.fixtures.net import free_port

SHERLOG = [sys.executable, "-m", "core.cli.main"]


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHERLOG_")}
    env.update(
        SHERLOG_DATA_DIR=str(tmp_path / "data"),
        SHERLOG_GRAPH__PORT=str(free_port()),
        SHERLOG_CONFIG=str(tmp_path / "none.toml"),
    )
    yield env
    subprocess.run([*SHERLOG, "down"], env=env, capture_output=True, timeout=60, check=False)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHERLOG, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def settings_for(env: dict[str, str]) -> Settings:
    return Settings(data_dir=Path(env["SHERLOG_DATA_DIR"]), graph=GraphSettings(port=int(env["SHERLOG_GRAPH__PORT"])))


def test_up_status_down(cli_env: dict[str, str]) -> None:
    up = run(cli_env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "started" in up.stdout
    again = run(cli_env, "up")
    assert again.returncode == 0 and "already running" in again.stdout
    st = run(cli_env, "status", "--json")
    assert st.returncode == 0, st.stdout + st.stderr
    doc = json.loads(st.stdout)
    assert {s["name"] for s in doc["stores"]} >= {"graph", "vector", "relational"}
    assert all(s["running"] for s in doc["stores"])
    down = run(cli_env, "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not embedded_server(settings_for(cli_env)).info().running


def test_status_revives_a_killed_falkordb_with_all_10000_entities(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "up").returncode == 0
    settings = settings_for(cli_env)
    store = build_graph_store(settings)
    rows = [{"id": f"service:load/{i}", "name": f"svc-{i}", "n": i} for i in range(10_000)]
    assert store.upsert_nodes("Service", rows) == 10_000
    store.close()
    pid = embedded_server(settings).info().pid
    assert pid
    os.kill(pid, signal.SIGKILL)

    st = run(cli_env, "status", "--json")
    assert st.returncode == 0, st.stdout + st.stderr
    doc = json.loads(st.stdout)
    assert doc["falkordb_restarted"] is True
    graph = next(s for s in doc["stores"] if s["name"] == "graph")
    assert graph["counts"].get("Service") == 10_000
    new_pid = embedded_server(settings).info().pid
    assert new_pid and new_pid != pid


def test_reset_needs_yes(cli_env: dict[str, str]) -> None:
    out = run(cli_env, "reset")
    assert out.returncode == 2 and "--yes" in out.stdout


def test_port_taken_by_another_program_is_a_clear_error(cli_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", int(cli_env["SHERLOG_GRAPH__PORT"])))
        s.listen()
        out = run(cli_env, "up")
    assert out.returncode == 2
    assert "taken" in out.stderr or "used by another" in out.stderr
    assert "SHERLOG_GRAPH__PORT" in out.stderr
    assert "Traceback" not in out.stderr
