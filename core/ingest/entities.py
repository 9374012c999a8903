"""Make sure every entity an event names exists in the graph before edges point at it.

Topology ingestion creates entities with their real label (Service, Database, Cache, Queue, ...).
An event can arrive first, or name something no topology declared: then a *placeholder* is
created (`placeholder: true`, label Service for `service:` ids, Pod/Node/Host otherwise), so
edges never dangle. When topology later declares that id as, say, a Database, the placeholder
is relabelled in place (core.ingest.graph_writes.relabel_placeholders) and keeps its edges.

Which ids exist is cached per process; a graph emptied underneath (``sherlog reset``) shows up
as NotFound from an edge write, after which the caller calls `forget()` and retries once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from core.ingest.records import Placement
from core.knowledge.schema import WORKLOAD_LABELS, short_name
from core.model import EntityKind, RelationKind
from core.ports import GraphStore

_WORKLOAD_PREFIX = "service:"


class EntityRegistry:
    """Known entity ids → their graph label, creating placeholders for unknown ones."""

    def __init__(self, graph: GraphStore, tenant: str) -> None:
        self.graph = graph
        self.tenant = tenant
        self._labels: dict[str, str] = {}
        self._lock = threading.Lock()

    def label_of(self, entity_id: str) -> str | None:
        return self._labels.get(entity_id)

    def remember(self, entity_id: str, label: str) -> None:
        self._labels[entity_id] = label

    def forget(self) -> None:
        """Drop the cache (after the graph was emptied by someone else)."""
        with self._lock:
            self._labels.clear()

    def ensure(self, placements: Iterable[Placement]) -> int:
        """Create whatever the placements name that the graph does not have; returns nodes created."""
        wanted: dict[str, tuple[str, dict[str, Any]]] = {}
        part_of: dict[str, str] = {}  # pod -> its service
        for p in placements:
            if p.primary and p.primary not in self._labels and p.primary_label:
                wanted.setdefault(p.primary, (p.primary_label, self._props(p, p.primary, p.name)))
            if p.pod and p.pod not in self._labels:
                props = self._props(p, p.pod, p.pod_name or short_name(p.pod))
                props.update(service=p.service, node=p.node_name)
                wanted.setdefault(p.pod, (EntityKind.POD.value, props))
                if p.primary:
                    part_of[p.pod] = p.primary
            if p.node and p.node not in self._labels:
                props = self._props(p, p.node, p.node_name or short_name(p.node))
                props.pop("namespace", None)
                wanted.setdefault(p.node, (EntityKind.NODE.value, props))
        if not wanted:
            return 0
        with self._lock:
            return self._create(wanted, part_of)

    def _props(self, p: Placement, entity_id: str, name: str) -> dict[str, Any]:
        props: dict[str, Any] = {"id": entity_id, "name": name, "tenant": self.tenant, "placeholder": True}
        if p.cluster:
            props["cluster"] = p.cluster
        if p.namespace and not entity_id.startswith(("node:", "host:")):
            props["namespace"] = p.namespace
        if entity_id.startswith(_WORKLOAD_PREFIX):
            props["kind"] = EntityKind.SERVICE.value
        return props

    def _create(self, wanted: dict[str, tuple[str, dict[str, Any]]], part_of: dict[str, str]) -> int:
        workloads = [i for i, (label, _) in wanted.items() if i.startswith(_WORKLOAD_PREFIX)]
        if workloads:
            # a workload id may exist under any of the four workload labels (topology decides)
            for label in WORKLOAD_LABELS:
                rows = self.graph.query(
                    f"UNWIND $ids AS id MATCH (n:`{label}` {{id: id}}) RETURN n.id AS id", {"ids": workloads}
                )
                for row in rows:
                    self._labels[row["id"]] = label
        others = [i for i in wanted if not i.startswith(_WORKLOAD_PREFIX)]
        if others:
            by_label: dict[str, list[str]] = {}
            for i in others:
                by_label.setdefault(wanted[i][0], []).append(i)
            for label, ids in by_label.items():
                rows = self.graph.query(
                    f"UNWIND $ids AS id MATCH (n:`{label}` {{id: id}}) RETURN n.id AS id", {"ids": ids}
                )
                for row in rows:
                    self._labels[row["id"]] = label
        create: dict[str, list[dict[str, Any]]] = {}
        for entity_id, (label, props) in wanted.items():
            if entity_id not in self._labels:
                create.setdefault(label, []).append(props)
        created = 0
        for label, rows in create.items():
            created += self.graph.upsert_nodes(label, rows)
            for row in rows:
                self._labels[row["id"]] = label
        edges = [{"src": s, "dst": d} for s, d in part_of.items() if s in self._labels and d in self._labels]
        by_dst: dict[str, list[dict[str, Any]]] = {}
        for e in edges:
            by_dst.setdefault(self._labels[e["dst"]], []).append(e)
        for dst_label, group in by_dst.items():
            self.graph.upsert_edges(
                RelationKind.PART_OF.value, group, src_label=EntityKind.POD.value, dst_label=dst_label
            )
        return created
