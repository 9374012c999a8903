"""AC@k and Avg@k arithmetic on hand-made rankings."""

from __future__ import annotations

import pytest

from eval.sockshop import ac_at_k, avg_at_k, rank_of, summary


def test_rank_of_is_one_based_and_none_when_absent() -> None:
    assert rank_of("b", ["a", "b", "c"]) == 2
    assert rank_of("z", ["a", "b"]) is None


def test_ac_at_k_counts_cases_with_truth_in_the_top_k() -> None:
    ranks = [1, 2, 3, 6, None]
    assert ac_at_k(ranks, 1) == pytest.approx(1 / 5)
    assert ac_at_k(ranks, 2) == pytest.approx(2 / 5)
    assert ac_at_k(ranks, 3) == pytest.approx(3 / 5)
    assert ac_at_k(ranks, 5) == pytest.approx(3 / 5)
    assert ac_at_k(ranks, 6) == pytest.approx(4 / 5)
    assert ac_at_k([], 1) == 0.0
    with pytest.raises(ValueError):
        ac_at_k(ranks, 0)


def test_avg_at_5_is_the_mean_of_ac_1_to_5() -> None:
    # rankings of 4 cases; truth positions 1, 1, 2, 5
    rankings = [["x", "y"], ["y", "x"], ["a", "x"], ["a", "b", "c", "d", "x"]]
    truths = ["x", "y", "x", "x"]
    ranks = [rank_of(t, r) for t, r in zip(truths, rankings, strict=True)]
    assert ranks == [1, 1, 2, 5]
    acs = [0.5, 0.75, 0.75, 0.75, 1.0]
    assert [ac_at_k(ranks, k) for k in range(1, 6)] == pytest.approx(acs)
    assert avg_at_k(ranks, 5) == pytest.approx(sum(acs) / 5)
    assert avg_at_k([1, 1], 5) == 1.0
    assert avg_at_k([None], 5) == 0.0


def test_summary_has_every_k_and_the_count() -> None:
    s = summary([1, 3])
    assert s["AC@1"] == 0.5 and s["AC@3"] == 1.0 and s["cases"] == 2.0
    assert s["Avg@5"] == pytest.approx((0.5 + 0.5 + 1 + 1 + 1) / 5)
