"""Metric root-cause ranking on the real RCD Sock Shop cases: accuracy and determinism."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.metrics.cases import MetricCase, load_case_dir
from core.rca.metric_ranker import rank_case
from eval.sockshop import discover, evaluate

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def sockshop(shared_data: Path) -> Path:
    return shared_data / "rca" / "rcd_sockshop" / "sock-shop-data"


def test_accuracy_meets_the_issue_bar(sockshop: Path) -> None:
    report = evaluate(sockshop)
    ours, rnd = report["overall"]["ours"], report["overall"]["random"]
    assert report["cases"] == 50
    assert ours["AC@1"] >= 0.90, report["per_case"]
    assert ours["Avg@5"] >= 0.97, report["per_case"]
    for fault in ("cpu", "mem"):
        assert report["by_fault"][fault]["ours"]["cases"] == 25
        assert report["by_fault"][fault]["ours"]["Avg@5"] >= 0.9
    # the random ranking of the same candidates, measured in this run, is far below
    assert rnd["Avg@5"] < 0.5 and ours["Avg@5"] > 2 * rnd["Avg@5"]
    cal = report["calibration"]
    assert abs(cal["mean_confidence"] - cal["accuracy"]) < 0.1


def _reordered(case: MetricCase) -> MetricCase:
    cols = list(reversed(case.window.columns))
    return MetricCase(
        baseline=case.baseline.select(cols),
        window=case.window.select(cols),
        inject_time=case.inject_time,
        layout=case.layout,
    )


def test_same_question_same_data_same_ranking(sockshop: Path) -> None:
    for case_dir, _, _ in discover(sockshop)[::7]:
        first = rank_case(load_case_dir(case_dir)).to_json(13)
        again = rank_case(load_case_dir(case_dir)).to_json(13)
        shuffled = rank_case(_reordered(load_case_dir(case_dir))).to_json(13)
        assert first == again == shuffled
