"""Robust-baseline anomaly detection with onset time (BARO-style robust z-scores).

For each series the baseline (normal period) gives a centre and a spread that outliers cannot
drag: the median and the inter-quartile range, IQR / 1.349 being the standard deviation of a
normal distribution with that IQR. Each sample of the anomalous window becomes a robust z-score
``(x - median) / scale``.

Three guards make the scores comparable across series of very different kinds:

* **Scale floor.** Many series are flat in the baseline (memory of an idle pod, a constant p50);
  their IQR is 0 and any wiggle would score infinity. The scale is at least
  ``rel_scale_floor * |median|`` (1 %: moves smaller than 1 % of a series' level are not worth
  waking anyone for) and at least ``abs_scale_floor``.
* **Direction.** Faults push resource use, latency and error counts *up*; drops are mostly
  consequences (less traffic reaches a service behind a failing one) or restarts. Downward
  deviations are weighted by ``down_weight`` (0.5), not ignored.
* **Persistence.** One-sample spikes are scrape noise, so the window's |z| is smoothed with a
  centred running median of ``smooth`` samples before taking its peak.

The *strength* of a series is that smoothed, direction-weighted peak |z|. Its *onset* is the
first window timestamp whose smoothed score reaches ``threshold`` (3, the usual 3-sigma line).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from core.metrics.frame import FloatArray, MetricFrame
from core.metrics.names import MetricName

#: IQR of a standard normal distribution: IQR / 1.349 estimates sigma.
IQR_TO_SIGMA = 1.349


@dataclass(frozen=True)
class AnomalyParams:
    """Tunables of the detector (defaults documented in the module docstring)."""

    threshold: float = 3.0
    rel_scale_floor: float = 0.01
    abs_scale_floor: float = 1e-9
    down_weight: float = 0.5
    smooth: int = 3
    min_baseline_points: int = 3


@dataclass(frozen=True)
class RobustBaseline:
    """Per-column median, scale (sigma-equivalent, floored) and count of usable baseline points."""

    median: FloatArray
    scale: FloatArray
    points: np.ndarray


@dataclass(frozen=True)
class MetricAnomaly:
    """How far one series left its baseline in the anomalous window.

    ``strength`` is the smoothed, direction-weighted peak |z| (0 when unscored); ``peak_z`` the
    signed raw z at that peak, ``peak_value`` the raw value there; ``onset_time`` the first time
    the smoothed score reached the threshold (None if it never did). ``scored`` is False when the
    baseline or the window had too few finite samples, and ``note`` then says why.
    """

    column: str
    service: str
    metric: str
    strength: float
    peak_z: float
    peak_value: float
    peak_time: float | None
    onset_time: float | None
    baseline_median: float
    baseline_scale: float
    anomalous_fraction: float
    scored: bool = True
    note: str = ""

    @property
    def is_anomalous(self) -> bool:
        return self.onset_time is not None

    @property
    def direction(self) -> str:
        if self.peak_z > 0:
            return "up"
        if self.peak_z < 0:
            return "down"
        return "flat"


def fit_baseline(values: FloatArray, params: AnomalyParams = AnomalyParams()) -> RobustBaseline:
    """Median and floored IQR-based scale of each column of ``values`` (rows = samples), ignoring NaN."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    points = np.sum(np.isfinite(v), axis=0)
    median = np.full(v.shape[1], np.nan)
    scale = np.full(v.shape[1], np.nan)
    ok = points > 0
    if np.any(ok):
        sub = v[:, ok]
        median[ok] = np.nanmedian(sub, axis=0)
        q1, q3 = np.nanpercentile(sub, [25.0, 75.0], axis=0)
        spread = (q3 - q1) / IQR_TO_SIGMA
        floor = np.maximum(params.rel_scale_floor * np.abs(median[ok]), params.abs_scale_floor)
        scale[ok] = np.maximum(spread, floor)
    return RobustBaseline(median=median, scale=scale, points=points)


def robust_z(values: FloatArray, baseline: RobustBaseline) -> FloatArray:
    """Robust z-scores of ``values`` (rows = samples, columns as in ``baseline``)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    out: FloatArray = (v - baseline.median) / baseline.scale
    return out


def running_median(x: FloatArray, width: int) -> FloatArray:
    """Centred running median along axis 0, edges padded with the edge values; NaN-aware.

    Width 1 (or fewer samples than the width) returns ``x`` unchanged.
    """
    n = x.shape[0]
    if width <= 1 or n < width:
        return x
    half = width // 2
    pad = [(half, width - 1 - half)] + [(0, 0)] * (x.ndim - 1)
    padded = np.pad(x, pad, mode="edge")
    windows = sliding_window_view(padded, width, axis=0)
    # all-NaN windows (runs of missing samples) are expected: their median is NaN, which callers skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        out: FloatArray = np.nanmedian(windows, axis=-1)
    return out


def weighted_score(z: FloatArray, params: AnomalyParams = AnomalyParams()) -> FloatArray:
    """|z| with downward deviations weighted by ``params.down_weight``."""
    out: FloatArray = np.where(z < 0, -z * params.down_weight, z)
    return out


def detect_anomalies(
    baseline: MetricFrame,
    window: MetricFrame,
    names: Mapping[str, MetricName],
    params: AnomalyParams = AnomalyParams(),
) -> list[MetricAnomaly]:
    """Score every column of ``window`` against ``baseline`` (same columns); one result per column, in column order."""
    if baseline.columns != window.columns:
        raise ValueError("baseline and window must have the same columns in the same order")
    base = fit_baseline(baseline.values, params)
    z = robust_z(window.values, base) if window.rows else np.zeros((0, len(window.columns)))
    score = running_median(weighted_score(z, params), params.smooth)
    results: list[MetricAnomaly] = []
    for j, col in enumerate(window.columns):
        name = names[col]
        s = score[:, j] if window.rows else np.zeros(0)
        finite = np.isfinite(s)
        note = ""
        if base.points[j] < params.min_baseline_points:
            note = f"baseline has {int(base.points[j])} finite sample(s), need {params.min_baseline_points}"
        elif not np.any(finite):
            note = "no finite samples in the anomalous window"
        if note:
            results.append(
                MetricAnomaly(
                    column=col,
                    service=name.service,
                    metric=name.metric,
                    strength=0.0,
                    peak_z=0.0,
                    peak_value=math.nan,
                    peak_time=None,
                    onset_time=None,
                    baseline_median=float(base.median[j]),
                    baseline_scale=float(base.scale[j]),
                    anomalous_fraction=0.0,
                    scored=False,
                    note=note,
                )
            )
            continue
        masked = np.where(finite, s, -np.inf)
        peak = int(np.argmax(masked))  # first index of the maximum: deterministic
        above = finite & (s >= params.threshold)
        onset = float(window.times[int(np.argmax(above))]) if np.any(above) else None
        results.append(
            MetricAnomaly(
                column=col,
                service=name.service,
                metric=name.metric,
                strength=float(s[peak]),
                peak_z=float(z[peak, j]) if np.isfinite(z[peak, j]) else 0.0,
                peak_value=float(window.values[peak, j]),
                peak_time=float(window.times[peak]),
                onset_time=onset,
                baseline_median=float(base.median[j]),
                baseline_scale=float(base.scale[j]),
                anomalous_fraction=float(np.sum(above) / len(s)),
            )
        )
    return results
