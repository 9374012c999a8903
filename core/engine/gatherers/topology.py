"""The dependency neighbourhood of the focus: root-cause candidates and the edges between them.

Starting from the focus entities, DEPENDS_ON is followed level by level (at most `depth` hops,
at most `limit` entities, nearest first), then RUNS_ON to the nodes, PART_OF back from the pods,
and the other tenants of those nodes. Every query is an `UNWIND $ids ... MATCH (n:Label {id: id})`
per label, so it is answered from the per-label id index, never a scan. Edges point from the
entity that *needs* to the one it needs (caller → dependency, workload → node), which is the
direction faults travel backwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.engine.linker import CatalogEntry, EntityCatalog
from core.knowledge.schema import WORKLOAD_LABELS, node_id
from core.ports import GraphStore


@dataclass(frozen=True)
class PodInfo:
    id: str
    name: str
    node: str | None  # node id


@dataclass
class Neighbourhood:
    """Candidates around the focus, and the edges between them."""

    focus: list[str]
    candidates: list[str]  # focus first, then dependencies by distance, then nodes
    depth: dict[str, int] = field(default_factory=dict)
    depends_on: set[tuple[str, str]] = field(default_factory=set)  # (caller, dependency)
    runs_on: dict[str, list[str]] = field(default_factory=dict)  # workload → node ids
    pods: dict[str, list[PodInfo]] = field(default_factory=dict)  # workload → pods
    tenants: dict[str, list[str]] = field(default_factory=dict)  # node → workloads on it
    dependents: dict[str, list[str]] = field(default_factory=dict)  # entity → who depends on it (direct)
    truncated: bool = False

    def pod_owner(self) -> dict[str, str]:
        return {p.id: w for w, pods in self.pods.items() for p in pods}

    def edges(self) -> set[tuple[str, str]]:
        """Every "needs" edge: DEPENDS_ON plus workload → node."""
        out = set(self.depends_on)
        for w, nodes in self.runs_on.items():
            out.update((w, n) for n in nodes)
        return out


def by_label(catalog: EntityCatalog, ids: Iterable[str]) -> dict[str, list[str]]:
    """Group ids by their graph label (from the catalog; unknown ids are tried as every workload label)."""
    out: dict[str, list[str]] = defaultdict(list)
    for i in sorted(set(ids)):
        entry = catalog.get(i)
        if entry is not None:
            out[entry.kind].append(i)
        elif i.startswith("service:"):
            for label in WORKLOAD_LABELS:
                out[label].append(i)
        elif i.startswith("node:"):
            out["Node"].append(i)
    return dict(out)


def query_by_label(
    graph: GraphStore, catalog: EntityCatalog, ids: Iterable[str], body: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run `UNWIND $ids AS id MATCH (n:<Label> {id: id}) <body>` once per label, rows concatenated.

    `body` continues the pattern from `n` (e.g. `-[:RUNS_ON]->(m:Node) RETURN n.id AS a, m.id AS b`).
    """
    rows: list[dict[str, Any]] = []
    for label, group in sorted(by_label(catalog, ids).items()):
        cypher = f"UNWIND $ids AS id MATCH (n:`{label}` {{id: id}}){body}"
        rows.extend(graph.query(cypher, {"ids": group, **(params or {})}))
    return rows


def expand(
    graph: GraphStore,
    catalog: EntityCatalog,
    focus: list[str],
    *,
    depth: int = 4,
    limit: int = 60,
    with_dependents: bool = True,
) -> Neighbourhood:
    """The neighbourhood of `focus` (see module docstring)."""
    nb = Neighbourhood(focus=list(focus), candidates=[])
    dist: dict[str, int] = {f: 0 for f in focus}
    frontier = [f for f in focus if not f.startswith("node:")]
    for level in range(1, depth + 1):
        if not frontier:
            break
        rows = query_by_label(graph, catalog, frontier, "-[:DEPENDS_ON]->(m) RETURN n.id AS a, m.id AS b")
        nxt: list[str] = []
        for r in sorted(rows, key=lambda r: (str(r["a"]), str(r["b"]))):
            a, b = str(r["a"]), str(r["b"])
            nb.depends_on.add((a, b))
            if b not in dist:
                if len(dist) >= limit:
                    nb.truncated = True
                    continue
                dist[b] = level
                nxt.append(b)
        frontier = nxt
    focus_nodes = [f for f in focus if f.startswith("node:")]
    if focus_nodes:
        # a node in focus: the workloads on it are candidates too (one of them may be the culprit)
        for r in query_by_label(graph, catalog, focus_nodes, "<-[:RUNS_ON]-(w) RETURN w.id AS w"):
            if len(dist) < limit:
                dist.setdefault(str(r["w"]), 1)
    workloads = [e for e in dist if not e.startswith("node:")]
    for r in query_by_label(graph, catalog, workloads, "-[:RUNS_ON]->(m:Node) RETURN n.id AS a, m.id AS b"):
        nb.runs_on.setdefault(str(r["a"]), []).append(str(r["b"]))
    for w in nb.runs_on:
        nb.runs_on[w].sort()
    nodes = sorted({n for ns in nb.runs_on.values() for n in ns} | {f for f in focus if f.startswith("node:")})
    for n in nodes:
        dist.setdefault(n, 1 + min((dist[w] for w, ns in nb.runs_on.items() if n in ns), default=0))
    pod_rows = query_by_label(
        graph,
        catalog,
        workloads,
        "<-[:PART_OF]-(p:Pod) RETURN n.id AS w, p.id AS p, p.name AS name, p.node AS node, p.cluster AS cluster",
    )
    for r in sorted(pod_rows, key=lambda r: (str(r["w"]), str(r["p"]))):
        w = str(r["w"])
        node_name = r.get("node")
        node = node_id(str(node_name), str(r.get("cluster") or "")) if node_name else None
        nb.pods.setdefault(w, []).append(PodInfo(str(r["p"]), str(r.get("name") or r["p"]), node))
    if nodes:
        for r in query_by_label(graph, catalog, nodes, "<-[:RUNS_ON]-(w) RETURN n.id AS node, w.id AS w"):
            nb.tenants.setdefault(str(r["node"]), []).append(str(r["w"]))
        for n in nb.tenants:
            nb.tenants[n] = sorted(set(nb.tenants[n]))
    if with_dependents:
        for r in query_by_label(graph, catalog, list(dist), "<-[:DEPENDS_ON]-(m) RETURN n.id AS a, m.id AS b"):
            nb.dependents.setdefault(str(r["a"]), []).append(str(r["b"]))
        for k in nb.dependents:
            nb.dependents[k] = sorted(set(nb.dependents[k]))
    nb.depth = dist
    nb.candidates = sorted(dist, key=lambda e: (dist[e], e.startswith("node:"), e))
    return nb


def dependents_closure(
    graph: GraphStore, catalog: EntityCatalog, roots: list[str], *, depth: int = 4, limit: int = 200
) -> dict[str, int]:
    """Everything that (transitively) depends on `roots`, with its distance: the blast radius.

    For a node, its tenants count as depending on it.
    """
    dist: dict[str, int] = {r: 0 for r in roots}
    frontier = list(roots)
    for level in range(1, depth + 1):
        if not frontier:
            break
        nxt: list[str] = []
        rows = query_by_label(graph, catalog, frontier, "<-[:DEPENDS_ON|RUNS_ON]-(m) RETURN m.id AS b")
        for r in sorted(rows, key=lambda r: str(r["b"])):
            b = str(r["b"])
            if b not in dist and len(dist) < limit:
                dist[b] = level
                nxt.append(b)
        frontier = nxt
    return dist


def entries_for(catalog: EntityCatalog, ids: Iterable[str]) -> list[CatalogEntry]:
    return [e for i in ids if (e := catalog.get(i)) is not None]
