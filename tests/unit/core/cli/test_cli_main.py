"""The `sherlog` entry point: usage errors are one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

SHERLOG = [sys.executable, "-m", "core.cli.main"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(["no-such-command"], "No such command 'no-such-command'"), (["status", "--bogus"], "No such option: --bogus")],
)
def test_usage_errors_exit_2_with_a_message(argv: list[str], needle: str) -> None:
    out = subprocess.run([*SHERLOG, *argv], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_help_lists_every_area() -> None:
    out = subprocess.run([*SHERLOG, "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0
    for cmd in ("up", "status", "down", "reset", "logs", "rca", "ship", "chaos", "demo", "serve", "chat", "report"):
        assert f" {cmd} " in out.stdout, cmd
