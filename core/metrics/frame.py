"""MetricFrame: a time-indexed block of metric samples (rows = timestamps, columns = series)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MetricFrame:
    """Samples of several metric series on one time axis.

    ``times`` are epoch seconds, ascending; ``values[i, j]`` is column ``j`` at ``times[i]``;
    NaN marks a missing sample (an empty CSV cell). ``source`` names where the data came from,
    for error messages.
    """

    times: FloatArray
    columns: tuple[str, ...]
    values: FloatArray
    source: str = ""

    def __post_init__(self) -> None:
        if self.times.ndim != 1:
            raise ValueError("times must be one-dimensional")
        if self.values.shape != (len(self.times), len(self.columns)):
            raise ValueError(f"values has shape {self.values.shape}, expected ({len(self.times)}, {len(self.columns)})")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("column names must be unique")
        if len(self.times) > 1 and bool(np.any(np.diff(self.times) < 0)):
            raise ValueError("times must be ascending")

    @property
    def rows(self) -> int:
        return len(self.times)

    def column(self, name: str) -> FloatArray:
        """One series by column name."""
        return self.values[:, self.columns.index(name)]

    def before(self, t: float) -> MetricFrame:
        """Rows strictly before ``t``."""
        mask = self.times < t
        return MetricFrame(self.times[mask], self.columns, self.values[mask], self.source)

    def from_time(self, t: float) -> MetricFrame:
        """Rows at or after ``t``."""
        mask = self.times >= t
        return MetricFrame(self.times[mask], self.columns, self.values[mask], self.source)

    def with_columns(self, names: Sequence[str], values: FloatArray) -> MetricFrame:
        """A copy with extra columns appended (same time axis)."""
        if not names:
            return self
        extra = np.asarray(values, dtype=np.float64).reshape(self.rows, len(names))
        return MetricFrame(self.times, (*self.columns, *names), np.hstack([self.values, extra]), self.source)

    def select(self, names: Sequence[str]) -> MetricFrame:
        """A copy with only ``names``, in that order."""
        idx = [self.columns.index(n) for n in names]
        return MetricFrame(self.times, tuple(names), self.values[:, idx], self.source)
