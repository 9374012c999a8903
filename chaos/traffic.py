"""Traffic model: a daily shape (diurnal sine, weekday factor) times seeded AR(1) noise.

The multiplier is 1.0 at the daily mean on a weekday; services scale their
request rate, CPU and log volume by it. Same seed, same numbers.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from chaos.spec import TrafficSpec

_FLOOR = 0.05  # night-time traffic never drops to zero


def daily_shape(spec: TrafficSpec, ts: datetime) -> float:
    """The noiseless multiplier at ``ts``: a sine peaking at ``peak_hour`` (UTC), lower at weekends."""
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    hour = ts.hour + ts.minute / 60 + ts.second / 3600
    diurnal = 1.0 + spec.diurnal_amplitude * math.cos(2 * math.pi * (hour - spec.peak_hour) / 24)
    weekday = spec.weekend_factor if ts.weekday() >= 5 else 1.0
    return max(_FLOOR, diurnal * weekday)


class TrafficModel:
    """Seeded traffic multiplier series for one environment."""

    def __init__(self, spec: TrafficSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed

    def shape(self, start: datetime, n: int, step_s: float) -> np.ndarray:
        """Noiseless multipliers at ``start + i*step_s`` for i in range(n)."""
        return np.array([daily_shape(self.spec, start + timedelta(seconds=i * step_s)) for i in range(n)])

    def noise(self, n: int, step_s: float) -> np.ndarray:
        """AR(1) multiplicative noise around 1 (correlation time about 5 minutes)."""
        rng = np.random.default_rng([self.seed, 0x7A7F])
        phi = math.exp(-step_s / 300.0)
        innov = rng.normal(0.0, self.spec.noise * math.sqrt(1 - phi * phi), n)
        out = np.empty(n)
        x = rng.normal(0.0, self.spec.noise)
        for i in range(n):
            x = phi * x + innov[i]
            out[i] = x
        return 1.0 + out

    def multiplier(self, start: datetime, n: int, step_s: float) -> np.ndarray:
        """Daily shape times noise: what the entry point's traffic is multiplied by."""
        return np.maximum(_FLOOR, self.shape(start, n, step_s) * self.noise(n, step_s))

    def rps(self, start: datetime, n: int, step_s: float) -> np.ndarray:
        """Entry-point requests/s."""
        return self.spec.base_rps * self.multiplier(start, n, step_s)
