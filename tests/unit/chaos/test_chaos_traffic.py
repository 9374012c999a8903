"""Traffic model: daily shape, weekday factor, seeded noise."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from chaos.spec import TrafficSpec
from chaos.traffic import TrafficModel, daily_shape

SPEC = TrafficSpec(base_rps=100, diurnal_amplitude=0.4, peak_hour=14, weekend_factor=0.6, noise=0.05)
TUESDAY = datetime(2026, 11, 17, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, tzinfo=UTC)


def test_peak_and_trough_follow_the_daily_sine() -> None:
    peak = daily_shape(SPEC, TUESDAY.replace(hour=14))
    trough = daily_shape(SPEC, TUESDAY.replace(hour=2))
    assert abs(peak - 1.4) < 1e-9
    assert abs(trough - 0.6) < 1e-9
    assert daily_shape(SPEC, TUESDAY.replace(hour=20)) < peak


def test_weekends_are_quieter() -> None:
    assert abs(daily_shape(SPEC, SATURDAY.replace(hour=14)) - 1.4 * 0.6) < 1e-9


def test_same_seed_same_series_and_different_seed_differs() -> None:
    a = TrafficModel(SPEC, 5).rps(TUESDAY, 200, 30)
    b = TrafficModel(SPEC, 5).rps(TUESDAY, 200, 30)
    c = TrafficModel(SPEC, 6).rps(TUESDAY, 200, 30)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_noise_is_small_and_centred() -> None:
    model = TrafficModel(SPEC, 1)
    ratio = model.multiplier(TUESDAY, 2000, 30) / model.shape(TUESDAY, 2000, 30)
    assert abs(float(np.mean(ratio)) - 1.0) < 0.03
    assert 0.01 < float(np.std(ratio)) < 0.1
    assert float(np.min(model.multiplier(TUESDAY, 2000, 30))) > 0
