"""Robust-baseline anomaly detection: scale floor, direction, persistence, onset, missing data."""

from __future__ import annotations

import numpy as np
import pytest

from core.metrics.anomaly import AnomalyParams, MetricAnomaly, detect_anomalies, fit_baseline, robust_z, running_median
from core.metrics.frame import MetricFrame
from core.metrics.names import parse_columns


def _frames(base: dict[str, np.ndarray], win: dict[str, np.ndarray], t0: float = 1000.0) -> tuple[MetricFrame, ...]:
    cols = tuple(base)
    nb, nw = len(next(iter(base.values()))), len(next(iter(win.values())))
    b = MetricFrame(t0 + np.arange(nb, dtype=float), cols, np.column_stack([base[c] for c in cols]))
    w = MetricFrame(t0 + nb + np.arange(nw, dtype=float), cols, np.column_stack([win[c] for c in cols]))
    return b, w


def _detect(base: dict[str, np.ndarray], win: dict[str, np.ndarray]) -> dict[str, MetricAnomaly]:
    b, w = _frames(base, win)
    res = detect_anomalies(b, w, parse_columns(b.columns), AnomalyParams())
    return {a.column: a for a in res}


def test_median_and_iqr_ignore_outliers() -> None:
    x = np.array([10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 1000.0])
    base = fit_baseline(x)
    assert base.median[0] == pytest.approx(10.0)
    q1, q3 = np.percentile(x, [25, 75])
    assert base.scale[0] == pytest.approx((q3 - q1) / 1.349)
    assert robust_z(np.array([10.0]), base)[0, 0] == pytest.approx(0.0)


def test_flat_baseline_uses_the_relative_floor_not_zero() -> None:
    base = fit_baseline(np.full(50, 200.0))
    assert base.scale[0] == pytest.approx(2.0)  # 1 % of the level
    assert robust_z(np.array([206.0]), base)[0, 0] == pytest.approx(3.0)


def test_a_zero_baseline_uses_the_absolute_floor() -> None:
    base = fit_baseline(np.zeros(20), AnomalyParams(abs_scale_floor=0.5))
    assert base.scale[0] == pytest.approx(0.5)


def test_step_up_is_found_with_its_onset_and_quiet_series_are_not() -> None:
    rng = np.random.default_rng(1)
    quiet = rng.normal(50, 1, 80)
    stepped = np.concatenate([rng.normal(50, 1, 10), rng.normal(80, 1, 30)])
    got = _detect({"a_cpu": quiet, "b_cpu": rng.normal(50, 1, 80)}, {"a_cpu": stepped, "b_cpu": rng.normal(50, 1, 40)})
    a, b = got["a_cpu"], got["b_cpu"]
    assert a.is_anomalous and a.direction == "up"
    assert a.onset_time == pytest.approx(1000.0 + 80 + 10, abs=1)
    assert a.strength > 15
    assert not b.is_anomalous
    assert b.strength < 3


def test_drops_count_half_as_much_as_rises() -> None:
    base = np.full(30, 100.0)
    got = _detect({"up_cpu": base, "down_cpu": base}, {"up_cpu": np.full(10, 110.0), "down_cpu": np.full(10, 90.0)})
    assert got["up_cpu"].strength == pytest.approx(10.0)
    assert got["down_cpu"].strength == pytest.approx(5.0)
    assert got["down_cpu"].peak_z == pytest.approx(-10.0)
    assert got["down_cpu"].direction == "down"


def test_a_single_sample_spike_is_smoothed_away_but_a_persistent_shift_is_not() -> None:
    base = np.full(30, 100.0)
    spike = np.full(20, 100.0)
    spike[7] = 500.0
    shift = np.full(20, 100.0)
    shift[7:10] = 500.0
    got = _detect({"s_cpu": base, "p_cpu": base}, {"s_cpu": spike, "p_cpu": shift})
    assert got["s_cpu"].strength == pytest.approx(0.0)
    assert got["p_cpu"].strength == pytest.approx(400.0)


def test_running_median_keeps_length_and_handles_short_input() -> None:
    x = np.array([[1.0], [9.0], [2.0], [3.0]])
    assert running_median(x, 3)[:, 0].tolist() == [1.0, 2.0, 3.0, 3.0]
    assert running_median(x[:2], 3).tolist() == [[1.0], [9.0]]


def test_missing_samples_are_tolerated_and_unscorable_series_are_flagged() -> None:
    base_ok = np.array([1.0, np.nan, 1.0, 1.0, 1.0])
    base_bad = np.array([np.nan, np.nan, 2.0, np.nan, np.nan])
    win = np.array([5.0, 5.0, np.nan, 5.0])
    got = _detect(
        {"a_cpu": base_ok, "b_cpu": base_bad, "c_cpu": base_ok},
        {"a_cpu": win, "b_cpu": win, "c_cpu": np.full(4, np.nan)},
    )
    assert got["a_cpu"].scored and got["a_cpu"].is_anomalous
    assert not got["b_cpu"].scored and "baseline" in got["b_cpu"].note
    assert not got["c_cpu"].scored and "window" in got["c_cpu"].note
    assert got["b_cpu"].strength == 0.0
