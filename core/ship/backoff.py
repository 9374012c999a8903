"""Exponential backoff with full jitter for retrying the server.

The delay before retry n is uniform in [0, min(cap, base * 2**n)]: shippers
that lost the same server do not all come back in the same instant.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """When the next attempt may be made, growing on each failure and reset by a success."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    failures: int = 0
    next_at: float = 0.0

    def ready(self, now: float | None = None) -> bool:
        """True when an attempt may be made now."""
        return (time.monotonic() if now is None else now) >= self.next_at

    def delay(self) -> float:
        """The delay for the current failure count (without recording a failure)."""
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 32)))
        return self.rng.uniform(0.0, ceiling)

    def failed(self, now: float | None = None) -> float:
        """Record a failure; returns the seconds until the next attempt."""
        self.failures += 1
        d = self.delay()
        self.next_at = (time.monotonic() if now is None else now) + d
        return d

    def succeeded(self) -> None:
        self.failures = 0
        self.next_at = 0.0

    def wait_time(self, now: float | None = None) -> float:
        return max(0.0, self.next_at - (time.monotonic() if now is None else now))
