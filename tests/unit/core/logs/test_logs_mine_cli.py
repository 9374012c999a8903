"""`sherlog logs mine`: the Loghub CSV contract, header handling and --state."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from typer.testing import CliRunner

from core.cli import logs

root = typer.Typer()
root.add_typer(logs.app, name="logs")
runner = CliRunner()

RAW = [
    "2015-10-18 18:01:47,978 INFO [main] org.apache.Foo: Created 4 tasks",
    "2015-10-18 18:01:48,001 WARN [main] org.apache.Foo: Lost connection to 10.0.0.7:8020",
    "2015-10-18 18:01:49,123 INFO [main] org.apache.Foo: Created 12 tasks",
    "",
    '2015-10-18 18:01:50,500 INFO [main] org.apache.Foo: Task "x", done',
]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _mine(*args: str) -> None:
    result = runner.invoke(root, ["logs", "mine", *args])
    assert result.exit_code == 0, result.output


def test_content_only_writes_one_row_per_line_in_order(tmp_path: Path) -> None:
    src = tmp_path / "messages.txt"
    messages = ["Created 4 tasks", "Lost connection to 10.0.0.7:8020", "Created 12 tasks", "", 'a, "quoted" line']
    src.write_text("\n".join(messages) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    _mine("--input", str(src), "--output", str(out), "--content-only")
    with out.open(encoding="utf-8", newline="") as f:
        assert f.readline().strip() == "LineId,EventId,EventTemplate"
    rows = _rows(out)
    assert [r["LineId"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["EventId"] == rows[2]["EventId"] == "E1"
    assert rows[0]["EventTemplate"] == "Created <*> tasks"
    assert rows[1]["EventTemplate"] == "Lost connection to <*>:<*>"
    assert rows[3]["EventTemplate"] == ""
    assert rows[4]["EventTemplate"] == 'a, "quoted" line'
    assert len({r["EventId"] for r in rows}) == 4


def test_raw_lines_lose_their_header(tmp_path: Path) -> None:
    src = tmp_path / "app.log"
    src.write_text("\r\n".join(RAW), encoding="utf-8")  # CRLF, no final newline
    out = tmp_path / "out.csv"
    _mine("--input", str(src), "--output", str(out))
    rows = _rows(out)
    assert len(rows) == len(RAW)
    assert rows[0]["EventTemplate"] == "Created <*> tasks"
    assert rows[0]["EventId"] == rows[2]["EventId"]
    assert rows[1]["EventTemplate"] == "Lost connection to <*>:<*>"
    assert rows[4]["EventTemplate"] == 'Task "x", done'


def test_templates_merged_later_are_reported_with_their_final_id(tmp_path: Path) -> None:
    src = tmp_path / "m.txt"
    src.write_text("\n".join(f"session opened for user {u}" for u in ("ann", "bob", "cy", "dan")), encoding="utf-8")
    out = tmp_path / "out.csv"
    _mine("--input", str(src), "--output", str(out), "--content-only")
    rows = _rows(out)
    assert {r["EventId"] for r in rows} == {"E1"}
    assert {r["EventTemplate"] for r in rows} == {"session opened for user <*>"}


def test_state_keeps_ids_across_runs(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("\n".join(RAW), encoding="utf-8")
    second.write_text("\n".join(["2015-10-19 09:00:00,000 ERROR [x] a.B: Disk full", *reversed(RAW)]), encoding="utf-8")
    out1, out2 = tmp_path / "1.csv", tmp_path / "2.csv"
    _mine("--input", str(first), "--output", str(out1), "--state", str(state))
    assert state.is_file()
    _mine("--input", str(second), "--output", str(out2), "--state", str(state))
    ids1 = {r["EventTemplate"]: r["EventId"] for r in _rows(out1)}
    ids2 = {r["EventTemplate"]: r["EventId"] for r in _rows(out2)}
    for template, event_id in ids1.items():
        assert ids2[template] == event_id
    assert ids2["Disk full"] not in ids1.values()


def test_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(root, ["logs", "mine", "--input", str(tmp_path / "nope.log"), "--output", "x.csv"])
    assert result.exit_code != 0
    assert "input file not found" in str(result.exception)
