"""`sherlog scheduler` runs in the foreground and stops cleanly on Ctrl-C (SIGINT) and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_foreground_scheduler_starts_and_stops_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    env = {
        **os.environ,
        "SHERLOG_CONFIG": "/nonexistent/sherlog.toml",
        "SHERLOG_DATA_DIR": str(tmp_path),
        "SHERLOG_TIMEZONE": "America/New_York",
        "COLUMNS": "200",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from reports.cli import scheduler; scheduler()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:  # blocks until the scheduler reports it is up (pytest's timeout bounds it)
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        else:
            pytest.fail(f"scheduler exited early: {''.join(lines)} {proc.stderr.read() if proc.stderr else ''}")
        text = "".join(lines)
        assert "weekly report scheduled ('0 9 * * mon', America/New_York)" in text
        assert "next run:" in text and ("EST" in text or "EDT" in text)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "scheduler stopped" in out
    assert (tmp_path / "scheduler.db").is_file()
