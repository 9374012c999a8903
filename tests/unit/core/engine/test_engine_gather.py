"""Parallel gathering with per-gatherer time budgets: failures and timeouts become outcomes, not exceptions."""

from __future__ import annotations

import time

from core.engine.gather import gather, run_one


def test_a_hung_gatherer_becomes_a_timeout_not_an_exception() -> None:
    def slow() -> int:
        time.sleep(3)
        return 1

    def broken() -> int:
        raise ValueError("disk on fire")

    outs = gather({"slow": slow, "broken": broken, "fine": lambda: 42}, timeout_s=0.3)
    assert outs["fine"].ok and outs["fine"].value == 42
    assert outs["slow"].timed_out and outs["slow"].error == "timed out after 0.3 s"
    assert outs["broken"].error == "ValueError: disk on fire"


def test_tasks_that_never_started_count_as_timed_out() -> None:
    # more tasks than a zero budget lets start: the ones cancelled before running are timeouts too
    outs = gather({f"t{i}": (lambda: time.sleep(0.2)) for i in range(12)}, timeout_s=0.0)
    assert all(o.timed_out for o in outs.values())


def test_run_one_returns_the_value() -> None:
    out = run_one("x", lambda: {"a": 1}, 1.0)
    assert out.ok and out.value == {"a": 1} and out.elapsed_ms >= 0
