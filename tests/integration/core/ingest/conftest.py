"""Fixtures for the ingestion suite: a real embedded stack per test (session FalkorDB, unique
graph, tmp SQLite) sharing one real MiniLM embedder, wrapped to count what it embeds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from core.embed.minilm import MiniLMEmbedder
from core.ingest import Ingestor
from core.ports import Embedder
from core.settings import Settings
from core.wiring import Stack, open_stack


class CountingEmbedder:
    """The real embedder, plus a count of calls and texts (it still embeds for real)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """One loaded model for the whole session (loading costs about a second)."""
    return MiniLMEmbedder()


@pytest.fixture
def embedder(minilm: MiniLMEmbedder) -> CountingEmbedder:
    return CountingEmbedder(minilm)


def build_stack(settings: Settings, embedder: Embedder) -> Stack:
    stack = open_stack(settings)
    stack.__dict__["embedder"] = embedder  # the cached_property slot: share the loaded model
    return stack


@pytest.fixture
def stack(settings: Settings, embedder: CountingEmbedder) -> Iterator[Stack]:
    s = build_stack(settings, embedder)
    yield s
    s.close()


@pytest.fixture
def ingestor(stack: Stack) -> Ingestor:
    return Ingestor(stack)
