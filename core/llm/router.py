"""The LLM port over a LiteLLM Router: local models with fallbacks, timeouts, retries and a prompt budget."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import ConfigError, InputError, LLMUnavailable
from core.llm.budget import TokenCounter, check_messages, enforce_budget, litellm_counter
from core.llm.litellm_loader import api_key_for, load_litellm
from core.ports import LLMResult
from core.settings import LLMModel, LLMSettings

_CONFIGURE_HINT = "check that the servers in llm.models are running and reachable, or remove llm.models to go without"


def _check_settings(cfg: LLMSettings) -> None:
    if not cfg.models:
        raise ConfigError("llm.models is empty", hint="use NoLLM (build_llm does) when no model is configured")
    names = {m.name for m in cfg.models}
    for alias, targets in cfg.fallbacks.items():
        for name in (alias, *targets):
            if name not in names:
                raise ConfigError(
                    f"llm.fallbacks names {name!r}, which is not a model in llm.models", hint=f"known: {sorted(names)}"
                )
        if alias in targets:
            raise ConfigError(f"llm.fallbacks: {alias!r} falls back to itself")
    for field, value in (
        ("timeout_s", cfg.timeout_s),
        ("max_tokens", cfg.max_tokens),
        ("token_budget", cfg.token_budget),
    ):
        if value <= 0:
            raise ConfigError(f"llm.{field} must be > 0, got {value}")
    if cfg.retries < 0:
        raise ConfigError(f"llm.retries must be >= 0, got {cfg.retries}")


def fallback_chain(cfg: LLMSettings) -> dict[str, list[str]]:
    """The fallbacks in force: `llm.fallbacks` when given, else the first model falls back
    to each other configured model in order (listing a second model means "use it when the first fails")."""
    if cfg.fallbacks:
        return {k: list(v) for k, v in cfg.fallbacks.items()}
    primary = cfg.models[0].name
    rest = list(dict.fromkeys(m.name for m in cfg.models[1:] if m.name != primary))
    return {primary: rest} if rest else {}


class LiteLLMRouterLLM:
    """Chat completions through `litellm.Router`, built from `LLMSettings`.

    Requests go to the first model's alias; on an error or timeout the Router
    retries it `retries` times and then tries the fallbacks. Prompts over
    `token_budget` are refused before anything is sent. Each attempt may take up
    to `timeout_s`, so a call is bounded by about
    (1 + retries) × (1 + fallbacks) × timeout_s plus the Router's short retry waits.
    Any failure surfaces as LLMUnavailable (TokenBudgetExceeded for the budget).
    litellm is imported on first use, so building this object is cheap.
    """

    available: bool = True

    def __init__(self, cfg: LLMSettings, *, token_counter: TokenCounter | None = None) -> None:
        _check_settings(cfg)
        self.cfg = cfg
        self.primary = cfg.models[0].name
        self.fallbacks = fallback_chain(cfg)
        # count with the primary's tokenizer choice; fallbacks are local models of similar vocabularies
        self._count = token_counter or litellm_counter(cfg.models[0].model)
        self._router: Any = None
        self._lock = threading.Lock()

    def model_list(self) -> list[dict[str, Any]]:
        """The Router's deployments; `model_info.id` names the deployment so answers can be attributed."""
        deployments = []
        for i, m in enumerate(self.cfg.models):
            params: dict[str, Any] = {"model": m.model, "timeout": self.cfg.timeout_s}
            if m.api_base:
                params["api_base"] = m.api_base
            key = api_key_for(m.api_base, m.api_key.get_secret_value() if m.api_key else None)
            if key:
                params["api_key"] = key
            deployments.append({"model_name": m.name, "litellm_params": params, "model_info": {"id": f"{i}:{m.name}"}})
        return deployments

    def _get_router(self) -> Any:
        if self._router is None:
            with self._lock:
                if self._router is None:
                    litellm = load_litellm()
                    try:
                        self._router = litellm.Router(
                            model_list=self.model_list(),
                            fallbacks=[{k: v} for k, v in self.fallbacks.items()],
                            num_retries=self.cfg.retries,
                            timeout=self.cfg.timeout_s,
                            # cooldowns would bench a model for every later question after one slow answer;
                            # with a handful of local models, each question should try the primary first
                            disable_cooldowns=True,
                            set_verbose=False,
                        )
                    except Exception as e:  # litellm validates deployments with its own error types
                        raise ConfigError(
                            f"litellm rejected llm.models: {type(e).__name__}: {e}",
                            hint="each model needs a LiteLLM model string such as ollama/llama3.1:8b",
                        ) from e
        return self._router

    def count_tokens(self, messages: Sequence[Mapping[str, str]]) -> int:
        """The prompt's token count as the budget sees it."""
        return self._count(check_messages(messages))

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
    ) -> LLMResult:
        """Send `messages` to the primary model (then fallbacks); raise LLMUnavailable if none answers."""
        msgs = check_messages(messages)
        if max_tokens is not None and max_tokens < 1:
            raise InputError(f"max_tokens must be >= 1, got {max_tokens}")
        if timeout_s is not None and timeout_s <= 0:
            raise InputError(f"timeout_s must be > 0, got {timeout_s}")
        prompt_tokens = enforce_budget(msgs, self.cfg.token_budget, self._count)
        timeout = timeout_s if timeout_s is not None else self.cfg.timeout_s
        router = self._get_router()
        started = time.perf_counter()
        try:
            resp = router.completion(
                model=self.primary,
                messages=msgs,
                max_tokens=max_tokens or self.cfg.max_tokens,
                temperature=self.cfg.temperature,
                timeout=timeout,
            )
        except Exception as e:  # litellm/openai/httpx raise many types; callers only see ours
            raise LLMUnavailable(self._failure_message(e, timeout), hint=_CONFIGURE_HINT) from e
        latency_ms = (time.perf_counter() - started) * 1000.0
        return self._to_result(resp, prompt_tokens, latency_ms)

    def _tried(self) -> str:
        chain = [self.primary, *self.fallbacks.get(self.primary, [])]
        return " → ".join(chain)

    def _failure_message(self, e: Exception, timeout: float) -> str:
        kind = type(e).__name__
        first_line = (str(e).strip().splitlines() or [""])[0][:300]
        what = f"timed out after {timeout:g}s per attempt" if "Timeout" in kind else f"{kind}: {first_line}"
        return f"no LLM answered (tried {self._tried()}, {self.cfg.retries} retries each): {what}"

    def _to_result(self, resp: Any, prompt_tokens: int, latency_ms: float) -> LLMResult:
        choices = getattr(resp, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        text = getattr(message, "content", None) if message is not None else None
        answered_by = self._deployment_name(resp)
        if not isinstance(text, str) or not text.strip():
            finish = getattr(choices[0], "finish_reason", None) if choices else None
            raise LLMUnavailable(
                f"LLM {answered_by} returned no text (finish_reason={finish!r})",
                hint="the model may need a larger max_tokens or a different chat template",
            )
        usage = getattr(resp, "usage", None)
        p_tok = getattr(usage, "prompt_tokens", None) if usage is not None else None
        c_tok = getattr(usage, "completion_tokens", None) if usage is not None else None
        if not isinstance(c_tok, int):
            # a server that reports no usage still spent tokens: estimate them rather than report 0
            c_tok = math.ceil(len(text) / 4)
        return LLMResult(
            text=text,
            model=answered_by,
            prompt_tokens=p_tok if isinstance(p_tok, int) else prompt_tokens,
            completion_tokens=c_tok,
            latency_ms=latency_ms,
        )

    def _deployment_name(self, resp: Any) -> str:
        """The alias (LLMModel.name) of the deployment that produced `resp`."""
        hidden = getattr(resp, "_hidden_params", None) or {}
        model_id = hidden.get("model_id") if isinstance(hidden, dict) else None
        if isinstance(model_id, str) and ":" in model_id:
            index, _, name = model_id.partition(":")
            if index.isdigit() and int(index) < len(self.cfg.models):
                return name
        # not one of ours (an older litellm without model_id): the provider's own model name is the best clue
        return str(getattr(resp, "model", None) or self.primary)

    @property
    def models(self) -> list[LLMModel]:
        """The configured deployments, primary first."""
        return list(self.cfg.models)
