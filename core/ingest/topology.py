"""Write a mapped `Topology` (core.sources.topology) into the graph: nodes by label, then edges.

Nodes are upserted by id (MERGE), so re-ingesting the same topology changes nothing. A node
an event created earlier as a placeholder Service is relabelled when the topology says it is a
Database, Cache or Queue, and loses its `placeholder` flag, keeping every edge it already has.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from core.ingest import graph_writes as gw
from core.ingest.entities import EntityRegistry
from core.ingest.report import IngestReport
from core.knowledge.schema import WORKLOAD_LABELS
from core.ports import GraphStore
from core.sources.common import Topology


def write_topology(graph: GraphStore, registry: EntityRegistry, topo: Topology, *, tenant: str) -> IngestReport:
    """Upsert `topo.entities` and `topo.relations` (its events are the caller's business)."""
    report = IngestReport()
    report.rejected.extend(topo.errors)
    report.warnings.extend(topo.warnings)
    by_label: dict[str, list[dict[str, Any]]] = {}
    labels: dict[str, str] = {}
    for ent in topo.entities:
        label = ent.kind.value
        labels[ent.id] = label
        # placeholder=None removes the flag from a node an event created before topology came
        row: dict[str, Any] = {**ent.props, "id": ent.id, "name": ent.name, "tenant": tenant, "placeholder": None}
        by_label.setdefault(label, []).append(row)
    for label, rows in by_label.items():
        if label in WORKLOAD_LABELS:
            report.written["relabelled_nodes"] += gw.relabel_placeholders(graph, label, [r["id"] for r in rows])
        report.written["nodes"] += graph.upsert_nodes(label, rows)
        report.by_kind[label] += len(rows)
        for r in rows:
            registry.remember(r["id"], label)
    groups: dict[tuple[str, str | None, str | None], list[dict[str, Any]]] = {}
    for rel in topo.relations:
        src_label = labels.get(rel.src) or registry.label_of(rel.src)
        dst_label = labels.get(rel.dst) or registry.label_of(rel.dst)
        groups.setdefault((rel.kind.value, src_label, dst_label), []).append(
            {"src": rel.src, "dst": rel.dst, "props": dict(rel.props)}
        )
    edge_kinds: Counter[str] = Counter()
    for (kind, src_label, dst_label), rows in groups.items():
        n = graph.upsert_edges(kind, rows, src_label=src_label, dst_label=dst_label)
        report.written["edges"] += n
        edge_kinds[kind] += n
    report.by_kind.update(edge_kinds)
    report.accepted = len(topo.entities) + len(topo.relations)
    return report
