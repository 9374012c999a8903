"""One Ingestor shared by every intake request, used by one thread at a time.

Ingestion is synchronous and CPU-bound (template mining, store writes); the
HTTP handlers run it in the threadpool and this gate serialises the calls so
the Ingestor's miner state and store sessions are never used concurrently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from core.model import Event
from core.sources.common import ItemError, Topology


class IngestReportLike(Protocol):
    """The parts of `core.ingest.pipeline.IngestReport` the intake reads."""

    accepted: int
    duplicates: int
    rejected: list[ItemError]
    warnings: list[ItemError]
    by_kind: Mapping[str, int]


class IngestorLike(Protocol):
    """The parts of `core.ingest.pipeline.Ingestor` the intake calls."""

    def ingest_events(self, items: Iterable[Event | Mapping[str, Any]]) -> Any: ...

    def ingest_topology(self, topo: Topology) -> Any: ...

    def flush(self) -> Any: ...


IngestorProvider = Callable[[], IngestorLike]


class IngestGate:
    """Serialises use of the Ingestor a provider hands out (built on first use).

    Stored rows are committed inside `ingest_events`, so a 2xx already means stored; `flush()`
    only persists the template miner's running counts, which is a whole-file write, so it runs
    at most every `flush_interval_s` (and at shutdown), not once per request.
    """

    def __init__(self, provider: IngestorProvider, *, flush_interval_s: float = 30.0) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._flush_interval = flush_interval_s
        self._last_flush = time.monotonic()

    def _maybe_flush(self, ingestor: IngestorLike) -> None:
        now = time.monotonic()
        if now - self._last_flush >= self._flush_interval:
            ingestor.flush()
            self._last_flush = now

    def events(self, events: Sequence[Event]) -> IngestReportLike:
        """Ingest events (committed when this returns)."""
        with self._lock:
            ingestor = self._provider()
            report: IngestReportLike = ingestor.ingest_events(events)
            self._maybe_flush(ingestor)
            return report

    def topology(self, topo: Topology) -> IngestReportLike:
        """Ingest a topology (nodes, edges and the events it carried)."""
        with self._lock:
            ingestor = self._provider()
            report: IngestReportLike = ingestor.ingest_topology(topo)
            self._maybe_flush(ingestor)
            return report
