"""The embedded FalkorDB lifecycle, against real redis-server + falkordb.so processes
started in temporary data dirs on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import BackendUnavailable, PortInUse
from core.graph import build_graph_store
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.graph.falkordb_store import FalkorDBGraphStore
from core.ports import PropValue
from core.settings import GraphSettings, Settings
from tests.fixtures.net import free_port


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait until `pid` has exited (a zombie counts: it no longer serves anything)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
            if "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.02)
    return False


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedFalkorDB]:
    srv = EmbeddedFalkorDB(tmp_path, port=free_port())
    yield srv
    srv.stop()


def test_start_reuse_and_stop(server: EmbeddedFalkorDB, tmp_path: Path) -> None:
    first = server.ensure_running()
    assert first.running and first.started_now and first.pid
    assert (tmp_path / "falkordb" / "appendonlydir").is_dir()  # data lives under the data dir

    # a second manager for the same data dir (another CLI command) reuses the same process
    again = EmbeddedFalkorDB(tmp_path, port=server.port).ensure_running()
    assert again.running and not again.started_now
    assert again.pid == first.pid
    assert server.info().running

    assert server.stop() is True
    assert _gone(first.pid)
    assert not server.info().running
    assert _bindable(server.port)
    assert server.stop() is False  # nothing left to stop


def test_stale_state_file_never_kills_a_stranger(server: EmbeddedFalkorDB) -> None:
    """A state file left by a crash may name a pid the OS has since given to another program."""
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        server.data_dir.mkdir(parents=True)
        (server.data_dir / "server.json").write_text(json.dumps({"pid": stranger.pid, "port": server.port}))
        assert server.stop() is False
        assert stranger.poll() is None
        (server.data_dir / "server.json").write_text(json.dumps({"pid": stranger.pid, "port": server.port}))
        info = server.ensure_running()
        assert info.started_now and info.pid != stranger.pid
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_port_held_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)  # accepts connections, never speaks redis
        port = squatter.getsockname()[1]
        srv = EmbeddedFalkorDB(tmp_path, port=port, start_timeout_s=5)
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port}") as exc:
            srv.ensure_running()
        assert exc.value.hint and "SHERLOG_GRAPH__PORT" in exc.value.hint
    assert not (tmp_path / "falkordb" / "server.json").exists()


def test_port_held_by_another_falkordb_is_refused(server: EmbeddedFalkorDB, tmp_path: Path) -> None:
    server.ensure_running()
    other = EmbeddedFalkorDB(tmp_path / "elsewhere", port=server.port)
    with pytest.raises(PortInUse, match="another server"):
        other.ensure_running()


def test_store_without_server_reports_unavailable() -> None:
    store = FalkorDBGraphStore("127.0.0.1", free_port(), "nothing_here", connect_timeout_s=1)
    with pytest.raises(BackendUnavailable, match="cannot reach FalkorDB") as exc:
        store.count_nodes()
    assert exc.value.hint
    st = store.status()
    assert not st.running and "cannot reach" in st.detail


def test_build_graph_store_embedded_starts_and_reuses(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, graph=GraphSettings(port=free_port(), graph_name="factory"))
    store = build_graph_store(settings)
    assert isinstance(store, FalkorDBGraphStore)
    assert store.server is not None
    server = store.server
    try:
        pid = server.info().pid
        store.upsert_nodes("Service", [{"id": "service:a"}])
        again = build_graph_store(settings)  # a second build reuses the running server
        assert isinstance(again, FalkorDBGraphStore) and again.server is not None
        assert again.server.info().pid == pid
        assert again.count_nodes("Service") == 1
        st = again.status()
        assert st.running and st.counts == {"Service": 1}
        assert str(tmp_path) in st.location
    finally:
        server.stop()


def test_build_graph_store_external_falkor_uri(settings: Settings) -> None:
    # the `settings` fixture points at the session server with falkor://127.0.0.1:<port>
    store = build_graph_store(settings)
    assert isinstance(store, FalkorDBGraphStore) and store.server is None
    assert store.upsert_nodes("Pod", [{"id": "pod:a"}, {"id": "pod:b"}]) == 2
    assert store.count_nodes("Pod") == 2
    store.delete_all()


def test_kill_9_loses_nothing(server: EmbeddedFalkorDB) -> None:
    """Acceptance: 10,000 entities written, the server SIGKILLed, the next access restarts it with all of them."""
    server.ensure_running()
    store = FalkorDBGraphStore(server.host, server.port, "acceptance", server=server)
    rows: list[dict[str, PropValue]] = [
        {"id": f"pod:prod/shop/p{i}", "name": f"p{i}", "restarts": i % 7} for i in range(10_000)
    ]
    assert store.upsert_nodes("Pod", rows) == 10_000
    store.upsert_edges(
        "RUNS_ON",
        [{"src": f"pod:prod/shop/p{i}", "dst": "pod:prod/shop/p0"} for i in range(1, 100)],
        src_label="Pod",
        dst_label="Pod",
    )
    # updates, removals and deletes must come back too, not only creations
    store.upsert_nodes("Pod", [{"id": "pod:prod/shop/p1", "name": "renamed", "restarts": None}])
    store.query("MATCH (n:Pod {id: $id}) DETACH DELETE n", {"id": "pod:prod/shop/p2"})
    old_pid = server.info().pid
    assert old_pid is not None

    os.kill(old_pid, signal.SIGKILL)
    assert _gone(old_pid)
    assert not server.info().running
    st = store.status()  # status only reports: it does not restart anything
    assert not st.running and "not running" in st.detail
    assert not server.info().running

    # no explicit restart: the store notices the dead connection, restarts the server once, retries
    assert store.count_nodes("Pod") == 9_999
    new = server.info()
    assert new.running and new.pid not in (None, old_pid)
    assert store.count_edges("RUNS_ON") == 98
    assert store.query("MATCH (n:Pod {id: 'pod:prod/shop/p1'}) RETURN n.name AS name, n.restarts AS r") == [
        {"name": "renamed", "r": None}
    ]
    sample = store.query(
        "MATCH (n:Pod {id: $id}) RETURN n.name AS name, n.restarts AS r", {"id": "pod:prod/shop/p9999"}
    )
    assert sample == [{"name": "p9999", "r": 9999 % 7}]

    # and again through the manager itself, as `sherlog up` does
    os.kill(new.pid, signal.SIGKILL)  # type: ignore[arg-type]
    assert _gone(new.pid)  # type: ignore[arg-type]
    info = server.ensure_running()
    assert info.started_now and info.pid != new.pid
    fresh = FalkorDBGraphStore(server.host, server.port, "acceptance")
    assert fresh.count_nodes("Pod") == 9_999
    assert fresh.count_edges("RUNS_ON") == 98
