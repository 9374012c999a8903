"""Logs: redaction before storage, templates in the graph with stable ids, embeddings per template."""

from __future__ import annotations

import json
from datetime import timedelta

from conftest import CountingEmbedder, build_stack
from ingest_helpers import CHECKOUT, ENTITY, T0, log

from core.ingest import Ingestor
from core.model import EntityRef
from core.settings import Settings
from core.sources.topology import from_static
from core.wiring import Stack

SECRET_LINES = [
    "login failed for user bob password=hunter2 from 10.1.2.3",
    "calling upstream with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIz",
    "connecting to postgres://app:Sup3rS3cret@db:5432/orders",
]
SECRETS = ("hunter2", "Sup3rS3cret", "eyJhbGciOiJIUzI1NiJ9", "c2lnbmF0dXJlMTIz")


def test_secrets_are_masked_before_anything_is_stored(ingestor: Ingestor, stack: Stack) -> None:
    report = ingestor.ingest_events([log(i, line, level="error") for i, line in enumerate(SECRET_LINES)])
    assert report.accepted == 3
    stored = stack.db.log_lines(service=CHECKOUT)
    assert len(stored) == 3
    assert all("[REDACTED]" in line.message for line in stored)
    templates = stack.graph.query("MATCH (t:LogTemplate) RETURN t.template AS template")
    docs = stack.vectors.search("password Authorization postgres", None, k=20, alpha=0.0)
    assert templates and docs
    everything = " ".join(
        [line.message for line in stored] + [r["template"] for r in templates] + [d.text for d in docs]
    )
    for secret in SECRETS:
        assert secret not in everything
    assert any("password=[REDACTED]" in r["template"] for r in templates)


def test_templates_nodes_edges_and_counts(ingestor: Ingestor, stack: Stack) -> None:
    lines = [log(i, f"GET /api/items/{i} 200 in {i % 7 + 1} ms") for i in range(120)]
    lines += [log(200 + i, f"order {5000 + i} rejected: out of stock", level="warning") for i in range(30)]
    report = ingestor.ingest_events(lines)
    assert report.accepted == 150 and report.new_templates == 2
    rows = stack.graph.query(
        "MATCH (s:Service {id: $id})-[:HAS_LOG]->(t:LogTemplate) "
        "RETURN t.id AS id, t.template AS template, t.count AS count, t.level AS level, "
        "t.first_seen AS first, t.last_seen AS last ORDER BY t.count DESC",
        {"id": CHECKOUT},
    )
    assert [(r["count"], r["level"]) for r in rows] == [(120, "info"), (30, "warning")]
    assert rows[0]["first"] == T0.timestamp() and rows[0]["last"] == (T0 + timedelta(seconds=119)).timestamp()
    assert "<*>" in rows[0]["template"]
    # the service was unknown: a placeholder keeps the edges from dangling
    svc = stack.graph.query("MATCH (s:Service {id: $id}) RETURN s.placeholder AS p, s.name AS n", {"id": CHECKOUT})
    assert svc == [{"p": True, "n": "checkout"}]
    # lines carry the template id; counts are per template per minute
    stored = stack.db.log_lines(service=CHECKOUT)
    assert {f"tpl:{line.template_id}" for line in stored} == {r["id"] for r in rows}
    counts = stack.db.log_counts(since=T0, until=T0 + timedelta(hours=1), entity_ids=[CHECKOUT])
    assert sum(c.count for c in counts) == 150
    docs = stack.vectors.search(None, stack.embedder.embed(["order rejected out of stock"])[0].tolist(), k=1)
    assert docs[0].kind == "log_template" and docs[0].entity_ids == [CHECKOUT]
    assert docs[0].id == rows[1]["id"]


def test_embedding_calls_never_exceed_new_templates(ingestor: Ingestor, embedder: CountingEmbedder) -> None:
    shapes = [
        "GET /api/items/{i} 200 in {i} ms",
        "cache miss for key item:{i}",
        "retrying request {i} after timeout",
        "worker {i} finished batch in {i} ms",
        "session {i} expired",
    ]
    items = [log(i, shapes[i % 5].format(i=i)) for i in range(3000)]
    before = embedder.texts
    report = Ingestor(ingestor.stack, batch_size=700).ingest_events(items)
    assert report.accepted == 3000
    assert report.new_templates == 5
    assert embedder.texts - before == report.embedded <= report.new_templates
    again = ingestor.ingest_events([log(10_000 + i, shapes[i % 5].format(i=10_000 + i)) for i in range(500)])
    assert again.new_templates == 0 and again.embedded == 0
    assert embedder.texts - before == report.embedded


def test_template_ids_survive_a_restart(settings: Settings, embedder: CountingEmbedder) -> None:
    shapes = ["user {i} logged in from 10.0.0.{i}", "disk usage at {i} percent", "request {i} took {i} ms"]
    stack = build_stack(settings, embedder)
    first = Ingestor(stack)
    first.ingest_events([log(i, shapes[i % 3].format(i=i)) for i in range(90)])
    first.flush()
    ids_before = {line.message.split()[0]: line.template_id for line in stack.db.log_lines()}
    assert len(ids_before) == 3 and len(set(ids_before.values())) == 3
    stack.close()
    assert (settings.data_dir / "templates.json").is_file()

    stack2 = build_stack(settings, embedder)
    second = Ingestor(stack2)
    report = second.ingest_events([log(1000 + i, shapes[i % 3].format(i=1000 + i)) for i in range(30)])
    assert report.new_templates == 0 and report.embedded == 0
    later = [line for line in stack2.db.log_lines() if line.ts >= T0 + timedelta(seconds=1000)]
    ids_after = {line.message.split()[0]: line.template_id for line in later}
    assert ids_after == ids_before
    assert stack2.graph.count_nodes("LogTemplate") == 3
    stack2.close()


def test_level_and_service_come_from_the_line_when_the_envelope_lacks_them(stack: Stack) -> None:
    ingestor = Ingestor(stack, defaults=EntityRef(cluster="prod", namespace="shop"))
    line = json.dumps({"level": "error", "service": "payments", "msg": "charge 42 failed: card declined"})
    report = ingestor.ingest_events([{"source": "shipper", "kind": "log", "ts": T0.isoformat(), "body": line}])
    assert report.accepted == 1
    [stored] = stack.db.log_lines()
    assert (stored.service, stored.level) == ("service:prod/shop/payments", "error")
    # a line that names nothing is kept too, under the 'unknown' service of the defaults
    report = ingestor.ingest_events([{"source": "shipper", "kind": "log", "ts": T0.isoformat(), "body": "hello"}])
    assert report.accepted == 1
    assert {line.service for line in stack.db.log_lines()} == {
        "service:prod/shop/payments",
        "service:prod/shop/unknown",
    }


def test_topology_after_logs_relabels_the_placeholder(ingestor: Ingestor, stack: Stack) -> None:
    ingestor.ingest_events(
        [{**log(i, f"slow query {i} ms"), "entity": {**ENTITY, "service": "orders-db"}} for i in range(5)]
    )
    topo = from_static(
        {
            "cluster": "prod",
            "namespace": "shop",
            "services": [{"name": "checkout", "depends_on": ["orders-db"]}, {"name": "orders-db", "kind": "Database"}],
        }
    )
    report = ingestor.ingest_topology(topo)
    assert report.rejected == []
    rows = stack.graph.query(
        "MATCH (n {id: 'service:prod/shop/orders-db'})-[:HAS_LOG]->(t) "
        "RETURN labels(n) AS l, n.placeholder AS p, count(t) AS c"
    )
    assert rows == [{"l": ["Database"], "p": None, "c": 1}]
    assert stack.graph.count_nodes("Service") == 1  # checkout only: no duplicate orders-db node
