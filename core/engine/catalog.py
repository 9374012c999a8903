"""Load the entity catalog (names the linker resolves) from the graph, or from telemetry when the
graph store is down.

The graph answer is cached for `ttl_s` per engine: names change rarely and a catalog of
thousands of entities costs a few milliseconds a question otherwise. Without the graph, the
entity ids that have metrics or log counts in the window are the catalog, with their labels
guessed from the id prefix (every workload is then a "Service").
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import sqlalchemy as sa

from core.db.store import RelationalStore
from core.db.tables import LogCount, MetricPoint
from core.engine.linker import CatalogEntry, EntityCatalog
from core.knowledge.schema import INFRA_LABELS, WORKLOAD_LABELS, short_name
from core.ports import GraphStore

LINKABLE = (*WORKLOAD_LABELS, "Node")


def catalog_from_graph(graph: GraphStore) -> EntityCatalog:
    """Every workload and node in the graph, one query per label."""
    parts = [
        f"MATCH (n:`{label}`) RETURN n.id AS id, n.name AS name, '{label}' AS kind, n.placeholder AS placeholder"
        for label in LINKABLE
    ]
    rows = graph.query(" UNION ALL ".join(parts))
    entries = [
        CatalogEntry(
            str(r["id"]), str(r.get("name") or short_name(str(r["id"]))), str(r["kind"]), bool(r.get("placeholder"))
        )
        for r in rows
        if r.get("id")
    ]
    return EntityCatalog(entries, source="graph")


def catalog_from_telemetry(db: RelationalStore, since: datetime, until: datetime) -> EntityCatalog:
    """Entity ids with metrics or log counts in `[since, until)` (time-indexed scans of both tables)."""
    ids: set[str] = set()
    mp, lc = MetricPoint.__table__, LogCount.__table__  # type: ignore[attr-defined]
    with db.session() as s:
        ids.update(
            r[0] for r in s.execute(sa.select(mp.c.entity_id).where(mp.c.ts >= since, mp.c.ts < until).distinct())
        )
        ids.update(
            r[0]
            for r in s.execute(sa.select(lc.c.entity_id).where(lc.c.minute >= since, lc.c.minute < until).distinct())
        )
    entries = []
    for i in sorted(ids):
        prefix = i.split(":", 1)[0]
        if prefix == "service":
            entries.append(CatalogEntry(i, short_name(i), "Service"))
        elif prefix == "node":
            entries.append(CatalogEntry(i, short_name(i), "Node"))
        elif prefix == "host":
            entries.append(CatalogEntry(i, short_name(i), "Host"))
    return EntityCatalog(entries, source="telemetry")


class CatalogCache:
    """The graph catalog, reloaded at most every `ttl_s` seconds (thread-safe)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at = 0.0
        self._value: EntityCatalog | None = None

    def get(self, graph: GraphStore) -> EntityCatalog:
        """The cached catalog, or a fresh one; graph errors propagate (the caller falls back)."""
        with self._lock:
            if self._value is not None and time.monotonic() - self._at < self.ttl_s:
                return self._value
        value = catalog_from_graph(graph)
        with self._lock:
            self._value, self._at = value, time.monotonic()
        return value

    def clear(self) -> None:
        with self._lock:
            self._value = None


__all__ = ["INFRA_LABELS", "CatalogCache", "catalog_from_graph", "catalog_from_telemetry"]
