"""Embeddings from a model served elsewhere (Ollama, vLLM, llama.cpp, ...) through LiteLLM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from core.embed.vectors import check_texts, l2_normalize
from core.errors import BackendUnavailable, ConfigError, LLMUnavailable
from core.llm.litellm_loader import api_key_for, load_litellm


class LiteLLMEmbedder:
    """Calls `litellm.embedding` in batches and returns unit-length float32 rows.

    `model` is a LiteLLM model string (e.g. `ollama/nomic-embed-text`, or
    `openai/<name>` with `api_base` for an OpenAI-compatible server). Every vendor
    failure, including a vector of the wrong width, surfaces as BackendUnavailable.
    """

    def __init__(
        self,
        model: str,
        *,
        dim: int,
        api_base: str | None = None,
        api_key: str | None = None,
        batch_size: int = 32,
        timeout_s: float = 60.0,
    ) -> None:
        if not model:
            raise ConfigError("embedder.model is empty", hint="set embedder.model, e.g. ollama/nomic-embed-text")
        if dim < 1 or batch_size < 1:
            raise ConfigError(f"embedder dim ({dim}) and batch_size ({batch_size}) must be >= 1")
        self.name = model
        self.dim = dim
        self.api_base = api_base
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self._api_key = api_key_for(api_base, api_key)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Shape (len(texts), dim), rows L2-normalised, in input order."""
        items = check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            out[start : start + len(batch)] = self._embed_batch(batch)
        return l2_normalize(out) if len(items) else out

    def _embed_batch(self, batch: list[str]) -> npt.NDArray[np.float32]:
        try:
            litellm = load_litellm()
        except LLMUnavailable as e:
            raise BackendUnavailable(str(e.message), backend="litellm", hint=e.hint) from e
        where = f" at {self.api_base}" if self.api_base else ""
        try:
            resp = litellm.embedding(
                model=self.name, input=batch, api_base=self.api_base, api_key=self._api_key, timeout=self.timeout_s
            )
        except Exception as e:  # litellm raises many vendor types; callers only see ours
            raise BackendUnavailable(
                f"embedding model {self.name}{where} failed: {type(e).__name__}: {_first_line(e)}",
                backend="litellm",
                hint="check that the embedding server is running and embedder.model / embedder.api_base are right",
            ) from e
        return self._to_matrix(resp, len(batch))

    def _to_matrix(self, resp: Any, n: int) -> npt.NDArray[np.float32]:
        data = resp["data"] if isinstance(resp, dict) else getattr(resp, "data", None)
        if not isinstance(data, list) or len(data) != n:
            got = len(data) if isinstance(data, list) else type(data).__name__
            raise BackendUnavailable(
                f"embedding model {self.name} returned {got} vectors for {n} texts", backend="litellm"
            )
        rows: list[Any] = [None] * n
        for pos, item in enumerate(data):
            # servers may answer out of order; `index` says which input each vector belongs to
            idx = _field(item, "index")
            rows[idx if isinstance(idx, int) and 0 <= idx < n else pos] = _field(item, "embedding")
        try:
            mat = np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise BackendUnavailable(
                f"embedding model {self.name} returned vectors that are not flat numbers of one width",
                backend="litellm",
            ) from e
        if mat.shape != (n, self.dim):
            raise BackendUnavailable(
                f"embedding model {self.name} returned shape {mat.shape}, expected ({n}, {self.dim})",
                backend="litellm",
                hint="set embedder.dim to the model's width (changing it means re-indexing)",
            )
        if not np.isfinite(mat).all():
            raise BackendUnavailable(f"embedding model {self.name} returned NaN or infinite values", backend="litellm")
        zero = np.flatnonzero(~mat.any(axis=1))
        if zero.size:
            # a zero vector cannot be made unit length and would match nothing; say so instead
            raise BackendUnavailable(
                f"embedding model {self.name} returned an all-zero vector for batch item {int(zero[0])}",
                backend="litellm",
            )
        return mat


def _field(item: Any, key: str) -> Any:
    """A field of a response item, whether litellm gave a dict or an object."""
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _first_line(e: Exception) -> str:
    """Vendor messages run to many lines; the first says what happened."""
    return (str(e).strip().splitlines() or [""])[0][:300]
