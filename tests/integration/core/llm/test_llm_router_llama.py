"""LiteLLMRouterLLM against a real llama.cpp OpenAI-compatible server (tiny random model):
completion, timeouts, fallbacks, and no traffic beyond loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import LLMUnavailable
from core.llm import LiteLLMRouterLLM, NoLLM, build_llm
from core.ports import LLM
from core.settings import LLMModel, LLMSettings, Settings
from tests.fixtures.llama_server import LlamaServer
from tests.fixtures.net import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[4]
QUESTION = [
    {"role": "system", "content": "You are Sherlog. Answer in one sentence."},
    {"role": "user", "content": "Why is the checkout service failing?"},
]


def _model(name: str, base_url: str, alias: str = "tiny") -> LLMModel:
    return LLMModel(name=name, model=f"openai/{alias}", api_base=base_url)


class BlackHole:
    """A loopback TCP server that accepts connections and never answers (a hung LLM server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.sock.close()
        for c in self.accepted:
            c.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def test_completion_returns_text_and_token_usage(llama_server: LlamaServer):
    llm = LiteLLMRouterLLM(LLMSettings(models=[_model("local", llama_server.base_url)], max_tokens=12))
    assert isinstance(llm, LLM) and llm.available
    result = llm.complete(QUESTION)
    assert result.text.strip()
    assert result.model == "local"
    # the server's own counts: its chat template adds tokens around ours
    assert result.prompt_tokens > 0
    assert 0 < result.completion_tokens <= 12
    assert result.latency_ms > 0
    # temperature 0 (the default) is greedy decoding: the same question gets the same answer
    assert llm.complete(QUESTION).text == result.text


def test_max_tokens_per_call_caps_the_answer(llama_server: LlamaServer):
    llm = LiteLLMRouterLLM(LLMSettings(models=[_model("local", llama_server.base_url)], max_tokens=64))
    result = llm.complete(QUESTION, max_tokens=2)
    assert 0 < result.completion_tokens <= 2


def test_hung_server_times_out_as_llm_unavailable(black_hole: BlackHole):
    # the configured timeout is long; the per-call timeout must win
    llm = LiteLLMRouterLLM(LLMSettings(models=[_model("hung", black_hole.base_url)], timeout_s=600, retries=0))
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match=r"timed out after 0\.5s") as info:
        llm.complete(QUESTION, timeout_s=0.5)
    elapsed = time.monotonic() - started
    assert black_hole.accepted, "the request never reached the hung server"
    assert "hung" in str(info.value)
    # bounded: nowhere near the 600 s configured (the hung server would hold the call forever)
    assert elapsed < 60, f"took {elapsed:.1f}s"


def test_fallback_answers_when_primary_is_down(llama_server: LlamaServer):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    cfg = LLMSettings(
        models=[_model("primary", dead), _model("backup", llama_server.base_url)],
        fallbacks={"primary": ["backup"]},
        retries=0,
    )
    result = LiteLLMRouterLLM(cfg).complete(QUESTION, max_tokens=8)
    assert result.model == "backup"
    assert result.text.strip() and result.completion_tokens > 0


def test_fallback_answers_when_primary_hangs(llama_server: LlamaServer, black_hole: BlackHole):
    cfg = LLMSettings(
        models=[_model("primary", black_hole.base_url), _model("backup", llama_server.base_url)],
        timeout_s=1.0,
        retries=0,
    )  # no explicit fallbacks: the second model is the default fallback
    result = LiteLLMRouterLLM(cfg).complete(QUESTION, max_tokens=8)
    assert black_hole.accepted
    assert result.model == "backup" and result.text.strip()


def test_all_models_down_names_them():
    cfg = LLMSettings(
        models=[
            _model("one", f"http://127.0.0.1:{free_port()}/v1"),
            _model("two", f"http://127.0.0.1:{free_port()}/v1"),
        ],
        retries=0,
        timeout_s=5,
    )
    with pytest.raises(LLMUnavailable, match="one → two") as info:
        LiteLLMRouterLLM(cfg).complete(QUESTION)
    assert info.value.__cause__ is not None and info.value.hint


def test_unconfigured_is_no_llm():
    llm = build_llm(Settings(llm=LLMSettings()))
    assert isinstance(llm, NoLLM) and not llm.available
    with pytest.raises(LLMUnavailable):
        llm.complete(QUESTION)


_CHILD = textwrap.dedent(
    """
    import ipaddress, json, socket, sys

    attempts = []
    sys.addaudithook(lambda ev, args: attempts.append(repr(args[1])) if ev == "socket.connect" else None)

    def _loopback(address):
        host = address[0] if isinstance(address, tuple) else address
        try:
            return isinstance(host, str) and (host == "localhost" or ipaddress.ip_address(host).is_loopback)
        except ValueError:
            return False

    _real_connect = socket.socket.connect
    _real_create_connection = socket.create_connection

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise OSError(f"blocked non-loopback connect to {address!r}")
        return _real_connect(self, address)

    def create_connection(address, *args, **kwargs):
        if not _loopback(address):
            raise OSError(f"blocked non-loopback connection to {address!r}")
        return _real_create_connection(address, *args, **kwargs)

    socket.socket.connect = connect
    socket.create_connection = create_connection

    from core.llm import build_llm
    from core.settings import LLMModel, LLMSettings, Settings

    base_url = sys.argv[1]
    llm = build_llm(Settings(llm=LLMSettings(models=[LLMModel(name="local", model="openai/tiny", api_base=base_url)])))
    result = llm.complete([{"role": "user", "content": "why is the disk full?"}], max_tokens=4)
    print(json.dumps({"text": result.text, "model": result.model, "attempts": attempts}))
    """
)


@pytest.mark.slow  # a fresh interpreter pays litellm's import again (~5-15 s)
def test_litellm_makes_no_connection_beyond_loopback(llama_server: LlamaServer, tmp_path: Path):
    # a fresh process, so litellm's import-time behaviour is part of what is checked
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHERLOG_", "LITELLM_"))}
    env.update(SHERLOG_CONFIG=str(tmp_path / "absent.toml"), HOME=str(tmp_path), PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, llama_server.base_url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["text"].strip() and report["model"] == "local"
    port = str(llama_server.port)
    assert report["attempts"], "the completion made no connection at all?"
    assert all("127.0.0.1" in a and port in a for a in report["attempts"]), report["attempts"]
