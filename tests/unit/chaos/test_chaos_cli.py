"""`sherlog chaos list | run | history` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.scenarios import scenario_names
from core.errors import NotFound
from core.model import Event

runner = CliRunner()


def test_list_shows_every_scenario() -> None:
    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in scenario_names():
        assert name in result.output
    assert "db_pool_exhaustion" in result.output and "why is checkout failing?" in result.output


def test_run_writes_topology_events_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["run", "cart-redis-down", "--seed", "5", "--out", str(out), "--step", "60", "--no-ingest"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "metric" in result.output and "log" in result.output and str(out) in result.output
    lines = (out / "events.jsonl").read_text().splitlines()
    assert lines and Event.model_validate_json(lines[-1])
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 5 and truth["root_cause"] == "redis-cart"
    assert (out / "topology.yaml").is_file()


def test_run_defaults_to_a_new_directory_under_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHERLOG_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["run", "--step", "60", "--no-ingest"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    runs = list((tmp_path / "data" / "chaos").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("checkout-db-pool-7-")
    assert (runs[0] / "events.jsonl").stat().st_size > 0


def test_unknown_scenario_is_a_clear_error() -> None:
    result = runner.invoke(app, ["run", "no-such-scenario"])
    assert result.exit_code != 0
    assert isinstance(result.exception, NotFound)
    assert "checkout-db-pool" in str(result.exception)


def test_history_command(tmp_path: Path) -> None:
    result = runner.invoke(app, ["history", "--out", str(tmp_path), "--days", "7"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "incidents.json").read_text())
    assert (tmp_path / "history_events.jsonl").read_text().strip()
