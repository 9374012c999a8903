"""Engine tunables with their defaults. Product settings stay in core.settings.Settings; these are
the engine's own knobs (time budgets, windows, bounds), passed to `Engine(..., config=...)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from core.metrics.anomaly import AnomalyParams


@dataclass(frozen=True)
class EngineConfig:
    """Bounds that keep an answer fast and honest.

    * ``gather_timeout_s``: each evidence gatherer's time budget; one that runs over becomes a caveat.
    * ``default_window``: how far back a question without a time phrase looks.
    * ``baseline``: how much history before the window the detectors learn "normal" from.
    * ``dependency_depth``: how many DEPENDS_ON hops below the focus are candidates.
    * ``max_candidates``: cap on candidate entities (the focus and its nearest dependencies first).
    * ``scan_all_workloads_below``: with no entity named, graphs with fewer workloads than this are
      scanned whole for anomalies; larger ones start from cheap signals (alerts, error logs, changes).
    * ``catalog_ttl_s``: how long the entity-name catalog is reused between questions.
    * ``narrate_timeout_s``: LLM narration budget (the model's own timeout applies too).
    """

    gather_timeout_s: float = 2.0
    default_window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(hours=1)
    dependency_depth: int = 4
    max_candidates: int = 60
    scan_all_workloads_below: int = 200
    catalog_ttl_s: float = 30.0
    narrate_timeout_s: float = 20.0
    plan_timeout_s: float = 10.0
    max_evidence: int = 40
    anomaly: AnomalyParams = field(default_factory=AnomalyParams)
