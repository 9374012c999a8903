"""Log lines become per-service count series on a frame's time axis."""

from __future__ import annotations

import numpy as np

from core.metrics.cases import LogLine
from core.metrics.frame import MetricFrame
from core.metrics.log_counts import add_log_counts


def test_lines_are_bucketed_per_row_and_errors_counted_separately() -> None:
    frame = MetricFrame(np.array([10.0, 11.0, 12.0]), ("a_cpu",), np.ones((3, 1)))
    logs = [
        LogLine(10.0, "a", "GET / 200"),
        LogLine(10.5, "a", "connection refused"),
        LogLine(12.9, "b", "Traceback (most recent call last)"),
        LogLine(13.0, "a", "after the last bucket"),
        LogLine(9.0, "a", "before the first"),
        LogLine(11.0, "c", "service not asked for"),
    ]
    out, placed = add_log_counts(frame, logs, ["b", "a"])
    assert out.columns == ("a_cpu", "a_log_lines", "a_log_errors", "b_log_lines", "b_log_errors")
    assert out.column("a_log_lines").tolist() == [2.0, 0.0, 0.0]
    assert out.column("a_log_errors").tolist() == [1.0, 0.0, 0.0]
    assert out.column("b_log_lines").tolist() == [0.0, 0.0, 1.0]
    assert out.column("b_log_errors").tolist() == [0.0, 0.0, 1.0]
    assert placed.tolist() == [True, True, True, False, False, False]


def test_error_words_match_whole_words_only() -> None:
    frame = MetricFrame(np.array([0.0]), ("a_cpu",), np.ones((1, 1)))
    logs = [LogLine(0.0, "a", "terror movie"), LogLine(0.0, "a", "request failed"), LogLine(0.0, "a", "HTTP 503")]
    out, _ = add_log_counts(frame, logs, ["a"])
    assert out.column("a_log_errors").tolist() == [2.0]
