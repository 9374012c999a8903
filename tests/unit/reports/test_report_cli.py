"""`sherlog report weekly` through its Typer app (no chat, no graph server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from core.db.store import RelationalStore
from core.errors import InputError
from reports.cli import app, register_scheduler
from tests.fixtures.report_week import WEEK, load_report_week


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    with RelationalStore(f"sqlite:///{d / 'sherlog.db'}") as db:
        load_report_week(db)
    monkeypatch.setenv("SHERLOG_DATA_DIR", str(d))
    monkeypatch.setenv("SHERLOG_TIMEZONE", "Europe/Paris")
    return d


def test_weekly_writes_markdown_and_charts_to_out(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["weekly", "--week", WEEK, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "incidents_per_day.png",
        "mttr_trend.png",
        "report.md",
        "slo_budget.png",
    ]
    assert "| Incidents | 7 | 3 | +4 |" in (out / "report.md").read_text()
    assert "MTTR median / p90" in result.output and "3 h 00 min / 5 h 00 min" in result.output
    assert "No SLOs configured" in result.output  # the caveat is shown, not hidden


def test_weekly_defaults_to_the_data_dir(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["weekly", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert (data_dir / "reports" / WEEK / "report.md").is_file()


def test_weekly_without_week_reports_the_last_complete_week(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["weekly"])
    assert result.exit_code == 0, result.output
    (made,) = list((data_dir / "reports").iterdir())
    assert made.name.startswith("20") and "-W" in made.name


def test_bad_week_is_an_input_error(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["weekly", "--week", "47"])
    assert isinstance(result.exception, InputError)
    assert "2026-W47" in str(result.exception)


def test_force_needs_post(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["weekly", "--week", WEEK, "--force"])
    assert result.exit_code == 2


def test_register_scheduler_adds_the_command_to_the_root_app() -> None:
    root = typer.Typer()

    @root.command()
    def other() -> None:
        """Another command."""

    register_scheduler(root)
    result = CliRunner().invoke(root, ["--help"])
    assert result.exit_code == 0
    assert "scheduler" in result.output
