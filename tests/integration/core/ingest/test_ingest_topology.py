"""Topology from the chaos environment lands in the graph by label, idempotently."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ingest_helpers import store_counts

from core.ingest import Ingestor
from core.sources.topology import load_topology_file
from core.wiring import Stack

BOUTIQUE = Path(__file__).resolve().parents[4] / "chaos" / "environments" / "boutique.topology.yaml"


def test_boutique_topology(ingestor: Ingestor, stack: Stack) -> None:
    topo = load_topology_file(BOUTIQUE)
    assert topo.errors == []
    report = ingestor.ingest_topology(topo)
    assert report.rejected == []
    assert report.accepted == len(topo.entities) + len(topo.relations)
    assert stack.graph.count_nodes() == len(topo.entities)
    assert stack.graph.count_edges() == len(topo.relations)
    for label, n in Counter(e.kind.value for e in topo.entities).items():
        assert stack.graph.count_nodes(label) == n, label
    for kind, n in Counter(r.kind.value for r in topo.relations).items():
        assert stack.graph.count_edges(kind) == n, kind
    rows = stack.graph.query(
        "MATCH (c:Service {id: 'service:sim/boutique/checkout'})-[:DEPENDS_ON]->(d) RETURN d.id AS id, labels(d) AS l"
    )
    deps = {r["id"]: r["l"][0] for r in rows}
    assert deps["service:sim/boutique/orders-db"] == "Database"
    assert deps["service:sim/boutique/payments"] == "Service"

    before = store_counts(stack)
    again = ingestor.ingest_topology(topo)
    assert again.rejected == []
    assert store_counts(stack) == before
