"""`sherlog ask` on the ingested default scenario: JSON, plain and Rich output, bad flags."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from core.cli.ask import register
from core.errors import InputError
from tests.integration.core.engine.conftest import Scenario

WINDOW = ["--since", "2026-11-17T09:31:00Z", "--until", "2026-11-17T10:31:00Z"]


@pytest.fixture
def app(checkout_db_pool: Scenario, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    s = checkout_db_pool.settings
    monkeypatch.setenv("SHERLOG_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("SHERLOG_GRAPH__URI", str(s.graph.uri))
    monkeypatch.setenv("SHERLOG_GRAPH__GRAPH_NAME", s.graph.graph_name)
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps `ask` a named subcommand, as in the real CLI
        """Nothing."""

    return app


def test_ask_json(app: typer.Typer) -> None:
    res = CliRunner().invoke(app, ["ask", "why is checkout failing?", *WINDOW, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["root_causes"][0]["entity"].endswith("/orders-db")
    assert {e["id"] for e in data["evidence"]} >= set(data["root_causes"][0]["evidence_ids"])


def test_ask_plain_and_rich(app: typer.Typer) -> None:
    plain = CliRunner().invoke(app, ["ask", "why is checkout failing?", *WINDOW, "--plain"])
    assert plain.exit_code == 0, plain.output
    for section in ("ROOT CAUSES", "EVIDENCE", "RUNBOOKS", "NEXT STEPS", "answered in"):
        assert section in plain.stdout
    rich = CliRunner().invoke(app, ["ask", "why is checkout failing?", *WINDOW])
    assert rich.exit_code == 0, rich.output
    assert "orders-db" in rich.stdout and "Root causes" in rich.stdout


def test_ask_thread_follow_up(app: typer.Typer) -> None:
    first = CliRunner().invoke(app, ["ask", "why is checkout failing?", *WINDOW, "--thread", "T1", "--json"])
    assert first.exit_code == 0, first.output
    follow = CliRunner().invoke(app, ["ask", "what about memory on the same node?", "--thread", "T1", "--json"])
    assert follow.exit_code == 0, follow.output
    assert "node-3" in json.loads(follow.stdout)["summary"]


def test_bad_since_names_the_flag(app: typer.Typer) -> None:
    res = CliRunner().invoke(app, ["ask", "why is checkout failing?", "--since", "whenever"])
    assert isinstance(res.exception, InputError)
    assert "--since 'whenever'" in res.exception.message
