"""The shipper loop without a server: batching by size and time, spooling when nothing listens,
the cursor saved only once a batch is spooled, and backpressure when the spool is full."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ship.client import IntakeClient
from core.ship.shipper import ShipConfig, Shipper, ShipState
from core.ship.tail import FileTailer
from tests.fixtures.net import free_port


def _write(path: Path, n: int, start: int = 0) -> None:
    with path.open("a") as f:
        f.writelines(f"line {i}\n" for i in range(start, start + n))


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ShipState]:
    s = ShipState(tmp_path / "state")
    yield s
    s.close()


def _shipper(log: Path, state: ShipState, url: str, **cfg: float) -> Shipper:
    tailer = FileTailer(log, state.saved.get(f"file:{log.absolute()}"))
    config = ShipConfig(backoff_base=0.05, backoff_cap=0.2, poll_interval=0.02, **cfg)  # type: ignore[arg-type]
    return Shipper([tailer], IntakeClient(url, timeout_s=2.0), state, config)


def test_batches_close_on_size(tmp_path: Path, state: ShipState, dead_url: str) -> None:
    log = tmp_path / "a.log"
    _write(log, 25)
    sh = _shipper(log, state, dead_url, batch_lines=10, batch_seconds=60)
    sizes = [len(sh.collect(once=True)[0]) for _ in range(4)]
    assert sizes == [10, 10, 5, 0]


def test_batches_close_on_time(tmp_path: Path, state: ShipState, dead_url: str) -> None:
    log = tmp_path / "a.log"
    _write(log, 3)
    sh = _shipper(log, state, dead_url, batch_lines=1000, batch_seconds=1.0)

    def late_lines() -> None:
        time.sleep(0.05)
        _write(log, 2, start=3)

    t = threading.Thread(target=late_lines)
    t.start()
    batch, _ = sh.collect(once=False)
    t.join()
    # the batch waited for lines arriving within batch_seconds of the first one, then closed
    assert [r["body"] for r in batch] == [f"line {i}" for i in range(5)]


def test_unreachable_server_spools_and_moves_the_cursor(tmp_path: Path, state: ShipState, dead_url: str) -> None:
    log = tmp_path / "a.log"
    _write(log, 30)
    sh = _shipper(log, state, dead_url, batch_lines=10, once_attempts=1)
    stats = sh.run(once=True)
    assert (stats.read, stats.accepted, stats.pending_batches) == (30, 0, 3)
    assert "cannot reach" in (stats.last_error or "")
    cursor = json.loads((state.dir / "cursor.json").read_text())["sources"][f"file:{log.absolute()}"]
    assert cursor["offset"] == log.stat().st_size  # safe: every line is in the fsync'd spool
    spooled = []
    while (rec := state.spool.peek()) is not None:
        spooled += [e["body"] for e in json.loads(rec.payload)["events"]]
        state.spool.ack(rec)
    assert spooled == [f"line {i}" for i in range(30)]


def test_full_spool_stops_reading(tmp_path: Path, state: ShipState, dead_url: str) -> None:
    log = tmp_path / "a.log"
    _write(log, 200)
    sh = _shipper(log, state, dead_url, batch_lines=10, max_spool_bytes=1)
    runner = threading.Thread(target=sh.run)
    runner.start()
    deadline = time.monotonic() + 10
    while len(state.spool) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # give it the chance to (wrongly) keep reading
    sh.stop()
    runner.join(timeout=10)
    assert len(state.spool) == 1  # one batch spooled, then it waited for the server
    cursor = json.loads((state.dir / "cursor.json").read_text())["sources"][f"file:{log.absolute()}"]
    assert cursor["offset"] < log.stat().st_size  # the rest is still only in the file
