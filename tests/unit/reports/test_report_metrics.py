"""The pure computations behind the report: percentiles, SLIs, budgets, alert counting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reports.metrics import (
    alert_stats,
    availability_sli,
    error_budget,
    latency_sli,
    mean_ratio,
    nearest_rank,
)

T0 = datetime(2026, 10, 19, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([15, 20, 35, 40, 50], 50, 35),  # rank ceil(2.5) = 3
        ([15, 20, 35, 40, 50], 90, 50),  # rank ceil(4.5) = 5
        ([15, 20, 35, 40, 50], 30, 20),  # rank ceil(1.5) = 2
        ([40, 10, 30, 20], 50, 20),  # even n: the lower middle (rank 2), never an average
        ([40, 10, 30, 20], 90, 40),  # rank ceil(3.6) = 4
        ([7], 90, 7),
        (list(range(1, 11)), 90, 9),  # rank exactly 9
        (list(range(1, 11)), 100, 10),
    ],
)
def test_nearest_rank(values: list[int], p: float, expected: int) -> None:
    assert nearest_rank(values, p) == expected


def test_nearest_rank_of_nothing_and_bad_p() -> None:
    assert nearest_rank([], 50) is None
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank([1], 0)


def test_nearest_rank_on_durations() -> None:
    d = [timedelta(minutes=m) for m in (30, 10, 20)]
    assert nearest_rank(d, 50) == timedelta(minutes=20)


def test_availability_without_request_rate_falls_back_to_the_plain_mean_and_says_so() -> None:
    sli = availability_sli([("s", T0, 0.02), ("s", T0 + timedelta(minutes=1), 0.0)], [])
    assert sli.value == pytest.approx(0.99)
    assert sli.samples == 2
    assert "unweighted" in sli.notes[0]


def test_availability_unpaired_samples_are_named_not_dropped_silently() -> None:
    t1 = T0 + timedelta(minutes=1)
    sli = availability_sli([("s", T0, 0.1), ("s", t1, 0.5)], [("s", T0, 10.0)])
    assert sli.value == pytest.approx(0.9)
    assert "1 error-ratio samples had no request-rate sample" in sli.notes[0]


def test_availability_with_no_traffic_or_no_data_is_undefined() -> None:
    assert availability_sli([("s", T0, 0.0)], [("s", T0, 0.0)]).value is None
    empty = availability_sli([], [])
    assert empty.value is None and empty.samples == 0 and empty.notes


def test_non_finite_samples_are_ignored() -> None:
    assert latency_sli([("s", T0, float("nan")), ("s", T0, 100.0)], 200).samples == 1
    assert mean_ratio([float("nan")]).value is None
    assert mean_ratio([1.0, 0.5]).value == pytest.approx(0.75)


def test_error_budget_arithmetic() -> None:
    b = error_budget(0.999, 0.9995)
    assert b.budget == pytest.approx(0.001)
    assert b.burn == pytest.approx(0.5)
    assert b.remaining == pytest.approx(0.5)
    assert b.met is True
    over = error_budget(0.9, 0.7)
    assert over.burn == pytest.approx(3.0) and over.remaining == pytest.approx(-2.0) and over.met is False
    none = error_budget(0.9, None)
    assert (none.burn, none.remaining, none.met) == (None, None, None)


@dataclass
class Rec:
    attributes: dict[str, Any]
    kind: str = "alert"
    ts: datetime = field(default=T0)


def test_alert_names_come_from_attributes_or_labels() -> None:
    recs = [
        Rec({"alertname": "A", "status": "firing"}),
        Rec({"labels": {"alertname": "B"}, "status": "firing"}),
        Rec({"status": "firing"}),
        Rec({"alertname": "A", "status": "resolved"}),
        Rec({"alertname": "A"}),  # no status: a notification of a firing alert
        Rec({"alertname": "C"}, kind="change"),  # not an alert
    ]
    s = alert_stats(recs)
    assert s.total == 4
    assert s.top == [("A", 2), ("(unnamed)", 1), ("B", 1)]
    assert alert_stats(recs, limit=1).top == [("A", 2)]
