"""Channel allowlist and the per-user sliding-window rate limit."""

from __future__ import annotations

import pytest

from bot.conversation import strip_mentions
from bot.guards import ChannelAllowlist, RateLimiter


def test_empty_allowlist_allows_everything_and_names_are_matched_loosely() -> None:
    assert ChannelAllowlist([], setting="X").check("C1") is None
    allow = ChannelAllowlist(["#Incidents", "C999"], setting="SHERLOG_SLACK__ALLOWED_CHANNELS")
    assert allow.check("C123", "incidents") is None
    assert allow.check("C999") is None
    refusal = allow.check("C123", "random")
    assert refusal is not None and "SHERLOG_SLACK__ALLOWED_CHANNELS" in refusal.hint


def test_rate_limit_is_per_key_and_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.check("u1") for _ in range(3)] == [None, None, None]
    refusal = limiter.check("u1")
    assert refusal is not None and "limit 3" in refusal.reason and "wait about 61s" in refusal.hint
    assert limiter.check("u2") is None  # other users are not affected
    now[0] = 59.0
    assert limiter.check("u1") is not None
    now[0] = 60.5  # the first three fell out of the window
    assert limiter.check("u1") is None


def test_rate_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0)


@pytest.mark.parametrize(
    ("raw", "question"),
    [
        ("<@UBOT> why is checkout failing?", "why is checkout failing?"),
        ("<@UBOT|sherlog>   what changed?", "what changed?"),
        ("<@!1234567> why slow", "why slow"),
        ("@sherlog: status of payments", "status of payments"),
        ("<@UBOT>", ""),
    ],
)
def test_strip_mentions(raw: str, question: str) -> None:
    assert strip_mentions(raw) == question
