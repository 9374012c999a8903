"""Narration against a real OpenAI-compatible server (llama.cpp with a tiny random model): the protocol
round trip, the citation check rejecting its gibberish, a hung server timing out, and the fallback to
template narration with a caveat each time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from core.engine import Engine
from core.engine.narrate import narrate
from core.llm import build_llm
from core.model import Answer, Evidence, EvidenceKind, Question, RootCause
from core.ports import LLMResult
from core.settings import LLMModel, LLMSettings, Settings
from tests.fixtures.llama_server import LlamaServer
from tests.integration.core.engine.conftest import Scenario


class BlackHole:
    """A loopback TCP server that accepts connections and never answers: a hung model server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    bh = BlackHole()
    yield bh
    bh.close()


def _llm_settings(base: Settings, api_base: str, *, timeout_s: float, budget: int = 110) -> Settings:
    llm = LLMSettings(
        models=[LLMModel(name="tiny", model="openai/tiny", api_base=api_base)],
        timeout_s=timeout_s,
        max_tokens=48,
        token_budget=budget,  # the tiny model has a 512-token context: the compact prompt must be used
        retries=0,
    )
    return base.model_copy(update={"llm": llm})


def _small_answer() -> Answer:
    ev = Evidence(
        id="ev-metric-0123abcd", kind=EvidenceKind.METRIC, entity="service:x/y/db", text="db connections at 100"
    )
    return Answer(
        question="why?",
        summary="db is the most likely cause [ev-metric-0123abcd].",
        root_causes=[
            RootCause(
                entity="service:x/y/db", confidence=0.9, why="db is full [ev-metric-0123abcd].", evidence_ids=[ev.id]
            )
        ],
        evidence=[ev],
    )


def test_gibberish_from_a_real_server_is_rejected_and_templates_stand(llama_server: LlamaServer, tmp_path) -> None:
    settings = _llm_settings(Settings(data_dir=tmp_path), llama_server.base_url, timeout_s=60)
    llm = build_llm(settings)
    answer = _small_answer()
    n = narrate(answer, llm, budget_tokens=110, max_tokens=48, timeout_s=60)
    assert n.by == "template" and n.summary == answer.summary
    assert n.caveat is not None and "rejected" in n.caveat
    # the model did answer: what it cost is reported even though its text was thrown away
    assert n.cost.completion_tokens > 0 and n.cost.prompt_tokens > 0 and n.cost.llm_model == "tiny"


def test_narration_that_passes_the_check_is_used(tmp_path) -> None:
    class Scripted:
        """A stand-in model that returns a fixed, well-cited reply (the real server cannot be scripted)."""

        available = True

        def complete(self, messages, *, max_tokens=None, timeout_s=None) -> LLMResult:  # type: ignore[no-untyped-def]
            text = (
                '{"summary": "The database is saturated [ev-metric-0123abcd].", '
                '"why": ["Connections hit 100 [ev-metric-0123abcd]."]}'
            )
            return LLMResult(text=text, model="scripted", prompt_tokens=100, completion_tokens=20, latency_ms=5.0)

    n = narrate(_small_answer(), Scripted(), budget_tokens=2000, max_tokens=100, timeout_s=5)
    assert n.by == "llm:scripted" and n.caveat is None
    assert (
        n.summary == "The database is saturated [ev-metric-0123abcd]."
        and n.why == "Connections hit 100 [ev-metric-0123abcd]."
    )
    assert (n.cost.prompt_tokens, n.cost.completion_tokens) == (100, 20)


def test_hung_server_times_out_and_falls_back(black_hole: BlackHole, tmp_path) -> None:
    settings = _llm_settings(Settings(data_dir=tmp_path), f"http://127.0.0.1:{black_hole.port}/v1", timeout_s=1.0)
    n = narrate(_small_answer(), build_llm(settings), budget_tokens=110, max_tokens=48, timeout_s=1.0)
    assert n.by == "template"
    assert n.caveat is not None and ("did not answer in time" in n.caveat or "timed out" in n.caveat)


def test_engine_with_a_real_model_still_answers_from_evidence(
    checkout_db_pool: Scenario, llama_server: LlamaServer
) -> None:
    sc = checkout_db_pool
    settings = _llm_settings(sc.settings, llama_server.base_url, timeout_s=60, budget=125)
    sc.stack.settings = settings
    try:
        sc.stack.__dict__.pop("llm", None)
        engine = Engine(sc.stack, settings)
        answer = engine.ask(Question(text="why is checkout failing?"), now=sc.result.end)
        unsure = engine.ask(Question(text="tell me about checkout"), now=sc.result.end)  # rules unsure: planner asked
    finally:
        sc.stack.settings = sc.settings
        sc.stack.__dict__.pop("llm", None)
    assert answer.narrated_by == "template"
    assert any("narration was rejected" in c for c in answer.caveats), answer.caveats
    assert answer.root_causes[0].entity.endswith("/orders-db")
    assert answer.cost.completion_tokens > 0 and answer.cost.llm_model == "tiny"
    assert unsure.intent == "why" and unsure.summary  # the planner's gibberish was dropped, the rules stand
