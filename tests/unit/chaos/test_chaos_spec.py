"""Environment spec: the boutique environment, its topology, and validation errors that name the problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.spec import (
    EnvironmentSpec,
    environment_path,
    list_environments,
    load_environment,
    topology_path,
    write_topology,
)
from core.errors import InvalidPayload, NotFound

REQUIRED = {
    "frontend", "checkout", "payments", "cart", "catalog", "shipping", "currency",
    "email", "recommendation", "ad", "auth", "search",
}  # fmt: skip


def _raw() -> dict[str, Any]:
    return yaml.safe_load(environment_path("boutique").read_text())


def _service(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in data["services"] if s["name"] == name)


def test_boutique_has_the_required_services_infrastructure_and_nodes(boutique: EnvironmentSpec) -> None:
    services = [s for s in boutique.services if s.kind == "Service"]
    assert len(services) >= 12
    assert {s.name for s in services} >= REQUIRED
    kinds = {s.name: s.kind for s in boutique.services}
    assert kinds["orders-db"] == "Database"
    assert kinds["redis-cart"] == "Cache"
    assert kinds["order-queue"] == "Queue"
    assert [n.name for n in boutique.nodes] == ["node-1", "node-2", "node-3"]
    # several log formats, as real fleets have
    assert {"json", "logfmt", "plain", "postgres", "redis", "rabbitmq"} <= {s.log_format for s in boutique.services}


def test_topology_is_in_the_static_format_and_matches_the_spec(boutique: EnvironmentSpec) -> None:
    topo = boutique.topology()
    assert set(topo) == {"cluster", "namespace", "nodes", "services"}
    assert topo["cluster"] == "sim" and topo["namespace"] == "boutique"
    assert topo["nodes"] == [{"name": "node-1"}, {"name": "node-2"}, {"name": "node-3"}]
    by_name = {s["name"]: s for s in topo["services"]}
    assert by_name["checkout"]["depends_on"] == [
        "cart",
        "payments",
        "shipping",
        "currency",
        "catalog",
        "orders-db",
        "order-queue",
    ]
    assert by_name["orders-db"] == {"name": "orders-db", "kind": "Database", "runs_on": ["node-3"], "replicas": 1}
    for item in topo["services"]:
        assert set(item) <= {"name", "kind", "depends_on", "runs_on", "replicas"}
        assert item["kind"] in {"Service", "Database", "Cache", "Queue"}


def test_the_committed_topology_file_is_in_sync(boutique: EnvironmentSpec, tmp_path: Path) -> None:
    committed = yaml.safe_load(topology_path("boutique").read_text())
    assert committed == boutique.topology()
    written = write_topology(boutique, tmp_path / "t.yaml")
    assert yaml.safe_load(written.read_text()) == committed
    assert "boutique.topology" not in list_environments()


def test_graph_helpers(boutique: EnvironmentSpec) -> None:
    assert set(boutique.callers("orders-db")) == {"checkout", "auth"}
    assert boutique.ancestors("orders-db") == {"checkout": 1, "auth": 1, "frontend": 2}
    assert "redis-cart" in boutique.descendants("frontend")
    order = boutique.topo_order()
    assert order.index("orders-db") < order.index("checkout") < order.index("frontend")
    assert boutique.entity_id("orders-db") == "database:sim/boutique/orders-db"
    assert boutique.entity_id("node-3") == "node:sim/node-3"
    assert boutique.entity_kind("node-3") == "Node"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: _service(d, "checkout")["depends_on"].append("paymnts"), "depends on unknown service 'paymnts'"),
        (lambda d: _service(d, "catalog").update(depends_on=["search"]), "dependency cycle: "),
        (lambda d: _service(d, "ad").update(runs_on=["node-9"]), "runs on unknown node 'node-9'"),
        (lambda d: _service(d, "ad").update(depends_on=["ad"]), "service 'ad' depends on itself"),
        (lambda d: d["services"].append(copy.deepcopy(_service(d, "ad"))), "service 'ad' is defined more than once"),
        (lambda d: d["nodes"].append({"name": "node-1"}), "node 'node-1' is defined more than once"),
        (
            lambda d: _service(d, "email").update(depends_on=[]),
            "consumer 'email' must list 'order-queue' in depends_on",
        ),
        (lambda d: _service(d, "ad").update(log_format="xml"), "unknown log_format 'xml'"),
        (
            lambda d: _service(d, "ad")["logs"].append({"text": "served {adz}"}),
            "unknown placeholder(s) {adz}",
        ),
        (lambda d: _service(d, "ad").update(db={"max_connections": 100}), "'db:' is only allowed on kind Database"),
        (lambda d: d.update(entrypoint="storefront"), "entrypoint 'storefront' is not a service"),
        (lambda d: _service(d, "ad").update(latency_ms={"p50": 50, "p99": 10}), "p99 (10.0) must be >= p50 (50.0)"),
        (lambda d: _service(d, "ad").update(replicas=0), "replicas"),
        (lambda d: _service(d, "ad").update(colour="blue"), "colour"),
    ],
)
def test_validation_errors_name_the_problem(mutate: Any, expected: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(InvalidPayload) as exc:
        EnvironmentSpec.parse(data, source="test-env")
    assert expected in str(exc.value)
    assert "test-env" in str(exc.value)


def test_a_cycle_is_reported_as_a_path() -> None:
    data = _raw()
    _service(data, "catalog")["depends_on"] = ["search"]
    with pytest.raises(InvalidPayload) as exc:
        EnvironmentSpec.parse(data)
    msg = str(exc.value)
    assert "catalog -> search -> catalog" in msg or "search -> catalog -> search" in msg


def test_bare_dependency_names_get_the_default_weight() -> None:
    data = _raw()
    _service(data, "search")["depends_on"] = ["catalog"]
    env = EnvironmentSpec.parse(data)
    assert env.service("search").depends_on[0].weight == 0.5


def test_loading_unknown_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as exc:
        load_environment("no-such-env")
    assert "boutique" in str(exc.value)  # the hint lists what exists
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [unclosed\n")
    with pytest.raises(InvalidPayload, match="not valid YAML"):
        load_environment(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(InvalidPayload, match="expected a mapping"):
        load_environment(scalar)


def test_lookups_raise_not_found_with_the_known_names(boutique: EnvironmentSpec) -> None:
    with pytest.raises(NotFound) as exc:
        boutique.service("basket")
    assert "checkout" in str(exc.value)
    with pytest.raises(NotFound):
        boutique.node("node-7")
