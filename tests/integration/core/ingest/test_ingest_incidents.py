"""Past incidents (the chaos module's 30-day history) → incident rows with their milestones,
Incident nodes with AFFECTS / CAUSED_BY, and searchable incident documents; idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import store_counts

from chaos.history import generate_history
from core.ingest import Ingestor
from core.model import EntityRef
from core.sources.topology import load_topology_file
from core.wiring import Stack

BOUTIQUE = Path(__file__).resolve().parents[4] / "chaos" / "environments" / "boutique.topology.yaml"


@pytest.fixture
def boutique(stack: Stack) -> Ingestor:
    ingestor = Ingestor(stack, defaults=EntityRef(cluster="sim", namespace="boutique"))
    assert ingestor.ingest_topology(load_topology_file(BOUTIQUE)).rejected == []
    return ingestor


def test_history_incidents(boutique: Ingestor, stack: Stack) -> None:
    history = generate_history(seed=0)
    incidents = [i.to_dict() for i in history.incidents]
    report = boutique.ingest_incidents(incidents)
    assert report.rejected == []
    assert report.accepted == len(incidents) and report.embedded == len(incidents)
    external = [i for i in incidents if i["root_cause"].startswith("external/")]
    assert {w.field for w in report.warnings} == {"root_cause"} and len(report.warnings) == len(external)

    rows = {i.key: i for i in stack.db.list_incidents()}
    assert len(rows) == len(incidents)
    first = incidents[0]
    row = rows[f"hist-{first['id']}"]  # INC-<n> is reserved for Sherlog's own incidents
    assert row.status == "resolved" and row.severity == int(first["severity"][-1])
    assert row.resolved_at is not None and row.resolved_at.isoformat().replace("+00:00", "Z") == first["resolved_at"]
    assert row.acknowledged_at is not None and row.resolution == first["resolution"]
    assert [e.kind for e in stack.db.timeline(row.key)] == ["declared", "acknowledged", "mitigated", "resolved"]

    assert stack.graph.count_nodes("Incident") == len(incidents)
    assert stack.graph.count_edges("AFFECTS") == len(incidents)
    assert stack.graph.count_edges("CAUSED_BY") == len(incidents) - len(external)
    causes = stack.graph.query(
        "MATCH (i:Incident)-[:CAUSED_BY]->(n) RETURN i.key AS key, n.id AS id, labels(n)[0] AS label"
    )
    by_key = {c["key"]: c for c in causes}
    db_incident = next(i for i in incidents if i["root_cause"] == "orders-db")
    assert by_key[f"hist-{db_incident['id']}"]["label"] == "Database"
    node_incident = next(i for i in incidents if i["root_cause"].startswith("node-"))
    assert by_key[f"hist-{node_incident['id']}"]["id"] == f"node:sim/{node_incident['root_cause']}"

    query = "connection pool exhausted, too many clients on the database"
    hits = stack.vectors.search(query, stack.embedder.embed([query])[0].tolist(), k=3, filters={"kind": "incident"})
    assert hits and hits[0].id.startswith("incident:hist-")
    assert "service:sim/boutique/orders-db" in hits[0].entity_ids

    before = store_counts(stack)
    again = boutique.ingest_incidents(incidents)
    assert again.duplicates == len(incidents) and again.embedded == 0 and again.rejected == []
    assert store_counts(stack) == before


def test_bad_incidents_are_rejected_by_field(boutique: Ingestor, stack: Stack) -> None:
    good = {"title": "cart slow", "severity": "sev3", "service": "cart", "declared_at": "2026-01-01T10:00:00Z"}
    report = boutique.ingest_incidents(
        [
            good,
            {**good, "severity": "sev9"},
            {**good, "declared_at": "soon"},
            {**good, "titel": "typo"},
            "not an incident",
        ]
    )
    assert report.accepted == 1
    assert [(e.index, e.field) for e in report.rejected] == [
        (1, "severity"),
        (2, "declared_at"),
        (3, "titel"),
        (4, "(incident)"),
    ]
    [row] = stack.db.list_incidents()
    assert row.key.startswith("hist-") and row.status == "open"
