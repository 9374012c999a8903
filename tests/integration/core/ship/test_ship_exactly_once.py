"""The shipper end to end: real intake server process (uvicorn, real stack on the session
FalkorDB + SQLite), real shipper process, `kill -9` of either one mid-ship.

Every line written to the file must end up as exactly one LogLine row: no loss, no duplicate.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from core.db.store import RelationalStore
from core.db.tables import LogLine
from core.graph.falkordb_server import EmbeddedFalkorDB
from tests.fixtures.net import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[4]

pytestmark = pytest.mark.slow


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHERLOG_")}
    env.update(
        SHERLOG_CONFIG="/nonexistent/sherlog.toml",
        SHERLOG_DATA_DIR=str(data_dir),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    return env


def wait_until(check, *, timeout: float, what: str, interval: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class IntakeProcess:
    """`python -m core.intake.serve_standalone` as a child process that can be killed and restarted."""

    data_dir: Path
    falkor_port: int
    graph_name: str
    token: str | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = _base_env(self.data_dir)
        env.update(
            SHERLOG_GRAPH__URI=f"falkor://127.0.0.1:{self.falkor_port}",
            SHERLOG_GRAPH__GRAPH_NAME=self.graph_name,
        )
        if self.token:
            env["SHERLOG_SERVER__INGEST_TOKEN"] = self.token
        self.starts += 1
        log = (self.data_dir / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.intake.serve_standalone", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"intake server exited {self.proc.returncode}: {self.log_tail()}")
            try:
                return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=90, what="the intake server's /health", interval=0.2)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self) -> str:
        logs = sorted(self.data_dir.glob("server-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else "(no log)"

    def rows(self) -> tuple[int, int, list[str]]:
        """(LogLine rows, distinct ingest keys, messages) as stored."""
        store = RelationalStore(f"sqlite:///{self.data_dir / 'sherlog.db'}", migrate=False)
        try:
            t = LogLine.__table__  # type: ignore[attr-defined]
            with store.session() as s:
                n = s.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                keys = s.execute(sa.select(sa.func.count(sa.distinct(t.c.ingest_key)))).scalar_one()
                messages = [m for (m,) in s.execute(sa.select(t.c.message))]
            return int(n), int(keys), messages
        finally:
            store.close()

    def count(self) -> int:
        try:
            return self.rows()[0]
        except Exception:  # the server may be mid-migration on its first start
            return 0


class ShipperProcess:
    """`python -m core.cli.ship` as a child process."""

    def __init__(self, work: Path, files: list[Path], server_url: str, *extra: str) -> None:
        self.work = work
        self.state_dir = work / "ship-state"
        self.cmd = [
            sys.executable,
            "-m",
            "core.cli.ship",
            "--file",
            *map(str, files),
            "--server",
            server_url,
            "--state-dir",
            str(self.state_dir),
            *extra,
        ]
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.runs += 1
        self.out = self.work / f"ship-{self.runs}.out"
        self.err = self.work / f"ship-{self.runs}.err"
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=PROJECT_ROOT,
            env=_base_env(self.work / "shipper-data"),
            stdout=self.out.open("wb"),
            stderr=self.err.open("wb"),
        )

    def run_once(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.cmd, "--once"],
            cwd=PROJECT_ROOT,
            env=_base_env(self.work / "shipper-data"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def spooled(self) -> int:
        spool = self.state_dir / "spool"
        return sum(p.stat().st_size for p in spool.glob("seg-*")) if spool.is_dir() else 0

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self) -> tuple[int, str]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        return rc, self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-3000:] if self.runs else ""


def write_lines(path: Path, start: int, count: int, tag: str) -> list[str]:
    lines = [
        f"{tag} order {i} paid by customer c{i % 97} via card ending {1000 + i % 900}"
        for i in range(start, start + count)
    ]
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return lines


SUMMARY = re.compile(
    r"read (?P<read>\d+) line\(s\): accepted (?P<accepted>\d+), duplicates (?P<duplicates>\d+), "
    r"rejected (?P<rejected>\d+); (?P<sent>\d+) batch\(es\) sent, (?P<replayed>\d+) of them replayed"
)


def summary_numbers(output: str) -> dict[str, int]:
    """The numbers of the shipper's final summary line."""
    m = SUMMARY.search(output)
    assert m is not None, output
    return {k: int(v) for k, v in m.groupdict().items()}


def assert_exactly_once(server: IntakeProcess, expected: list[str]) -> None:
    n, keys, messages = server.rows()
    counts = Counter(messages)
    dupes = {m: c for m, c in counts.items() if c > 1}
    missing = set(expected) - set(counts)
    assert not dupes, f"{len(dupes)} line(s) stored more than once, e.g. {list(dupes.items())[:3]}"
    assert not missing, f"{len(missing)} line(s) lost, e.g. {sorted(missing)[:3]}"
    assert n == keys == len(expected) == len(set(expected))
    assert counts == Counter(expected)


@pytest.fixture
def server(tmp_path: Path, falkordb_server: EmbeddedFalkorDB) -> Iterator[IntakeProcess]:
    srv = IntakeProcess(tmp_path / "server-data", falkordb_server.port, f"ship_{tmp_path.name}")
    srv.data_dir.mkdir()
    yield srv
    srv.stop()


def test_server_killed_mid_ship_every_line_arrives_exactly_once(tmp_path: Path, server: IntakeProcess) -> None:
    log = tmp_path / "app.log"
    expected = write_lines(log, 0, 2000, "before")
    server.start()
    shipper = ShipperProcess(tmp_path, [log], server.url, "--batch-lines", "50", "--batch-seconds", "0.2")
    shipper.start()
    try:
        wait_until(lambda: server.count() >= 200, timeout=120, what="the first batches to land")
        server.kill9()
        delivered_before_kill = server.count()
        # the server is down: the shipper keeps reading and spools to disk
        expected += write_lines(log, 2000, 1000, "during-outage")
        wait_until(lambda: shipper.spooled() > 0, timeout=60, what="the shipper to spool batches")
        wait_until(lambda: shipper.proc is not None and shipper.proc.poll() is None, timeout=1, what="shipper alive")
        server.start()
        expected += write_lines(log, 3000, 500, "after-restart")
        wait_until(lambda: server.count() >= len(expected), timeout=180, what="every line to arrive", interval=0.5)
        wait_until(lambda: shipper.spooled() == 0, timeout=60, what="the spool to drain")
        rc, output = shipper.terminate()
        assert rc == 0, output
    finally:
        shipper.stop()
    assert delivered_before_kill < len(expected)
    assert_exactly_once(server, expected)
    assert summary_numbers(output)["replayed"] > 0, output  # the outage went through the spool


def test_shipper_killed_and_restarted_resumes_from_its_cursor(tmp_path: Path, server: IntakeProcess) -> None:
    log = tmp_path / "app.log"
    expected = write_lines(log, 0, 2000, "first-run")
    server.start()
    shipper = ShipperProcess(tmp_path, [log], server.url, "--batch-lines", "50", "--batch-seconds", "0.2")
    shipper.start()
    try:
        wait_until(lambda: server.count() >= 300, timeout=120, what="the first batches to land")
        shipper.kill9()
        # logrotate while the shipper is dead: the rest of the old file sits in app.log.1
        expected += write_lines(log, 2000, 300, "old-file-tail")
        os.rename(log, tmp_path / "app.log.1")
        expected += write_lines(log, 2300, 700, "new-file")
        shipper.start()
        wait_until(lambda: server.count() >= len(expected), timeout=180, what="every line to arrive", interval=0.5)
        rc, output = shipper.terminate()
        assert rc == 0, output
    finally:
        shipper.stop()
    assert_exactly_once(server, expected)
    # the second run resumed from the cursor: it re-read at most the batches in flight at the kill
    numbers = summary_numbers(output)
    assert numbers["read"] < len(expected) - 250, output
    assert numbers["duplicates"] <= 2 * 50, output


def test_once_with_the_server_down_spools_then_delivers(tmp_path: Path, server: IntakeProcess) -> None:
    log = tmp_path / "app.log"
    expected = write_lines(log, 0, 300, "once")
    shipper = ShipperProcess(tmp_path, [log], server.url, "--batch-lines", "100")
    down = shipper.run_once()
    assert down.returncode == 3, down.stderr
    assert "remain spooled" in down.stderr and "cannot reach" in down.stderr
    assert shipper.spooled() > 0
    server.start()
    expected += write_lines(log, 300, 50, "once-more")
    up = shipper.run_once()
    assert up.returncode == 0, up.stderr
    assert shipper.spooled() == 0
    assert_exactly_once(server, expected)
    again = shipper.run_once()  # nothing new: nothing sent, nothing duplicated
    assert again.returncode == 0 and summary_numbers(again.stdout)["read"] == 0
    assert_exactly_once(server, expected)


def test_wrong_token_is_a_clear_cli_error_and_loses_nothing(tmp_path: Path, falkordb_server: EmbeddedFalkorDB) -> None:
    srv = IntakeProcess(tmp_path / "server-data", falkordb_server.port, f"ship_{tmp_path.name}", token="right")
    srv.data_dir.mkdir()
    log = tmp_path / "app.log"
    expected = write_lines(log, 0, 120, "auth")
    try:
        srv.start()
        bad = ShipperProcess(tmp_path, [log], srv.url, "--token", "wrong").run_once()
        assert bad.returncode == 2
        assert "401" in bad.stderr and "invalid bearer token" in bad.stderr and "--token" in bad.stderr
        assert srv.count() == 0
        good = ShipperProcess(tmp_path, [log], srv.url, "--token", "right").run_once()
        assert good.returncode == 0, good.stderr
        assert_exactly_once(srv, expected)
    finally:
        srv.stop()


def test_cli_usage_errors(tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    nothing = subprocess.run(
        [sys.executable, "-m", "core.cli.ship"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert nothing.returncode == 2 and "nothing to ship" in nothing.stderr
    bad_url = subprocess.run(
        [sys.executable, "-m", "core.cli.ship", "--file", str(tmp_path / "x.log"), "--server", "ftp://x"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad_url.returncode == 2 and "http://" in bad_url.stderr
    a_dir = subprocess.run(
        [sys.executable, "-m", "core.cli.ship", "--file", str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert a_dir.returncode == 2 and "not a regular file" in a_dir.stderr
