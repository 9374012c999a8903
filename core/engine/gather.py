"""Run evidence gatherers in parallel, each within its own time budget.

A gatherer is a named zero-argument callable. `gather(tasks, timeout_s)` starts them all on a
fresh thread pool and waits at most `timeout_s` for each (they start together, so the slowest
bounds the wait). A gatherer that raises or runs over becomes a `Outcome` with `error` set,
never an exception: the answer says which source was missing and why. Threads that run over
are abandoned, not joined, so one hung backend cannot hold the answer hostage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from core.errors import SherlogError

MAX_WORKERS = 8


@dataclass(frozen=True)
class Outcome:
    """What one gatherer returned (`value`) or why it did not (`error`, a one-line reason)."""

    name: str
    value: Any = None
    error: str | None = None
    timed_out: bool = False
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def describe_error(e: BaseException) -> str:
    """A one-line reason for a caveat: Sherlog errors by message, anything else by type and text."""
    if isinstance(e, SherlogError):
        return e.message.splitlines()[0][:300]
    text = (str(e).strip().splitlines() or [""])[0][:300]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def gather(tasks: Mapping[str, Callable[[], Any]], timeout_s: float) -> dict[str, Outcome]:
    """Run `tasks` concurrently; every name gets an Outcome within about `timeout_s`."""
    if not tasks:
        return {}
    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(tasks)), thread_name_prefix="sherlog-gather")
    spent: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        try:
            return fn()
        finally:
            spent[name] = (time.perf_counter() - t) * 1000.0

    futures: dict[str, Future[Any]] = {name: pool.submit(timed, name, fn) for name, fn in tasks.items()}
    wait(futures.values(), timeout=timeout_s)
    pool.shutdown(wait=False, cancel_futures=True)
    out: dict[str, Outcome] = {}
    for name, fut in futures.items():
        elapsed = spent.get(name, (time.perf_counter() - started) * 1000.0)
        if not fut.done() or fut.cancelled():
            # still running, or never started (cancelled at shutdown): either way it ran out of time
            out[name] = Outcome(name, error=f"timed out after {timeout_s:g} s", timed_out=True, elapsed_ms=elapsed)
            continue
        exc = fut.exception()
        if exc is not None:
            out[name] = Outcome(name, error=describe_error(exc), elapsed_ms=elapsed)
        else:
            out[name] = Outcome(name, value=fut.result(), elapsed_ms=elapsed)
    return out


def run_one(name: str, fn: Callable[[], Any], timeout_s: float) -> Outcome:
    """`gather` for a single task."""
    return gather({name: fn}, timeout_s)[name]
