"""Hybrid fusion: the score blend and weighted reciprocal-rank fusion."""

from __future__ import annotations

import math

import pytest

from core.errors import InputError
from core.vector.fusion import RRF_K, blend_scores, cosine_to_unit, reciprocal_rank_fusion


def ids(fused: list) -> list[str]:
    return [f.id for f in fused]


def test_cosine_maps_to_unit_interval() -> None:
    assert cosine_to_unit(1.0) == 1.0
    assert cosine_to_unit(-1.0) == 0.0
    assert cosine_to_unit(0.0) == 0.5
    assert cosine_to_unit(1.0000001) == 1.0  # float rounding above 1 is clamped


def test_alpha_one_is_pure_vector_and_zero_pure_keyword() -> None:
    cos = {"a": 0.9, "b": 0.1}
    kw = {"a": 1.0, "b": 10.0}
    assert ids(blend_scores(cos, kw, 1.0)) == ["a", "b"]
    assert ids(blend_scores(cos, kw, 0.0)) == ["b", "a"]
    pure_vec = blend_scores(cos, kw, 1.0)
    assert pure_vec[0].score == pytest.approx(cosine_to_unit(0.9))


def test_exact_keyword_match_beats_closer_vector_without_keyword() -> None:
    # "rare" matched only doc r (an alert name), whose vector is far from the query
    cos = {"near": 0.92, "mid": 0.5, "rare": 0.05}
    kw = {"rare": 17.0}
    ranking = blend_scores(cos, kw, 0.5)
    assert ranking[0].id == "rare"
    assert ranking[0].keyword_part == 1.0
    assert ranking[1].id == "near"


def test_keyword_scores_are_normalised_by_the_best_one() -> None:
    fused = {f.id: f for f in blend_scores({}, {"x": 8.0, "y": 2.0}, 0.0)}
    assert fused["x"].score == pytest.approx(1.0)
    assert fused["y"].score == pytest.approx(0.25)


def test_missing_side_counts_zero_and_union_is_kept() -> None:
    fused = {f.id: f for f in blend_scores({"v": 0.0}, {"k": 3.0}, 0.5)}
    assert set(fused) == {"v", "k"}
    assert fused["v"].keyword_part == 0.0
    assert fused["k"].vector_part == 0.0
    assert fused["v"].score == pytest.approx(0.25)
    assert fused["k"].score == pytest.approx(0.5)


def test_ties_break_by_id_deterministically() -> None:
    assert ids(blend_scores({"b": 0.3, "a": 0.3, "c": 0.3}, {}, 1.0)) == ["a", "b", "c"]


def test_empty_inputs_give_empty_ranking() -> None:
    assert blend_scores({}, {}, 0.5) == []
    assert reciprocal_rank_fusion([], [], 0.5) == []


@pytest.mark.parametrize("alpha", [-0.1, 1.5, math.nan, True])
def test_bad_alpha_is_refused(alpha: float) -> None:
    with pytest.raises(InputError, match="alpha"):
        blend_scores({"a": 0.1}, {}, alpha)
    with pytest.raises(InputError, match="alpha"):
        reciprocal_rank_fusion(["a"], [], alpha)


def test_bad_scores_are_refused_naming_the_doc() -> None:
    with pytest.raises(InputError, match="'d1'"):
        blend_scores({}, {"d1": -1.0}, 0.5)
    with pytest.raises(InputError, match="'d2'"):
        blend_scores({"d2": math.inf}, {}, 0.5)


def test_rrf_scores_follow_the_formula() -> None:
    fused = {f.id: f for f in reciprocal_rank_fusion(["a", "b"], ["b", "c"], 0.5)}
    assert fused["a"].score == pytest.approx(0.5 / (RRF_K + 1))
    assert fused["b"].score == pytest.approx(0.5 / (RRF_K + 2) + 0.5 / (RRF_K + 1))
    assert fused["c"].score == pytest.approx(0.5 / (RRF_K + 2))
    assert ids(reciprocal_rank_fusion(["a", "b"], ["b", "c"], 0.5))[0] == "b"


def test_rrf_alpha_weights_the_lists() -> None:
    assert ids(reciprocal_rank_fusion(["v1", "v2"], ["k1", "k2"], 1.0))[:2] == ["v1", "v2"]
    assert ids(reciprocal_rank_fusion(["v1", "v2"], ["k1", "k2"], 0.0))[:2] == ["k1", "k2"]
    # at 0.8 the vector list dominates, but an id in both lists still rises
    assert ids(reciprocal_rank_fusion(["v1", "both"], ["both", "k1"], 0.8))[0] == "both"


def test_rrf_repeated_id_counts_at_its_best_rank() -> None:
    fused = {f.id: f for f in reciprocal_rank_fusion(["a", "b", "a"], [], 1.0)}
    assert fused["a"].score == pytest.approx(1.0 / (RRF_K + 1))


def test_rrf_rejects_negative_k() -> None:
    with pytest.raises(InputError, match="k"):
        reciprocal_rank_fusion(["a"], ["a"], 0.5, k=-1)
