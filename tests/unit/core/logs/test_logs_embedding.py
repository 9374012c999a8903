"""Templates are embedded once each, never per line."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.logs.embedding import TemplateEmbeddings
from core.logs.miner import TemplateMiner
from core.ports import Embedder


class CountingEmbedder:
    """A deterministic hashing embedder (implements the Embedder port) that counts its calls."""

    name = "hashing-test"
    dim = 16

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            digest = hashlib.sha256(text.encode()).digest()[: self.dim]
            v = np.frombuffer(digest, dtype=np.uint8).astype(np.float32) - 127.5
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)


def test_embedding_calls_never_exceed_new_templates() -> None:
    embedder = CountingEmbedder()
    assert isinstance(embedder, Embedder)
    vectors = TemplateEmbeddings(embedder)
    miner = TemplateMiner()
    new = 0
    lines = [f"request {i} served in {i % 13} ms" for i in range(500)]
    lines += [f"cache miss for key user:{i}" for i in range(300)]
    lines += ["shutting down"] * 50
    for i, line in enumerate(lines, start=1):
        result = miner.add(line)
        new += result.is_new
        vectors.observe(result)
        if i % 100 == 0:
            vectors.flush()
    vectors.flush()
    texts = [t for call in embedder.calls for t in call]
    assert new == 3
    assert len(texts) == new  # each new template embedded exactly once
    assert len(embedder.calls) <= new
    assert vectors.calls == len(embedder.calls) and vectors.texts_embedded == new
    assert set(texts) == {"request <*> served in <*> ms", "cache miss for key user:<*>", "shutting down"}
    assert set(vectors.vectors) == {t.id for t in miner.templates}
    assert vectors.flush() == {} and vectors.pending == 0  # nothing new, no call
    assert len(embedder.calls) <= new
