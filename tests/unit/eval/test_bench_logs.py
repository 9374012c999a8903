"""The logs benchmark: grouping accuracy, data loading, and the `make bench` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InputError
from eval.bench import run as bench_run
from eval.bench.logs import grouping_accuracy, load_system, read_lines, run_bench


def test_grouping_accuracy_counts_only_exact_groups() -> None:
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy([1, 1, 2, 2, 3], truth) == 1.0
    assert grouping_accuracy(["x", "x", "x", "x", "y"], truth) == 0.2  # A and B merged: 4 lines wrong
    assert grouping_accuracy([1, 2, 3, 3, 4], truth) == 0.6  # A split: its 2 lines wrong
    assert grouping_accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        grouping_accuracy([1], [])


def _write_system(root: Path, name: str, rows: list[tuple[str, str, str]]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / f"{name}_2k.log").write_text("\n".join(raw for raw, _, _ in rows) + "\n", encoding="utf-8")
    lines = ["LineId,Content,EventId,EventTemplate"]
    lines += [f'{i},"{content}",{eid},x' for i, (_, content, eid) in enumerate(rows, start=1)]
    (folder / f"{name}_2k.log_structured_corrected.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


ROWS = [
    (f"2024-01-01 00:00:0{i} INFO [main] a.B: worker {i} started", f"worker {i} started", "E1") for i in range(5)
] + [(f"2024-01-01 00:00:1{i} ERROR [main] a.B: disk /dev/sd{i} full", f"disk /dev/sd{i} full", "E2") for i in range(3)]


def test_run_bench_on_a_small_sample(tmp_path: Path) -> None:
    _write_system(tmp_path, "Tiny", ROWS)
    sample = load_system(tmp_path, "Tiny")
    assert len(sample.raw) == len(sample.contents) == len(ROWS)
    results = run_bench(tmp_path, systems=["Tiny"], repeats=2)
    for mode in ("content", "raw"):
        block = results["modes"][mode]
        row = block["systems"][0]
        assert row["system"] == "Tiny" and row["lines"] == len(ROWS)
        assert row["sherlog"]["ga"] == 1.0
        assert row["sherlog"]["lines_per_s"] > 0 and row["drain3"]["lines_per_s"] > 0
        assert row["speedup"] == pytest.approx(row["sherlog"]["lines_per_s"] / row["drain3"]["lines_per_s"])
        assert block["summary"]["sherlog"]["ga_mean"] == 1.0
    json.dumps(results)  # JSON-ready


def test_mismatched_sample_is_refused(tmp_path: Path) -> None:
    _write_system(tmp_path, "Bad", ROWS)
    (tmp_path / "Bad" / "Bad_2k.log").write_text("only one line\n", encoding="utf-8")
    with pytest.raises(InputError, match="1 lines but"):
        load_system(tmp_path, "Bad")
    with pytest.raises(InputError, match="not found"):
        load_system(tmp_path, "Missing")


def test_read_lines_splits_on_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"a\rb\r\nc\n\nd")
    assert read_lines(path) == ["a\rb", "c", "", "d"]


@pytest.mark.shared_data
def test_make_bench_entry_prints_table_and_writes_json(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_run.main(["logs", "--repeats", "1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for system in ("HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "Linux", "HealthApp", "Apache"):
        assert system in printed
    results = json.loads((tmp_path / "logs.json").read_text())
    assert set(results["modes"]) == {"content", "raw"}
    for block in results["modes"].values():
        assert len(block["systems"]) == 8
        assert block["summary"]["ga_not_below_drain3"] is True


def test_unknown_bench_name_is_refused() -> None:
    with pytest.raises(SystemExit):
        bench_run.main(["nope"])
