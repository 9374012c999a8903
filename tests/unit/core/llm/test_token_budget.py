"""Prompt token budgets, message checks, settings checks and NoLLM (no server involved)."""

from __future__ import annotations

import pytest

from core.errors import ConfigError, InputError, LLMError, LLMUnavailable
from core.llm import LiteLLMRouterLLM, NoLLM, TokenBudgetExceeded, build_llm, trim_to_budget
from core.llm.budget import check_messages, enforce_budget, estimate_tokens, litellm_counter
from core.llm.router import fallback_chain
from core.ports import LLM
from core.settings import LLMModel, LLMSettings, Settings
from tests.fixtures.net import free_port

WORDS = "the checkout service returned errors after the deploy of version two "


def _settings(**kw) -> LLMSettings:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    models = kw.pop("models", [LLMModel(name="main", model="openai/tiny", api_base=dead)])
    return LLMSettings(models=models, **kw)


def test_litellm_counter_counts_real_tokens_offline():
    count = litellm_counter("openai/tiny")
    short = count([{"role": "user", "content": "hello"}])
    long = count([{"role": "user", "content": WORDS * 50}])
    assert 0 < short < 20
    # about one token per word for plain English in any BPE vocabulary
    assert 450 <= long - short <= 800
    assert estimate_tokens([{"role": "user", "content": WORDS * 50}]) > long / 3


def test_enforce_budget_returns_count_or_refuses():
    count = litellm_counter("openai/tiny")
    msgs = [{"role": "user", "content": WORDS}]
    assert enforce_budget(msgs, 1000, count) == count(msgs)
    with pytest.raises(TokenBudgetExceeded) as info:
        enforce_budget([{"role": "user", "content": WORDS * 100}], 200, count)
    assert info.value.budget == 200 and info.value.tokens > 200
    assert "over the budget of 200" in str(info.value) and "token_budget" in str(info.value)
    assert isinstance(info.value, LLMError)


def test_router_refuses_over_budget_prompt_before_sending_anything():
    # the only model is a dead port: reaching it would be LLMUnavailable, so the budget error
    # proves nothing was sent
    llm = LiteLLMRouterLLM(_settings(token_budget=100))
    with pytest.raises(TokenBudgetExceeded, match="over the budget of 100"):
        llm.complete([{"role": "system", "content": "be brief"}, {"role": "user", "content": WORDS * 40}])
    assert llm.count_tokens([{"role": "user", "content": WORDS * 40}]) > 100


def test_trim_drops_oldest_turns_keeps_system_and_question():
    count = litellm_counter("openai/tiny")
    msgs = [
        {"role": "system", "content": "You are Sherlog."},
        {"role": "user", "content": "old question " + WORDS * 10},
        {"role": "assistant", "content": "old answer " + WORDS * 10},
        {"role": "user", "content": "newer question " + WORDS * 2},
        {"role": "assistant", "content": "newer answer"},
        {"role": "user", "content": "why is checkout failing?"},
    ]
    budget = count([msgs[0], *msgs[3:]]) + 5
    kept, dropped = trim_to_budget(msgs, budget, count)
    assert dropped == 2
    assert kept == [msgs[0], *msgs[3:]]
    assert count(kept) <= budget
    unchanged, none_dropped = trim_to_budget(msgs, 10_000, count)
    assert unchanged == msgs and none_dropped == 0


def test_trim_refuses_when_system_and_question_alone_are_over():
    count = litellm_counter("openai/tiny")
    msgs = [{"role": "system", "content": WORDS * 30}, {"role": "user", "content": "why?"}]
    with pytest.raises(TokenBudgetExceeded, match="over the budget of 20") as info:
        trim_to_budget(msgs, 20, count)
    assert "system prompt" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "empty"),
        ("just a string", "list"),
        ([{"role": "robot", "content": "x"}], r"messages\[0\]\.role is 'robot'"),
        ([{"role": "user", "content": "ok"}, {"role": "user", "content": 5}], r"messages\[1\]\.content is int"),
        ([("user", "x")], r"messages\[0\] is tuple"),
    ],
)
def test_malformed_messages_are_refused(messages, message):
    with pytest.raises(InputError, match=message):
        check_messages(messages)
    with pytest.raises(InputError, match=message):
        LiteLLMRouterLLM(_settings()).complete(messages)


def test_bad_call_arguments_are_refused():
    llm = LiteLLMRouterLLM(_settings())
    with pytest.raises(InputError, match="max_tokens"):
        llm.complete([{"role": "user", "content": "x"}], max_tokens=0)
    with pytest.raises(InputError, match="timeout_s"):
        llm.complete([{"role": "user", "content": "x"}], timeout_s=-1)


def test_settings_are_checked():
    a = LLMModel(name="a", model="openai/a", api_base="http://127.0.0.1:1/v1")
    b = LLMModel(name="b", model="openai/b", api_base="http://127.0.0.1:2/v1")
    with pytest.raises(ConfigError, match="'c', which is not a model"):
        LiteLLMRouterLLM(LLMSettings(models=[a, b], fallbacks={"a": ["c"]}))
    with pytest.raises(ConfigError, match="falls back to itself"):
        LiteLLMRouterLLM(LLMSettings(models=[a, b], fallbacks={"a": ["a"]}))
    with pytest.raises(ConfigError, match="token_budget"):
        LiteLLMRouterLLM(LLMSettings(models=[a], token_budget=0))
    with pytest.raises(ConfigError, match=r"llm\.models is empty"):
        LiteLLMRouterLLM(LLMSettings())


def test_fallbacks_default_to_the_other_models_in_order():
    a, b, c = (LLMModel(name=n, model=f"ollama/{n}") for n in "abc")
    assert fallback_chain(LLMSettings(models=[a, b, c])) == {"a": ["b", "c"]}
    assert fallback_chain(LLMSettings(models=[a])) == {}
    assert fallback_chain(LLMSettings(models=[a, b, c], fallbacks={"a": ["c"]})) == {"a": ["c"]}


def test_model_list_carries_timeouts_keys_and_ids():
    secret = LLMModel(name="remote", model="openai/x", api_base="http://127.0.0.1:9/v1", api_key="s3cret")
    keyless = LLMModel(name="local", model="openai/y", api_base="http://127.0.0.1:8/v1")
    ollama = LLMModel(name="ollama", model="ollama/llama3.1")
    llm = LiteLLMRouterLLM(LLMSettings(models=[secret, keyless, ollama], timeout_s=7))
    deployments = llm.model_list()
    assert [d["model_name"] for d in deployments] == ["remote", "local", "ollama"]
    assert all(d["litellm_params"]["timeout"] == 7 for d in deployments)
    assert deployments[0]["litellm_params"]["api_key"] == "s3cret"
    assert deployments[1]["litellm_params"]["api_key"]  # a placeholder: OpenAI clients insist on one
    assert "api_key" not in deployments[2]["litellm_params"]
    assert len({d["model_info"]["id"] for d in deployments}) == 3


def test_no_llm_is_unavailable_with_a_hint():
    llm = NoLLM()
    assert isinstance(llm, LLM)
    assert llm.available is False
    with pytest.raises(LLMUnavailable, match="no LLM is configured") as info:
        llm.complete([{"role": "user", "content": "why?"}])
    assert "llm.models" in (info.value.hint or "")


def test_build_llm_follows_settings():
    assert isinstance(build_llm(Settings()), NoLLM)
    llm = build_llm(Settings(llm=_settings()))
    assert isinstance(llm, LiteLLMRouterLLM) and isinstance(llm, LLM)
    assert llm.available is True
