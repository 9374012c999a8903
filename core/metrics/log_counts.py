"""Turn log lines into per-service count series, so logs feed the same anomaly detector as metrics.

Each service seen in the logs gets two columns on the frame's time axis: ``<service>_log_lines``
(all lines) and ``<service>_log_errors`` (lines matching :data:`ERROR_WORDS`). Row ``i`` counts
the lines in ``[times[i], times[i+1])``; the last row's bucket is one median sampling step wide.
Which lines fell outside every bucket is reported back, so callers can say so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.metrics.cases import LogLine
from core.metrics.frame import MetricFrame

#: Words that mark a log line as an error; deliberately broad, matched case-insensitively on word boundaries.
ERROR_WORDS = re.compile(
    r"\b(error|errors|err|exception|fail|failed|failure|fatal|panic|critical|crit|timeout|timed out"
    r"|refused|unavailable|unreachable|traceback|denied|oom|killed|5\d\d)\b",
    re.IGNORECASE,
)


def log_columns(services: Sequence[str]) -> list[str]:
    """Column names added for ``services``, in a fixed order."""
    return [f"{s}_{kind}" for s in sorted(set(services)) for kind in ("log_lines", "log_errors")]


def _bucket_edges(times: np.ndarray) -> np.ndarray:
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    if step <= 0:
        step = 1.0
    return np.append(times, times[-1] + step)


def add_log_counts(
    frame: MetricFrame, logs: Sequence[LogLine], services: Sequence[str]
) -> tuple[MetricFrame, npt.NDArray[np.bool_]]:
    """``frame`` with log count columns for ``services`` appended, and which lines were counted.

    A line is counted when its service is in ``services`` and its time falls in one of the
    frame's buckets; the caller reports the others.
    """
    placed = np.zeros(len(logs), dtype=np.bool_)
    if not services:
        return frame, placed
    names = sorted(set(services))
    counts = np.zeros((frame.rows, 2 * len(names)), dtype=np.float64)
    if frame.rows == 0:
        return frame.with_columns(log_columns(names), counts), placed
    col = {s: 2 * i for i, s in enumerate(names)}
    edges = _bucket_edges(frame.times)
    for k, line in enumerate(logs):
        if line.service not in col:
            continue
        # side="right" puts a line stamped exactly at times[i] in bucket i
        row = int(np.searchsorted(edges, line.time, side="right")) - 1
        if row < 0 or row >= frame.rows:
            continue
        j = col[line.service]
        counts[row, j] += 1
        if ERROR_WORDS.search(line.message):
            counts[row, j + 1] += 1
        placed[k] = True
    return frame.with_columns(log_columns(names), counts), placed
