"""Grouping accuracy on the 8 Loghub 2k systems, side by side with drain3 (behaviour, not timing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench.logs import SYSTEMS, drain3_runner, grouping_accuracy, load_system, sherlog_runner

pytestmark = pytest.mark.shared_data


@pytest.mark.parametrize("mode", ["content", "raw"])
def test_ga_beats_drain3_on_every_system_and_averages_095(shared_data: Path, mode: str) -> None:
    ours_run, drain3_run = sherlog_runner(mode), drain3_runner(masked=False)
    ours: dict[str, float] = {}
    peer: dict[str, float] = {}
    for system in SYSTEMS:
        sample = load_system(shared_data / "loghub", system)
        lines = sample.contents if mode == "content" else sample.raw
        ours[system] = grouping_accuracy(ours_run(lines), sample.truth)
        peer[system] = grouping_accuracy(drain3_run(lines), sample.truth)
    assert all(ours[s] >= peer[s] for s in SYSTEMS), {s: (ours[s], peer[s]) for s in SYSTEMS}
    assert sum(ours.values()) / len(SYSTEMS) >= 0.95, ours
