"""Loading metric cases from CSV in both layouts, and the errors bad files get."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError, InvalidPayload, NotFound
from core.metrics.cases import (
    load_case_dir,
    load_split_case,
    read_graph_csv,
    read_inject_time,
    read_logs_csv,
    read_metric_csv,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _table(t0: int, n: int, cols: list[str], level: float = 1.0) -> str:
    rows = [",".join(["time", *cols])]
    for i in range(n):
        rows.append(",".join([str(t0 + i), *[f"{level + 0.01 * ((i * 7 + j) % 5)}" for j in range(len(cols))]]))
    return "\n".join(rows) + "\n"


def test_metric_csv_reads_time_columns_and_missing_cells(tmp_path: Path) -> None:
    p = _write(tmp_path / "m.csv", "time,carts_cpu,orders-db_mem\n2,1.5,\n1,0.5,10\n3,2.5,30\n")
    f = read_metric_csv(p)
    assert f.columns == ("carts_cpu", "orders-db_mem")
    assert f.times.tolist() == [1.0, 2.0, 3.0]  # sorted by time, rows kept whole
    assert f.column("carts_cpu").tolist() == [0.5, 1.5, 2.5]
    assert np.isnan(f.column("orders-db_mem")[1])


def test_time_column_may_be_anywhere(tmp_path: Path) -> None:
    f = read_metric_csv(_write(tmp_path / "m.csv", "a_cpu,time\n1,10\n2,11\n"))
    assert f.columns == ("a_cpu",) and f.times.tolist() == [10.0, 11.0]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("carts_cpu,orders_cpu\n1,2\n", "no 'time' column"),
        ("time\n1\n2\n", "no <service>_<metric> columns"),
        ("time,carts_cpu,cpu\n1,2,3\n", "'cpu'"),
        ("time,carts_cpu\n1,2\n2,high\n", "line 3: column 'carts_cpu' has non-numeric value 'high'"),
        ("time,carts_cpu\n1,2\n,3\n", "column 'time' is empty"),
        ("time,carts_cpu\n1,2\n2,inf\n", "non-finite"),
        ("time,carts_cpu\n1,2,3\n", "3 fields, the header has 2"),
        ("time,carts_cpu,carts_cpu\n1,2,3\n", "repeats column"),
        ("time,carts_cpu\n", "no data rows"),
        ("", "is empty"),
    ],
)
def test_bad_metric_files_get_errors_naming_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    p = _write(tmp_path / "bad.csv", text)
    with pytest.raises(InvalidPayload) as e:
        read_metric_csv(p)
    assert needle in str(e.value)
    assert "bad.csv" in str(e.value)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"nope\.csv"):
        read_metric_csv(tmp_path / "nope.csv")


def test_single_layout_splits_at_the_inject_time(tmp_path: Path) -> None:
    _write(tmp_path / "data.csv", _table(100, 20, ["a_cpu", "b_mem"]))
    _write(tmp_path / "inject_time.txt", "110\n")
    case = load_case_dir(tmp_path)
    assert case.layout == "single" and case.inject_time == 110.0
    assert case.baseline.rows == 10 and case.window.rows == 10
    assert case.baseline.times.max() < 110 <= case.window.times.min()


@pytest.mark.parametrize("inject", ["100", "90", "120", "101"])
def test_inject_time_outside_the_data_or_without_a_baseline_is_rejected(tmp_path: Path, inject: str) -> None:
    _write(tmp_path / "data.csv", _table(100, 20, ["a_cpu"]))
    _write(tmp_path / "inject_time.txt", inject)
    with pytest.raises(InvalidPayload, match="inject time"):
        load_case_dir(tmp_path)


def test_inject_time_file_must_be_a_number(tmp_path: Path) -> None:
    with pytest.raises(InvalidPayload, match="one number"):
        read_inject_time(_write(tmp_path / "inject_time.txt", "yesterday"))


def test_split_layout_takes_the_first_anomalous_timestamp_as_inject_time(tmp_path: Path) -> None:
    # the normal period may be recorded after the anomalous one (RCD did this): order does not matter
    n = _write(tmp_path / "normal.csv", _table(5000, 30, ["a_cpu", "b_mem"]))
    a = _write(tmp_path / "anomalous.csv", _table(1000, 20, ["b_mem", "a_cpu"]))
    case = load_split_case(n, a)
    assert case.layout == "split" and case.inject_time == 1000.0
    assert case.baseline.rows == 30 and case.window.rows == 20
    assert case.window.columns == case.baseline.columns == ("a_cpu", "b_mem")
    assert load_case_dir(tmp_path).inject_time == 1000.0


def test_split_layout_with_different_columns_names_them(tmp_path: Path) -> None:
    n = _write(tmp_path / "normal.csv", _table(0, 10, ["a_cpu", "b_mem"]))
    a = _write(tmp_path / "anomalous.csv", _table(10, 10, ["a_cpu", "c_mem"]))
    with pytest.raises(InvalidPayload, match=r"only in .*normal.csv: b_mem; only in .*anomalous.csv: c_mem"):
        load_split_case(n, a)


def test_case_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="case directory not found"):
        load_case_dir(tmp_path / "missing")
    with pytest.raises(NotFound, match=r"neither data\.csv"):
        load_case_dir(tmp_path)
    _write(tmp_path / "data.csv", _table(0, 10, ["a_cpu"]))
    with pytest.raises(NotFound, match=r"inject_time\.txt"):
        load_case_dir(tmp_path)
    _write(tmp_path / "normal.csv", _table(0, 10, ["a_cpu"]))
    with pytest.raises(InputError, match="ambiguous"):
        load_case_dir(tmp_path)


def test_optional_graph_logs_and_changes_are_read_from_the_case_dir(tmp_path: Path) -> None:
    _write(tmp_path / "data.csv", _table(100, 20, ["a_cpu", "b_cpu"]))
    _write(tmp_path / "inject_time.txt", "110")
    _write(tmp_path / "graph.csv", "source,target\na,b\n")
    _write(tmp_path / "logs.csv", 'time,service,message\n105,a,"hello, world"\n112,b,ERROR boom\n')
    _write(tmp_path / "changes.csv", "time,service,description\n109,b,deploy v2\n")
    case = load_case_dir(tmp_path)
    assert [(e.source, e.target) for e in case.edges] == [("a", "b")]
    assert [(ln.time, ln.service, ln.message) for ln in case.logs] == [
        (105.0, "a", "hello, world"),
        (112.0, "b", "ERROR boom"),
    ]
    assert [(c.time, c.service, c.description) for c in case.changes] == [(109.0, "b", "deploy v2")]


def test_graph_and_logs_files_need_their_columns(tmp_path: Path) -> None:
    with pytest.raises(InvalidPayload, match="lacks column"):
        read_graph_csv(_write(tmp_path / "g.csv", "from,to\na,b\n"))
    with pytest.raises(InvalidPayload, match="column 'target' is empty"):
        read_graph_csv(_write(tmp_path / "g2.csv", "source,target\na,\n"))
    with pytest.raises(InvalidPayload, match="non-numeric"):
        read_logs_csv(_write(tmp_path / "l.csv", "time,service,message\nnoon,a,hi\n"))
