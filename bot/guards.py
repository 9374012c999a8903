"""Guards in front of the engine: the channel allowlist and a per-user rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """Why a request was turned away, phrased for the user, with what to do about it."""

    reason: str
    hint: str


class ChannelAllowlist:
    """Channels Sherlog answers in. Empty means every channel.

    Entries may be channel ids or names (with or without `#`), because Slack events carry
    ids while admins think in names.
    """

    def __init__(self, entries: Iterable[str], *, setting: str) -> None:
        self._entries = {e.strip().lstrip("#").lower() for e in entries if e.strip()}
        self._setting = setting

    @property
    def open(self) -> bool:
        return not self._entries

    def check(self, *names: str | None) -> Refusal | None:
        """None if any of the channel's spellings (id, name, parent channel) is allowed."""
        if self.open:
            return None
        for n in names:
            if n and n.strip().lstrip("#").lower() in self._entries:
                return None
        return Refusal(
            reason="Sherlog is not enabled in this channel.",
            hint=f"ask an admin to add this channel to {self._setting}, or ask in an allowed channel",
        )


class RateLimiter:
    """At most `per_minute` events per key in any sliding 60-second window. Thread-safe.

    It guards the engine (the expensive path), so adapters apply it to questions and `rca`,
    not to cheap incident bookkeeping verbs.
    """

    WINDOW_S = 60.0

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"rate limit must be at least 1 per minute, got {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> Refusal | None:
        """Record one event for `key`; a Refusal (with the wait) if it is over the limit."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.WINDOW_S:
                hits.popleft()
            if len(hits) >= self.per_minute:
                wait = max(1, int(self.WINDOW_S - (now - hits[0])) + 1)
                return Refusal(
                    reason=f"You've asked {len(hits)} questions in the last minute (limit {self.per_minute}).",
                    hint=f"wait about {wait}s and ask again; follow-ups in the same thread keep their context",
                )
            hits.append(now)
            return None
