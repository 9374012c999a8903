"""The optional LLM (the core.ports.LLM port), used only to plan and narrate.

`build_llm(settings)` gives a `LiteLLMRouterLLM` over `settings.llm.models`, or
`NoLLM` when none is configured. litellm is imported only when a model is first
called, through core/llm/litellm_loader.py, which keeps it offline.
"""

from __future__ import annotations

from core.llm.budget import TokenBudgetExceeded, trim_to_budget
from core.llm.none import NoLLM
from core.llm.router import LiteLLMRouterLLM
from core.ports import LLM
from core.settings import Settings

__all__ = ["LiteLLMRouterLLM", "NoLLM", "TokenBudgetExceeded", "build_llm", "trim_to_budget"]


def build_llm(settings: Settings) -> LLM:
    """The LLM `settings.llm` describes: a LiteLLM Router, or NoLLM when `llm.models` is empty."""
    if not settings.llm.enabled:
        return NoLLM()
    return LiteLLMRouterLLM(settings.llm)
