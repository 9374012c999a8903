"""The LLM port when no model is configured: Sherlog narrates from templates instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.errors import LLMUnavailable
from core.ports import LLMResult

CONFIGURE_HINT = (
    "Sherlog works without an LLM (template narration). To add one, list it in sherlog.toml: "
    "[[llm.models]] name = 'local', model = 'ollama/llama3.1:8b', api_base = 'http://127.0.0.1:11434' "
    "(or an OpenAI-compatible server: model = 'openai/<name>', api_base = 'http://127.0.0.1:8080/v1'), "
    "or set SHERLOG_LLM__MODELS to the same list as JSON"
)


class NoLLM:
    """No model configured: `available` is False and `complete` says how to configure one."""

    available: bool = False

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
    ) -> LLMResult:
        """Always raises LLMUnavailable: there is no model to ask."""
        raise LLMUnavailable("no LLM is configured (llm.models is empty)", hint=CONFIGURE_HINT)
