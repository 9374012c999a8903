"""Embed log templates, never log lines: one vector per template, computed when it first appears."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.logs.miner import MatchResult
from core.ports import Embedder


class TemplateEmbeddings:
    """Collects templates the miner reports as new and embeds them in batches.

    Feed every :class:`~core.logs.miner.MatchResult` to :meth:`observe`; call :meth:`flush`
    whenever vectors are needed (or every N lines). Each flush makes at most one ``embed`` call,
    with only the templates not embedded yet, so ``calls <= texts_embedded <= new templates``.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.vectors: dict[int, npt.NDArray[np.float32]] = {}
        self._pending: dict[int, str] = {}
        self.calls = 0
        self.texts_embedded = 0

    def observe(self, result: MatchResult) -> None:
        """Queue the template of ``result`` when the miner just created it."""
        if result.is_new and result.template_id not in self.vectors:
            self._pending[result.template_id] = result.template

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> dict[int, npt.NDArray[np.float32]]:
        """Embed the queued templates (one call) and return their vectors by template id."""
        if not self._pending:
            return {}
        ids = list(self._pending)
        vectors = self.embedder.embed([self._pending[i] for i in ids])
        self.calls += 1
        self.texts_embedded += len(ids)
        self._pending.clear()
        out = {tid: vectors[row] for row, tid in enumerate(ids)}
        self.vectors.update(out)
        return out
