"""Static topology YAML and docker-compose mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import InvalidPayload
from core.model import EntityKind, RelationKind
from core.sources.common import Topology
from core.sources.topology import from_compose, from_static, load_topology_file

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures"

STATIC = """
cluster: sim
namespace: boutique
nodes: [{name: node-1}, {name: node-2}, node-3]
hosts: [{name: db-host-1}]
services:
  - {name: frontend, kind: Service, depends_on: [checkout, catalog], runs_on: [node-1], replicas: 2}
  - {name: checkout, depends_on: [orders-db, payments-queue, session], runs_on: node-2}
  - {name: catalog, kind: service, runs_on: [node-2]}
  - {name: orders-db, kind: Database, runs_on: [db-host-1]}
  - {name: payments-queue, kind: Queue, runs_on: [node-3]}
  - {name: session, kind: Cache, runs_on: [node-3], namespace: shared}
"""


def edges(topo: Topology, kind: RelationKind) -> set[tuple[str, str]]:
    return {(r.src, r.dst) for r in topo.relations if r.kind is kind}


def test_static_topology_entities_and_relations() -> None:
    topo = from_static(STATIC)
    assert topo.errors == []
    by_id = {e.id: e for e in topo.entities}
    fe = by_id["service:sim/boutique/frontend"]
    assert fe.kind is EntityKind.SERVICE and fe.props == {
        "kind": "Service",
        "cluster": "sim",
        "namespace": "boutique",
        "replicas": 2,
    }
    assert by_id["service:sim/boutique/orders-db"].kind is EntityKind.DATABASE
    assert by_id["service:sim/boutique/payments-queue"].kind is EntityKind.QUEUE
    assert by_id["service:sim/shared/session"].kind is EntityKind.CACHE
    assert by_id["node:sim/node-3"].kind is EntityKind.NODE and by_id["host:db-host-1"].kind is EntityKind.HOST
    assert edges(topo, RelationKind.DEPENDS_ON) == {
        ("service:sim/boutique/frontend", "service:sim/boutique/checkout"),
        ("service:sim/boutique/frontend", "service:sim/boutique/catalog"),
        ("service:sim/boutique/checkout", "service:sim/boutique/orders-db"),
        ("service:sim/boutique/checkout", "service:sim/boutique/payments-queue"),
        ("service:sim/boutique/checkout", "service:sim/shared/session"),
    }
    runs_on = edges(topo, RelationKind.RUNS_ON)
    assert ("service:sim/boutique/orders-db", "host:db-host-1") in runs_on
    assert ("service:sim/boutique/checkout", "node:sim/node-2") in runs_on
    part_of = edges(topo, RelationKind.PART_OF)
    assert ("service:sim/boutique/frontend", "namespace:sim/boutique") in part_of
    assert ("namespace:sim/shared", "cluster:sim") in part_of


def test_static_errors_name_the_item_and_suggest() -> None:
    doc: dict[str, Any] = yaml.safe_load(STATIC)
    doc["services"] += [
        {"name": "cart", "depends_on": ["cartt"]},
        {"name": "web", "kind": "Lambda"},
        {"name": "api", "depend_on": ["cart"]},
        {"name": "cart"},
        {"name": "bad/name"},
        {"name": "worker", "runs_on": ["node-9"], "replicas": -1},
        {"name": "loop", "depends_on": "loop"},
        {"name": "uses-web", "depends_on": ["web"]},
        "just-a-string",
    ]
    doc["x-team"] = "blue"
    topo = from_static(doc)
    messages = [str(e) for e in topo.errors]
    assert messages == [
        "x-team: unknown field 'x-team'; allowed: cluster, hosts, namespace, nodes, services",
        "services[7].kind: unknown kind 'Lambda'; allowed: Service, Database, Cache, Queue",
        "services[8].depend_on: unknown field 'depend_on' (did you mean 'depends_on'?); allowed: depends_on, "
        "image, kind, name, namespace, replicas, runs_on",
        "services[9].name: duplicate service 'cart'",
        "services[10].name: 'bad/name' is not a valid name (letters, digits, '-', '_', '.'; no '/')",
        "services[11].replicas: expected a non-negative integer, got -1",
        "services[14]: expected a service mapping, got string",
        "services[6].depends_on: unknown service 'cartt' (did you mean 'cart'?)",
        "services[12].depends_on: 'loop' cannot depend on itself",
        "services[13].depends_on: service 'web' is declared but invalid (see its own error)",
    ]
    # the good services are all still there
    assert {e.name for e in topo.entities if e.kind is EntityKind.SERVICE} >= {"frontend", "checkout", "cart", "loop"}
    with pytest.raises(InvalidPayload, match=r"static topology: 10 problem\(s\): x-team: unknown field"):
        topo.raise_for_errors("static topology")


def test_unknown_runs_on_target_suggests_a_node() -> None:
    topo = from_static({"cluster": "c", "nodes": ["node-1"], "services": [{"name": "a", "runs_on": ["nod-1"]}]})
    assert [str(e) for e in topo.errors] == [
        "services[0].runs_on: unknown node or host 'nod-1' (did you mean 'node-1'?)"
    ]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("services: [\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping at the top, got array"),
        ({"services": {"a": {}}}, "'services' must be a list, got object"),
        ({"cluster": 3, "services": []}, "'cluster' must be a string, got number"),
        ({"nodes": "node-1", "services": []}, "'nodes' must be a list, got string"),
    ],
)
def test_static_whole_document_problems(doc: Any, message: str) -> None:
    with pytest.raises(InvalidPayload) as err:
        from_static(doc)
    assert message in str(err.value)


# --- compose ----------------------------------------------------------------------------------


def test_compose_fixture() -> None:
    topo = from_compose((FIXTURES / "compose" / "sockshop-compose.yml").read_text(), cluster="local")
    assert topo.errors == []
    kinds = {e.name: e.kind for e in topo.entities if e.id.startswith("service:")}
    assert kinds["carts-db"] is EntityKind.DATABASE and kinds["orders-db"] is EntityKind.DATABASE
    assert kinds["catalogue-db"] is EntityKind.DATABASE
    assert kinds["session-db"] is EntityKind.CACHE and kinds["rabbitmq"] is EntityKind.QUEUE
    assert kinds["front-end"] is EntityKind.SERVICE
    sid = "service:local/sockshop/{}".format
    assert edges(topo, RelationKind.DEPENDS_ON) == {
        (sid("front-end"), sid("catalogue")),  # depends_on list
        (sid("front-end"), sid("carts")),
        (sid("front-end"), sid("session-db")),  # list + SESSION_REDIS_HOST
        (sid("catalogue"), sid("catalogue-db")),  # links with alias
        (sid("carts"), sid("carts-db")),  # depends_on map + mongodb:// URL
        (sid("orders"), sid("orders-db")),  # ORDERS_DB=orders-db:27017
        (sid("orders"), sid("shipping")),  # SHIPPING_ENDPOINT=http://shipping/shipping
        (sid("shipping"), sid("rabbitmq")),
        (sid("queue-master"), sid("rabbitmq")),
    }
    orders = next(e for e in topo.entities if e.name == "orders")
    assert orders.props["replicas"] == 2


def test_compose_bad_services_reported_good_ones_kept() -> None:
    doc = {
        "services": {
            "web": {"image": "nginx", "depends_on": ["api", "apii"]},
            "api": {"image": "python:3.11", "depends_on": {"db": {"condition": "service_healthy"}}},
            "db": {"image": 5},
            "worker": ["not", "a", "mapping"],
            "cron": {"environment": "A=B", "links": ["api"]},
            "jobs": {"depends_on": "api"},
        }
    }
    topo = from_compose(doc)
    assert sorted(str(e) for e in topo.errors) == [
        "services.api.depends_on.db: service 'db' is declared but invalid (see its own error)",
        "services.cron.environment: expected a mapping or a list of 'NAME=value', got string",
        "services.db.image: expected a string, got number",
        "services.jobs.depends_on: expected a list or a mapping, got string",
        "services.web.depends_on[1]: unknown service 'apii' (did you mean 'api'?)",
        "services.worker: expected a service mapping, got array",
    ]
    assert edges(topo, RelationKind.DEPENDS_ON) == {("service:web", "service:api")}
    with pytest.raises(InvalidPayload, match="'services' must be a mapping"):
        from_compose({"services": ["a"]})


def test_load_topology_file_picks_the_mapper(tmp_path: Path) -> None:
    static = tmp_path / "topo.yaml"
    static.write_text(STATIC)
    assert any(e.id == "service:sim/boutique/frontend" for e in load_topology_file(static).entities)
    compose = load_topology_file(FIXTURES / "compose" / "sockshop-compose.yml")
    assert any(e.id == "service:sockshop/carts" for e in compose.entities)
    k8s = load_topology_file(FIXTURES / "k8s" / "boutique_list.json", cluster="sim")
    assert any(e.id == "pod:sim/boutique/cartservice-6d4c8f7b9-q8w2n" for e in k8s.entities)
    other = tmp_path / "x.yaml"
    other.write_text("foo: bar\n")
    with pytest.raises(InvalidPayload, match="not a topology file"):
        load_topology_file(other)
