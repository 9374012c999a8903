"""`register(app)` adds a working `ship` command to a multi-command Typer app (as main.py has)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from core.cli.ship import default_state_name, register
from core.errors import InputError


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.command()
    def other() -> None:  # a second command, so `ship` is a subcommand as in the real CLI
        pass

    register(root)
    return root


def test_ship_help_lists_the_options(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["ship", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for opt in ("--file", "--journald", "--server", "--token", "--batch-lines", "--batch-seconds", "--once"):
        assert opt in result.output


def test_ship_without_sources_is_an_input_error(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["ship", "--server", "http://127.0.0.1:1"])
    assert isinstance(result.exception, InputError)
    assert "nothing to ship" in str(result.exception)


def test_once_with_a_missing_file_is_an_input_error(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.log"
    result = CliRunner().invoke(app, ["ship", "--file", str(missing), "--once"])
    assert isinstance(result.exception, InputError)
    assert "no such file" in str(result.exception)


def test_state_names_are_stable_per_source_set() -> None:
    a = default_state_name(["file:/var/log/a.log", "file:/var/log/b.log"])
    assert a == default_state_name(["file:/var/log/b.log", "file:/var/log/a.log"])
    assert a.startswith("files-") and a != default_state_name(["file:/var/log/a.log"])
    assert default_state_name(["journald"]) == "journald"
    assert default_state_name(["journald", "file:/x"]).startswith("mixed-")
