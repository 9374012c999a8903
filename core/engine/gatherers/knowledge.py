"""Runbooks and past incidents: exact alert-name matches first, then hybrid (vector + keyword) search.

Runbooks: a runbook whose aliases hold the name of a firing alert is the answer's first choice
(an alert's own runbook beats any similarity score), then the `RELATED_RUNBOOK` edges ingestion
drew, then hybrid search over runbook chunks with the incident's signature. Past incidents: the
ones `CAUSED_BY` a candidate (for the historical prior) and the resolved incidents most similar
to the signature (vector search over their stored signatures).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.engine.gatherers.topology import query_by_label
from core.engine.linker import EntityCatalog
from core.knowledge.schema import DocKind
from core.ports import Embedder, GraphStore, VectorStore


@dataclass(frozen=True)
class RunbookHit:
    """A runbook and why it was picked."""

    id: str
    title: str
    url: str | None
    score: float
    reason: str  # "alert:<name>" for exact matches, "search" for hybrid hits
    excerpt: str = ""
    mitigation: tuple[str, ...] = ()


@dataclass(frozen=True)
class PastIncident:
    """A past incident from the graph."""

    id: str
    title: str
    cause: str
    fault_kind: str | None
    resolution: str
    root_cause: str | None
    opened_at: float | None
    score: float = 0.0


@dataclass
class Knowledge:
    runbooks: list[RunbookHit] = field(default_factory=list)
    similar: list[PastIncident] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*\S)\s*$")


def mitigation_steps(text: str, limit: int = 4) -> tuple[str, ...]:
    """The bullet lines of a Mitigation section, continuation lines joined."""
    steps: list[str] = []
    for line in text.splitlines():
        m = _BULLET.match(line)
        if m:
            steps.append(m.group(1))
        elif steps and line.strip() and not line.lstrip().startswith("#"):
            steps[-1] += " " + line.strip()
    return tuple(s.replace("`", "") for s in steps[:limit])


def _runbook_rows(graph: GraphStore, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = graph.query(
        "UNWIND $ids AS id MATCH (r:Runbook {id: id}) "
        "OPTIONAL MATCH (c:RunbookChunk)-[:PART_OF]->(r) "
        "RETURN r.id AS id, r.title AS title, r.url AS url, collect([c.heading, c.text]) AS chunks",
        {"ids": list(ids)},
    )
    return {str(r["id"]): r for r in rows}


def _summarise(rb: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    chunks = sorted(
        ([str(h or ""), str(t or "")] for h, t in rb.get("chunks") or [] if h is not None or t is not None),
        key=lambda c: c[0],
    )
    meaning = next((t for h, t in chunks if "meaning" in h.lower()), chunks[0][1] if chunks else "")
    mitigation = next((t for h, t in chunks if "mitigation" in h.lower()), "")
    excerpt = " ".join(meaning.split())[:280]
    return excerpt, mitigation_steps(mitigation)


def find_runbooks(
    graph: GraphStore,
    vectors: VectorStore | None,
    embedder: Embedder | None,
    *,
    alert_groups: Sequence[Sequence[str]],
    query: str,
    k: int = 3,
) -> list[RunbookHit]:
    """Runbooks of the alerts in `alert_groups` (exact alias match; earlier groups and earlier names first),
    or, when no alert has a runbook, the best hybrid-search hits for `query`."""
    group_of: dict[str, tuple[int, int]] = {}
    original: dict[str, str] = {}
    for g, names in enumerate(alert_groups):
        for pos, a in enumerate(names):
            if a and a.lower() not in group_of:
                group_of[a.lower()] = (g, pos)
                original[a.lower()] = a
    picked: list[tuple[str, float, str]] = []
    if group_of:
        rows = graph.query(
            "MATCH (r:Runbook) WHERE any(a IN r.aliases WHERE a IN $names) RETURN r.id AS id, r.aliases AS aliases",
            {"names": sorted(group_of)},
        )
        exact: list[tuple[tuple[int, int], str, str]] = []
        for r in rows:
            matched = sorted((group_of[a], a) for a in (r.get("aliases") or []) if a in group_of)
            if matched:
                exact.append((matched[0][0], str(r["id"]), matched[0][1]))
        exact.sort()
        picked = [(rid, 2.0 - i * 0.01, f"alert:{original[a]}") for i, (_, rid, a) in enumerate(exact)]
    if not picked and vectors is not None and embedder is not None and query.strip():
        # similarity search is the fallback: next to an alert's own runbook its hits are mostly noise
        vec = embedder.embed([query])[0]
        found = vectors.search(query, vec.tolist(), k=12, filters={"kind": DocKind.RUNBOOK_CHUNK.value}, alpha=0.5)
        best: dict[str, float] = {}
        for h in found:
            rid = next((e for e in h.entity_ids if e.startswith("runbook:")), h.id.split("#", 1)[0])
            best.setdefault(rid, float(h.score))
        picked = [(rid, score, "search") for rid, score in best.items()]
    picked = picked[:k]
    details = _runbook_rows(graph, [rid for rid, _, _ in picked])
    hits = []
    for rid, score, reason in picked:
        row = details.get(rid)
        if row is None:
            continue
        excerpt, steps = _summarise(row)
        hits.append(RunbookHit(rid, str(row.get("title") or rid), row.get("url"), score, reason, excerpt, steps))
    return hits


def incidents_caused_by(graph: GraphStore, catalog: EntityCatalog, ids: Sequence[str]) -> dict[str, list[PastIncident]]:
    """Past incidents with a CAUSED_BY edge to each of `ids`."""
    rows = query_by_label(
        graph,
        catalog,
        ids,
        "<-[:CAUSED_BY]-(i:Incident) RETURN n.id AS e, i.id AS id, i.title AS title, i.cause AS cause, "
        "i.fault_kind AS fk, i.resolution AS res, i.opened_at AS at",
    )
    out: dict[str, list[PastIncident]] = {}
    for r in sorted(rows, key=lambda r: (str(r["e"]), str(r["id"]))):
        out.setdefault(str(r["e"]), []).append(
            PastIncident(
                str(r["id"]),
                str(r.get("title") or ""),
                str(r.get("cause") or ""),
                r.get("fk"),
                str(r.get("res") or ""),
                str(r["e"]),
                r.get("at"),
            )
        )
    return out


def similar_incidents(
    graph: GraphStore, vectors: VectorStore, embedder: Embedder, query: str, *, k: int = 3, min_score: float = 0.35
) -> list[PastIncident]:
    """The past incidents closest to `query` (hybrid search over incident documents)."""
    if not query.strip():
        return []
    vec = embedder.embed([query])[0]
    found = vectors.search(query, vec.tolist(), k=k * 2, filters={"kind": DocKind.INCIDENT.value}, alpha=0.7)
    found = [h for h in found if h.score >= min_score][:k]
    if not found:
        return []
    rows = graph.query(
        "UNWIND $ids AS id MATCH (i:Incident {id: id}) RETURN i.id AS id, i.title AS title, i.cause AS cause, "
        "i.fault_kind AS fk, i.resolution AS res, i.root_cause AS rc, i.opened_at AS at",
        {"ids": [h.id for h in found]},
    )
    by_id = {str(r["id"]): r for r in rows}
    out = []
    for h in found:
        r = by_id.get(h.id)
        if r is None:
            continue
        out.append(
            PastIncident(
                h.id,
                str(r.get("title") or ""),
                str(r.get("cause") or ""),
                r.get("fk"),
                str(r.get("res") or ""),
                r.get("rc"),
                r.get("at"),
                round(float(h.score), 4),
            )
        )
    return out
