"""Ranking factors on their own: onset, upstream position, change proximity, prior."""

from __future__ import annotations

import math

import pytest

from core.errors import InputError
from core.metrics.cases import CallEdge, Change
from core.rca.factors import FactorParams, change_factors, onset_factors, prior_factors, upstream_factors


def test_onset_factor_decays_with_delay_after_the_first_onset() -> None:
    f = onset_factors({"a": 100.0, "b": 160.0, "c": None})
    assert f["a"] == pytest.approx(1.25)
    assert f["b"] == pytest.approx(1 + 0.25 * math.exp(-1))
    assert f["c"] == 1.0
    assert onset_factors({"a": None}) == {"a": 1.0}


def test_upstream_factor_rewards_the_deepest_anomalous_dependency() -> None:
    edges = [CallEdge("web", "api"), CallEdge("api", "db"), CallEdge("web", "cache")]
    f = upstream_factors(["web", "api", "db", "cache"], {"web", "api", "db"}, edges)
    assert f["db"] == pytest.approx(1.5)  # both other anomalous services call it
    assert f["api"] == pytest.approx((1 + 0.5 * 0.5) * (1 - 0.3 * 0.5))
    assert f["web"] == pytest.approx(1 - 0.3)
    assert f["cache"] == 1.0


def test_upstream_factor_is_neutral_without_graph_or_with_one_symptom_and_survives_cycles() -> None:
    assert upstream_factors(["a", "b"], {"a", "b"}, []) == {"a": 1.0, "b": 1.0}
    assert upstream_factors(["a", "b"], {"a"}, [CallEdge("a", "b")]) == {"a": 1.0, "b": 1.0}
    cyc = upstream_factors(["a", "b"], {"a", "b"}, [CallEdge("a", "b"), CallEdge("b", "a"), CallEdge("a", "a")])
    assert cyc["a"] == pytest.approx(cyc["b"]) == pytest.approx(1.5 * 0.7)


def test_change_factor_window() -> None:
    p = FactorParams()
    changes = [
        Change(1000.0 - 60, "a"),
        Change(1000.0 + 30, "b"),  # within the clock-skew grace
        Change(1000.0 + 600, "c"),  # after the start: cannot be the cause
        Change(1000.0 - p.change_horizon_s - 1, "d"),  # too old
        Change(1000.0 - 3000, "a"),  # an older change on a: the closest one counts
        Change(1000.0, "ghost"),
    ]
    f = change_factors(["a", "b", "c", "d"], changes, 1000.0, p)
    assert f["a"] == pytest.approx(1 + math.exp(-60 / 900))
    assert f["b"] == pytest.approx(2.0)
    assert f["c"] == 1.0 and f["d"] == 1.0
    assert "ghost" not in f


def test_prior_defaults_to_one_and_rejects_non_positive() -> None:
    assert prior_factors(["a", "b"], {"a": 2.0, "zz": 3.0}) == {"a": 2.0, "b": 1.0}
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError):
            prior_factors(["a"], {"a": bad})
