"""Prompt token budgets: count a chat prompt's tokens, refuse or trim what is over.

Counts come from `litellm.token_counter` (tiktoken's cl100k files bundled with
litellm for models it does not know, so no download). A local model's own
tokenizer and chat template differ, so counts are an estimate of the same order,
which is what a budget needs: stop a runaway prompt before it is sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from core.errors import InputError, LLMError

Message = Mapping[str, str]
TokenCounter = Callable[[Sequence[Message]], int]

ROLES = frozenset({"system", "user", "assistant"})

# per-message overhead (role, separators) in OpenAI's chat accounting; used by the estimate
_PER_MESSAGE = 4


class TokenBudgetExceeded(LLMError):
    """A prompt is over the configured token budget; nothing was sent to a model."""

    def __init__(self, tokens: int, budget: int, *, hint: str | None = None) -> None:
        super().__init__(
            f"prompt is {tokens} tokens, over the budget of {budget}",
            hint=hint
            or "send less evidence, trim older turns (core.llm.budget.trim_to_budget) or raise llm.token_budget",
        )
        self.tokens = tokens
        self.budget = budget


def check_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Validate a chat prompt and copy it to plain dicts; InputError names the bad message."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InputError(f"messages must be a list of {{'role', 'content'}} dicts, got {type(messages).__name__}")
    if not messages:
        raise InputError("messages is empty: a completion needs at least one message")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise InputError(f"messages[{i}] is {type(m).__name__}, not a {{'role', 'content'}} dict")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise InputError(f"messages[{i}].role is {role!r}; expected one of {sorted(ROLES)}")
        if not isinstance(content, str):
            raise InputError(f"messages[{i}].content is {type(content).__name__}, not str")
        out.append({"role": role, "content": content})
    return out


def estimate_tokens(messages: Sequence[Message]) -> int:
    """A tokenizer-free count (~4 characters per token), used when no tokenizer is at hand."""
    return sum(_PER_MESSAGE + math.ceil(len(m.get("content", "")) / 4) for m in messages) + 3


def litellm_counter(model: str) -> TokenCounter:
    """Count with `litellm.token_counter` for `model`, falling back to the estimate if it fails."""

    def count(messages: Sequence[Message]) -> int:
        from core.llm.litellm_loader import load_litellm

        litellm = load_litellm()
        try:
            return int(litellm.token_counter(model=model, messages=[dict(m) for m in messages]))
        except Exception:  # an unknown model or tokenizer problem must not block the call; estimate instead
            return estimate_tokens(messages)

    return count


def enforce_budget(messages: Sequence[Message], budget: int, count: TokenCounter) -> int:
    """Return the prompt's token count, or raise TokenBudgetExceeded when it is over `budget`."""
    tokens = count(messages)
    if tokens > budget:
        raise TokenBudgetExceeded(tokens, budget)
    return tokens


def trim_to_budget(messages: Sequence[Message], budget: int, count: TokenCounter) -> tuple[list[Message], int]:
    """Drop the oldest conversation turns until the prompt fits; return (kept, number dropped).

    System messages and the last message (the question being asked) are always kept,
    and order is preserved. The caller learns how many turns went, so nothing is lost
    silently. Raises TokenBudgetExceeded when even those essentials are over budget.
    """
    kept = list(messages)
    dropped = 0
    while count(kept) > budget:
        victim = next((i for i, m in enumerate(kept[:-1]) if m.get("role") != "system"), None)
        if victim is None:
            raise TokenBudgetExceeded(
                count(kept), budget, hint="the system prompt and the question alone are over budget; shorten them"
            )
        del kept[victim]
        dropped += 1
    return kept, dropped
