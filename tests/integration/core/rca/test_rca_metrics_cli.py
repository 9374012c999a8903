"""`sherlog rca metrics` contract: JSON shape, both input layouts, table output, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli.main import app
from core.errors import InputError, InvalidPayload, NotFound

pytestmark = pytest.mark.shared_data
PROJECT_ROOT = Path(__file__).resolve().parents[4]
runner = CliRunner()


@pytest.fixture(scope="module")
def rcd_case(shared_data: Path) -> Path:
    return shared_data / "rca" / "rcd_sockshop" / "sock-shop-data" / "catalogue-mem" / "2"


@pytest.fixture
def single_layout(tmp_path: Path, rcd_case: Path) -> Path:
    """The same real case rewritten as data.csv + inject_time.txt (normal rows precede anomalous ones here)."""
    normal = (rcd_case / "normal.csv").read_text().splitlines()
    anomalous = (rcd_case / "anomalous.csv").read_text().splitlines()
    assert float(normal[-1].split(",")[0]) < float(anomalous[1].split(",")[0])
    d = tmp_path / "case"
    d.mkdir()
    (d / "data.csv").write_text("\n".join([*normal, *anomalous[1:]]) + "\n")
    (d / "inject_time.txt").write_text(anomalous[1].split(",")[0] + "\n")
    return d


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, ["rca", "metrics", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_json_shape_and_both_layouts_agree(rcd_case: Path, single_layout: Path) -> None:
    split_dir = _json(["--case", str(rcd_case)])
    split_files = _json(["--normal", str(rcd_case / "normal.csv"), "--anomalous", str(rcd_case / "anomalous.csv")])
    single = _json(["--case", str(single_layout)])
    assert isinstance(split_dir["ranking"], list) and isinstance(split_dir["scores"], list)
    assert len(split_dir["ranking"]) == len(split_dir["scores"]) == 5
    assert all(isinstance(s, str) for s in split_dir["ranking"])
    assert all(isinstance(x, float) for x in split_dir["scores"])
    assert split_dir["scores"] == sorted(split_dir["scores"], reverse=True)
    assert split_dir["ranking"][0] == "catalogue"
    assert split_dir == split_files == single


def test_top_option_and_table_output(rcd_case: Path) -> None:
    assert len(_json(["--case", str(rcd_case), "--top", "2"])["ranking"]) == 2
    result = runner.invoke(app, ["rca", "metrics", "--case", str(rcd_case), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "catalogue" in result.output and "confidence" in result.output
    assert not result.output.lstrip().startswith("{")


def _fails(args: list[str]) -> BaseException:
    result = runner.invoke(app, ["rca", "metrics", *args])
    assert result.exit_code != 0
    assert result.exception is not None
    return result.exception


def test_missing_files_and_bad_option_combinations(tmp_path: Path, rcd_case: Path) -> None:
    assert isinstance(e := _fails(["--case", str(tmp_path / "nope")]), NotFound) and "nope" in str(e)
    assert isinstance(e := _fails(["--case", str(tmp_path)]), NotFound) and "data.csv" in str(e)
    e = _fails(["--normal", str(rcd_case / "normal.csv"), "--anomalous", str(tmp_path / "x.csv")])
    assert isinstance(e, NotFound) and "x.csv" in str(e)
    assert isinstance(e := _fails(["--normal", str(rcd_case / "normal.csv")]), InputError) and "--anomalous" in str(e)
    assert isinstance(e := _fails([]), InputError) and "--case" in str(e)
    e = _fails(["--case", str(rcd_case), "--normal", str(rcd_case / "normal.csv")])
    assert isinstance(e, InputError) and "not both" in str(e)


@pytest.mark.parametrize(
    ("data", "inject", "needle"),
    [
        ("ts,carts_cpu\n1,2\n2,3\n3,4\n4,5\n", "3", "no 'time' column"),
        ("time,foo\n1,2\n2,3\n3,4\n4,5\n", "3", "'foo'"),
        ("time\n1\n2\n3\n4\n", "3", "no <service>_<metric> columns"),
        ("time,carts_cpu\n1,2\n2,x\n3,4\n4,5\n", "3", "non-numeric value 'x'"),
        ("time,carts_cpu\n1,2\n2,3\n3,4\n4,5\n", "99", "inject time 99 is outside the data"),
        ("time,carts_cpu\n1,2\n2,3\n3,4\n4,5\n", "soon", "one number"),
    ],
)
def test_bad_case_files_get_a_clear_error(tmp_path: Path, data: str, inject: str, needle: str) -> None:
    (tmp_path / "data.csv").write_text(data)
    (tmp_path / "inject_time.txt").write_text(inject)
    e = _fails(["--case", str(tmp_path)])
    assert isinstance(e, InvalidPayload)
    assert needle in str(e)


def test_the_real_entry_point_prints_one_error_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("time,carts_cpu\n1,2\n2,3\n3,4\n4,5\n")
    (tmp_path / "inject_time.txt").write_text("1")
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "rca", "metrics", "--case", str(tmp_path), "--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "error:" in proc.stderr and "outside the data" in proc.stderr
