"""Template ids survive a process restart: separate `logs mine` processes share one state file."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
CLI = "import sys; from core.cli.logs import app; app(prog_name='sherlog logs')"


def _mine(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", CLI, "mine", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def _ids(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["EventId"], row["EventTemplate"]) for row in csv.DictReader(f)]


def test_ids_are_stable_across_processes(tmp_path: Path) -> None:
    day1 = tmp_path / "day1.log"
    day2 = tmp_path / "day2.log"
    lines1 = [
        f"2024-05-0{d} 10:00:{s:02d},000 INFO [pool-{s % 3}] com.shop.Checkout: order {1000 + s} paid in {s % 9} ms"
        for d in (1, 2)
        for s in range(30)
    ] + [
        f"2024-05-01 11:00:{s:02d},000 ERROR [db] com.shop.Db: connection to 10.0.0.{s}:5432 refused" for s in range(20)
    ]
    day1.write_text("\n".join(lines1) + "\n", encoding="utf-8")
    day2.write_text(
        "\n".join(["2024-05-03 09:00:00,000 WARN [gc] com.shop.Jvm: GC pause 812 ms", *reversed(lines1)]) + "\n",
        encoding="utf-8",
    )
    state = tmp_path / "miner-state.json"
    first, again, other = tmp_path / "first.csv", tmp_path / "again.csv", tmp_path / "other.csv"

    _mine("--input", str(day1), "--output", str(first), "--state", str(state))
    log = _mine("--input", str(day1), "--output", str(again), "--state", str(state))
    assert "(0 new," in log
    assert _ids(again) == _ids(first)

    _mine("--input", str(day2), "--output", str(other), "--state", str(state))
    known = dict((t, i) for i, t in _ids(first))
    rows = _ids(other)
    assert rows[0][1] == "GC pause <*> ms" and rows[0][0] not in known.values()
    assert all(known[t] == i for i, t in rows[1:])
