"""Embedders: text → unit-length float32 vectors (the core.ports.Embedder port).

`local` (default): all-MiniLM-L6-v2 run offline with numpy (core/embed/minilm.py).
`litellm`: any embedding model LiteLLM reaches (core/embed/litellm_embedder.py).
"""

from __future__ import annotations

from core.embed.litellm_embedder import LiteLLMEmbedder
from core.embed.minilm import MODEL_DIM, MiniLMEmbedder
from core.errors import ConfigError
from core.ports import Embedder
from core.settings import Settings

__all__ = ["LiteLLMEmbedder", "MiniLMEmbedder", "build_embedder"]


def build_embedder(settings: Settings) -> Embedder:
    """The embedder `settings.embedder` describes (no model is loaded until the first embed)."""
    cfg = settings.embedder
    if cfg.backend == "local":
        if cfg.dim != MODEL_DIM:
            raise ConfigError(
                f"embedder.dim is {cfg.dim} but the local all-MiniLM-L6-v2 model makes {MODEL_DIM}-d vectors",
                hint=f"remove embedder.dim or set it to {MODEL_DIM}",
            )
        return MiniLMEmbedder(batch_size=cfg.batch_size)
    if cfg.backend == "litellm":
        return LiteLLMEmbedder(cfg.model, dim=cfg.dim, api_base=cfg.api_base, batch_size=cfg.batch_size)
    raise ConfigError(f"unknown embedder.backend {cfg.backend!r}", hint="use 'local' or 'litellm'")
