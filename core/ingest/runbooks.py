"""Runbook ingestion: markdown directory → Runbook + RunbookChunk nodes, chunk vectors, alert links.

Idempotent and cheap to repeat: each Runbook node keeps a `content_hash` of everything that
goes into the graph and index, each chunk its own. An unchanged runbook is skipped outright; a
changed one re-embeds only the chunks whose text changed and removes chunks that disappeared.
The runbook's hash is written last, so a run that dies half-way is redone next time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.ingest import graph_writes as gw
from core.ingest.report import IngestReport
from core.knowledge.schema import DocKind
from core.model import EntityKind, RelationKind
from core.ports import VectorDoc
from core.sources.common import ItemError
from core.sources.runbooks import Runbook, RunbookChunk, load_runbook_dir

if TYPE_CHECKING:
    from core.wiring import Stack


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def chunk_hash(chunk: RunbookChunk, rb: Runbook) -> str:
    # metadata travels with the vector document, so a new title or alias list re-writes the doc
    return _digest([chunk.heading, chunk.text, rb.title, rb.slug, rb.aliases, rb.url])


def runbook_hash(rb: Runbook) -> str:
    return _digest([rb.title, rb.path, rb.url, rb.aliases, [chunk_hash(c, rb) for c in rb.chunks]])


def _doc(rb: Runbook, chunk: RunbookChunk, vector: Any) -> VectorDoc:
    meta: dict[str, str | int | float | bool] = {
        "title": rb.title,
        "slug": rb.slug,
        "aliases": " ".join(rb.aliases),
        "heading": chunk.heading,
        "chunk": chunk.index,
    }
    if rb.url:
        meta["url"] = rb.url
    return VectorDoc(
        id=rb.chunk_id(chunk.index),
        text=chunk.doc_text,
        vector=vector,
        kind=DocKind.RUNBOOK_CHUNK.value,
        entity_ids=[rb.id],
        metadata=meta,
    )


def ingest_runbook_dir(stack: Stack, path: Path, *, base_url: str | None, tenant: str) -> IngestReport:
    """Load every runbook under `path` and write what changed; link alerts already in the graph."""
    report = IngestReport()
    errors: list[ItemError] = []
    runbooks = load_runbook_dir(path, base_url=base_url, errors=errors)
    report.rejected.extend(errors)
    graph = stack.graph
    if not runbooks:
        return report
    stored = {
        str(r["id"]): r["h"]
        for r in graph.query(
            "UNWIND $ids AS id MATCH (r:Runbook {id: id}) RETURN r.id AS id, r.content_hash AS h",
            {"ids": [rb.id for rb in runbooks]},
        )
    }
    changed = [rb for rb in runbooks if stored.get(rb.id) != runbook_hash(rb)]
    report.duplicates = len(runbooks) - len(changed)
    if changed:
        _write(stack, changed, tenant, report)
    report.accepted = len(runbooks)
    report.by_kind[EntityKind.RUNBOOK.value] = len(runbooks)
    report.by_kind[EntityKind.RUNBOOK_CHUNK.value] = sum(len(rb.chunks) for rb in runbooks)
    report.written["related_runbook_edges"] += link_existing_alerts(stack)
    return report


def _write(stack: Stack, runbooks: list[Runbook], tenant: str, report: IngestReport) -> None:
    graph = stack.graph
    old_chunks: dict[str, str | None] = {
        str(r["id"]): r["h"]
        for r in graph.query(
            "UNWIND $ids AS id MATCH (c:RunbookChunk)-[:PART_OF]->(r:Runbook {id: id}) "
            "RETURN c.id AS id, c.content_hash AS h",
            {"ids": [rb.id for rb in runbooks]},
        )
    }
    todo: list[tuple[Runbook, RunbookChunk, str]] = []
    keep: set[str] = set()
    for rb in runbooks:
        for c in rb.chunks:
            cid = rb.chunk_id(c.index)
            keep.add(cid)
            h = chunk_hash(c, rb)
            if old_chunks.get(cid) != h:
                todo.append((rb, c, h))
    stale = sorted(set(old_chunks) - keep)
    if todo:
        vectors = stack.embedder.embed([c.doc_text for _, c, _ in todo])
        report.embedded += len(todo)
        docs = [_doc(rb, c, vectors[i].tolist()) for i, (rb, c, _) in enumerate(todo)]
        report.written["vector_docs"] += stack.vectors.upsert(docs)
    if stale:
        stack.vectors.delete(stale)
        graph.query("UNWIND $ids AS id MATCH (c:RunbookChunk {id: id}) DETACH DELETE c", {"ids": stale})
        report.written["deleted_chunks"] += len(stale)
    # the runbook node first (chunks hang off it), its hash only once everything else is in
    graph.upsert_nodes(
        EntityKind.RUNBOOK.value,
        [
            {
                "id": rb.id,
                "name": rb.title,
                "tenant": tenant,
                "title": rb.title,
                "slug": rb.slug,
                "path": rb.path,
                "url": rb.url,
                "aliases": list(rb.aliases),
            }
            for rb in runbooks
        ],
    )
    if todo:
        rows: list[dict[str, Any]] = [
            {
                "id": rb.chunk_id(c.index),
                "name": c.heading[:200],
                "tenant": tenant,
                "heading": c.heading,
                "text": c.text,
                "index": c.index,
                "runbook": rb.id,
                "content_hash": h,
            }
            for rb, c, h in todo
        ]
        report.written["chunk_nodes"] += graph.upsert_nodes(EntityKind.RUNBOOK_CHUNK.value, rows)
        edges = [{"src": r["id"], "dst": r["runbook"]} for r in rows]
        graph.upsert_edges(
            RelationKind.PART_OF.value,
            edges,
            src_label=EntityKind.RUNBOOK_CHUNK.value,
            dst_label=EntityKind.RUNBOOK.value,
        )
    report.written["runbook_nodes"] += graph.upsert_nodes(
        EntityKind.RUNBOOK.value, [{"id": rb.id, "content_hash": runbook_hash(rb)} for rb in runbooks]
    )


def link_existing_alerts(stack: Stack) -> int:
    """Link every Alert node to its runbook (alias or runbook_url); already-linked pairs are MERGEd again."""
    graph = stack.graph
    alerts = graph.query("MATCH (a:Alert) RETURN a.id AS id, a.alertname AS name, a.runbook_url AS url")
    if not alerts:
        return 0
    runbooks = gw.runbooks_by_alias(graph)
    edges = []
    for a in alerts:
        if not a.get("name"):
            continue
        rb = gw.pick_runbook(str(a["name"]), a.get("url"), runbooks)
        if rb is not None:
            edges.append({"src": a["id"], "dst": rb})
    if not edges:
        return 0
    return graph.upsert_edges(
        RelationKind.RELATED_RUNBOOK.value,
        edges,
        src_label=EntityKind.ALERT.value,
        dst_label=EntityKind.RUNBOOK.value,
    )
