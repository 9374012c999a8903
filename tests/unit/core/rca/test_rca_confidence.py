"""Confidence as a function of the score margin and the anomaly strength."""

from __future__ import annotations

import pytest

from core.rca.confidence import beats_rival, confidence, is_anomalous


def test_margin_part_is_a_logistic_of_the_log_ratio() -> None:
    assert beats_rival(10.0, 10.0) == pytest.approx(0.5)
    assert beats_rival(20.0, 10.0) == pytest.approx(0.8)
    assert beats_rival(10.0, 20.0) == pytest.approx(0.2)
    assert beats_rival(50.0, 10.0) == pytest.approx(25 / 26)
    assert beats_rival(5.0, 0.0) == 1.0 and beats_rival(0.0, 5.0) == 0.0 and beats_rival(0.0, 0.0) == 0.5


def test_margin_part_grows_with_the_margin() -> None:
    vals = [beats_rival(r, 1.0) for r in (1.0, 1.5, 2.0, 4.0, 10.0, 100.0)]
    assert vals == sorted(vals) and len(set(vals)) == len(vals)


def test_strength_part_discounts_weak_anomalies() -> None:
    assert is_anomalous(6.0) == pytest.approx(0.5)
    assert is_anomalous(3.0) < 0.15
    assert is_anomalous(12.0) > 0.98
    assert is_anomalous(float("inf")) == 1.0


def test_confidence_is_the_product_and_stays_in_range() -> None:
    assert confidence(20.0, 10.0, 100.0) == pytest.approx(0.8 * is_anomalous(100.0))
    for s, r, z in [(0.0, 0.0, 0.0), (1e9, 1.0, 1e9), (1.0, 1e9, 2.0)]:
        assert 0.0 <= confidence(s, r, z) <= 1.0
