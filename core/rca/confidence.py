"""Confidence of a ranked root cause: a documented function of the score margin and the anomaly strength.

``confidence = beats_rival × is_anomalous`` where

* ``beats_rival = s^k / (s^k + r^k)`` with ``s`` the candidate's score, ``r`` the best *other*
  candidate's score and ``k = sharpness`` (2). This is the logistic of the log score ratio,
  ``σ(k · ln(s / r))``: a tie gives 0.5, a 2× margin 0.8, a 5× margin 0.96; a runner-up
  at half the leader's score gets 0.2.
* ``is_anomalous = σ((z − z_mid) / z_width)`` of the candidate's own anomaly strength ``z`` (robust
  z units, midpoint 6, width 1.5): a candidate that barely clears the 3-sigma line (z ≈ 3) gets
  0.12, z = 9 gets 0.88, z ≥ 12 ≈ 1. Ranking noise confidently is the failure this prevents.

How well this matches observed accuracy is measured, not assumed: ``python -m eval.sockshop``
prints mean confidence against AC@1 and the expected calibration error on the benchmark.
"""

from __future__ import annotations

import math

SHARPNESS = 2.0
Z_MID = 6.0
Z_WIDTH = 1.5


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def beats_rival(score: float, rival: float, *, sharpness: float = SHARPNESS) -> float:
    """Probability-like share of ``score`` against ``rival`` (both ≥ 0); 0.5 on a tie, 1 with no rival."""
    if score <= 0:
        return 0.0 if rival > 0 else 0.5
    if rival <= 0:
        return 1.0
    return _sigmoid(sharpness * math.log(score / rival))


def is_anomalous(strength: float, *, z_mid: float = Z_MID, z_width: float = Z_WIDTH) -> float:
    """How sure we are that a strength (robust z units) is a real anomaly rather than noise."""
    if not math.isfinite(strength):
        return 1.0 if strength > 0 else 0.0
    return _sigmoid((strength - z_mid) / z_width)


def confidence(score: float, rival: float, strength: float) -> float:
    """Calibrated confidence in [0, 1] that this candidate, not its best rival, is the root cause."""
    return beats_rival(score, rival) * is_anomalous(strength)
