"""Fusing a vector ranking and a keyword ranking into one hybrid ranking.

Two methods, both weighted by `alpha` (1.0 = vector only, 0.0 = keyword only):

- `blend_scores` (what the embedded store uses): a normalised score blend.
  Cosine similarity is mapped absolutely from [-1, 1] to [0, 1], so a weak
  vector match stays weak instead of being stretched by min-max scaling; keyword
  scores (TF-IDF/BM25, unbounded) are divided by the best keyword score of the
  query, so the strongest keyword match counts 1.0. A document missing from one
  list contributes 0 for it: no keyword match really is a keyword score of 0.
- `reciprocal_rank_fusion`: weighted RRF over ranks only, for rankings whose
  scores are not comparable (e.g. results from two different stores).

Ties are broken by id so a ranking is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import InputError

RRF_K = 60  # the usual RRF damping constant: rank 1 and rank 5 differ, but not by 5x


@dataclass(frozen=True)
class Fused:
    """One fused result: its hybrid score and the two normalised parts it came from."""

    id: str
    score: float
    vector_part: float
    keyword_part: float


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be between 0.0 (keyword) and 1.0 (vector), got {alpha!r}")
    return float(alpha)


def cosine_to_unit(cosine: float) -> float:
    """Cosine similarity [-1, 1] → [0, 1] (clamped against float rounding)."""
    return min(1.0, max(0.0, (1.0 + cosine) / 2.0))


def blend_scores(
    vector_cosines: Mapping[str, float],
    keyword_scores: Mapping[str, float],
    alpha: float,
) -> list[Fused]:
    """Hybrid ranking of the union of both candidate sets, best first.

    `vector_cosines`: id → cosine similarity to the query vector.
    `keyword_scores`: id → non-negative keyword relevance (any scale).
    """
    a = _check_alpha(alpha)
    for doc_id, kw in keyword_scores.items():
        if not math.isfinite(kw) or kw < 0:
            raise InputError(f"keyword score of {doc_id!r} must be a finite non-negative number, got {kw!r}")
    for doc_id, cos in vector_cosines.items():
        if not math.isfinite(cos):
            raise InputError(f"cosine similarity of {doc_id!r} must be finite, got {cos!r}")
    best_kw = max(keyword_scores.values(), default=0.0)
    fused: list[Fused] = []
    for doc_id in vector_cosines.keys() | keyword_scores.keys():
        v = cosine_to_unit(vector_cosines[doc_id]) if doc_id in vector_cosines else 0.0
        kw = keyword_scores.get(doc_id, 0.0) / best_kw if best_kw > 0 else 0.0
        fused.append(Fused(doc_id, a * v + (1.0 - a) * kw, v, kw))
    fused.sort(key=lambda f: (-f.score, f.id))
    return fused


def reciprocal_rank_fusion(
    vector_ranking: Sequence[str],
    keyword_ranking: Sequence[str],
    alpha: float,
    *,
    k: int = RRF_K,
) -> list[Fused]:
    """Weighted reciprocal-rank fusion: score = alpha/(k+rank_v) + (1-alpha)/(k+rank_kw).

    Rankings are best first; an id repeated within one ranking counts at its best rank.
    """
    a = _check_alpha(alpha)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InputError(f"RRF constant k must be a non-negative integer, got {k!r}")

    def parts(ranking: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for rank, doc_id in enumerate(ranking, start=1):
            out.setdefault(doc_id, 1.0 / (k + rank))
        return out

    v_parts, kw_parts = parts(vector_ranking), parts(keyword_ranking)
    fused = [
        Fused(
            doc_id,
            a * v_parts.get(doc_id, 0.0) + (1.0 - a) * kw_parts.get(doc_id, 0.0),
            v_parts.get(doc_id, 0.0),
            kw_parts.get(doc_id, 0.0),
        )
        for doc_id in v_parts.keys() | kw_parts.keys()
    ]
    fused.sort(key=lambda f: (-f.score, f.id))
    return fused
