"""LiteLLMEmbedder against a real OpenAI-compatible embeddings endpoint (llama.cpp server, tiny model)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.embed import LiteLLMEmbedder
from core.errors import BackendUnavailable, InputError
from core.ports import Embedder
from tests.fixtures.llama_server import N_EMBD, LlamaServer
from tests.fixtures.net import free_port


def _embedder(server: LlamaServer, **kw) -> LiteLLMEmbedder:
    return LiteLLMEmbedder(f"openai/{server.alias}", dim=kw.pop("dim", N_EMBD), api_base=server.base_url, **kw)


def test_embeds_in_batches_with_unit_rows_in_input_order(llama_embedding_server: LlamaServer):
    texts = ["the database is down", "disk full", "rollback after deploy", "", "cache spike"]
    emb = _embedder(llama_embedding_server, batch_size=2)
    assert isinstance(emb, Embedder)
    vecs = emb.embed(texts)
    assert vecs.shape == (5, N_EMBD) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # each row belongs to its own text: embedding one alone gives the same row
    for i in (0, 3, 4):
        np.testing.assert_allclose(emb.embed([texts[i]])[0], vecs[i], atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1])
    assert emb.embed([]).shape == (0, N_EMBD)


def test_wrong_dimension_is_reported(llama_embedding_server: LlamaServer):
    with pytest.raises(BackendUnavailable, match=r"shape \(1, 32\), expected \(1, 384\)"):
        _embedder(llama_embedding_server, dim=384).embed(["x"])


def test_unreachable_server_is_backend_unavailable():
    emb = LiteLLMEmbedder("openai/tiny", dim=32, api_base=f"http://127.0.0.1:{free_port()}/v1", timeout_s=5)
    with pytest.raises(BackendUnavailable, match=re.escape("openai/tiny at http://127.0.0.1")) as info:
        emb.embed(["x"])
    assert info.value.__cause__ is not None


def test_bad_input_is_refused_before_any_call():
    emb = LiteLLMEmbedder("openai/tiny", dim=32, api_base=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(InputError, match=r"texts\[0\]"):
        emb.embed([None])  # type: ignore[list-item]
