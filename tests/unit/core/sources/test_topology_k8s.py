"""Kubernetes `kubectl get ... -o json` mapping: topology, events, rollouts, bad items."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidPayload
from core.model import EntityKind, EventKind, RelationKind, Severity
from core.sources.common import Topology
from core.sources.topology import from_kubernetes, rollout_changes
from core.sources.topology_common import guess_kind, host_refs

LIST_FILE = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "k8s" / "boutique_list.json"


def k8s_list() -> dict[str, Any]:
    return json.loads(LIST_FILE.read_text())


def edges(topo: Topology, kind: RelationKind) -> set[tuple[str, str]]:
    return {(r.src, r.dst) for r in topo.relations if r.kind is kind}


S = "service:sim/boutique/{}".format


def test_fixture_maps_to_the_expected_graph() -> None:
    topo = from_kubernetes(k8s_list(), cluster="sim")
    assert topo.errors == [] and topo.warnings == []
    by_id = {e.id: e for e in topo.entities}
    assert by_id[S("redis-cart")].kind is EntityKind.CACHE, "kind guessed from the selected pods' image"
    assert by_id[S("cartservice")].props["replicas"] == 1
    assert by_id[S("cartservice")].props["ports"] == ["7070/TCP"]
    assert S("loadgenerator") in by_id, "a Deployment without a Service is still a workload"
    pod = by_id["pod:sim/boutique/cartservice-6d4c8f7b9-q8w2n"]
    assert pod.props["service"] == "cartservice" and pod.props["node"] == "node-2"
    assert pod.props["restarts"] == 6 and pod.props["waiting_reason"] == "CrashLoopBackOff"
    assert pod.props["ready"] is False
    node2 = by_id["node:sim/node-2"]
    assert node2.props["internal_ip"] == "10.128.0.12" and node2.props["ready"] is True
    dep = by_id["deployment:sim/boutique/frontend"]
    assert dep.props["revision"] == 3 and str(dep.props["image"]).endswith("frontend:v0.10.0")

    assert edges(topo, RelationKind.DEPENDS_ON) == {
        (S("frontend"), S("cartservice")),  # cartservice:7070
        (S("frontend"), S("checkoutservice")),  # checkoutservice.boutique.svc.cluster.local:5050
        (S("cartservice"), S("redis-cart")),  # redis-cart:6379
        (S("checkoutservice"), S("cartservice")),  # http://cartservice:7070
        (S("loadgenerator"), S("frontend")),  # frontend:80
    }
    runs_on = edges(topo, RelationKind.RUNS_ON)
    assert ("pod:sim/boutique/cartservice-6d4c8f7b9-q8w2n", "node:sim/node-2") in runs_on
    assert (S("cartservice"), "node:sim/node-2") in runs_on
    part_of = edges(topo, RelationKind.PART_OF)
    assert ("pod:sim/boutique/frontend-7d8f9c6b5d-x2k4p", S("frontend")) in part_of
    assert ("deployment:sim/boutique/cartservice", S("cartservice")) in part_of
    assert (S("frontend"), "namespace:sim/boutique") in part_of
    assert ("namespace:sim/boutique", "cluster:sim") in part_of
    assert len(topo.relations) == len({(r.src, r.dst, r.kind) for r in topo.relations}), "no duplicate edges"


def test_k8s_events_become_events() -> None:
    topo = from_kubernetes(k8s_list(), cluster="sim")
    by_reason = {e.attributes["reason"]: e for e in topo.events}
    assert set(by_reason) == {"BackOff", "Unhealthy", "ScalingReplicaSet", "Pulled", "NodeHasInsufficientMemory"}
    backoff = by_reason["BackOff"]
    assert backoff.kind is EventKind.K8S_EVENT and backoff.severity is Severity.WARNING
    assert backoff.entity.pod == "cartservice-6d4c8f7b9-q8w2n" and backoff.entity.service == "cartservice"
    assert backoff.entity.node == "node-2"
    assert backoff.ts.isoformat() == "2024-05-14T10:10:07+00:00"
    a = backoff.attributes
    assert a["count"] == 14 and a["type"] == "Warning"
    assert a["first_timestamp"] == "2024-05-14T10:03:02+00:00" and a["last_timestamp"] == "2024-05-14T10:10:07+00:00"
    assert a["involved_object"]["kind"] == "Pod" and a["involved_object"]["fieldPath"] == "spec.containers{server}"
    assert a["source_component"] == "kubelet"
    assert backoff.body.startswith("BackOff: Back-off restarting failed container server")
    node_ev = by_reason["NodeHasInsufficientMemory"]
    assert node_ev.entity.primary_id() == "node:sim/node-2"
    # a recurrence (count goes up) is a new event; a re-dump of the same state is a duplicate
    again = from_kubernetes(k8s_list(), cluster="sim").events[0]
    assert again.dedup_key() == topo.events[0].dedup_key()
    bumped = k8s_list()
    ev_item = next(i for i in bumped["items"] if i["kind"] == "Event")
    ev_item["count"] = 15
    assert from_kubernetes(bumped, cluster="sim").events[0].dedup_key() != topo.events[0].dedup_key()


def test_rollouts_from_replicaset_revisions() -> None:
    batch = rollout_changes(k8s_list(), cluster="sim")
    assert batch.errors == []
    by_key = {(e.attributes["deployment"], e.attributes["revision"]): e for e in batch.events}
    cart2 = by_key[("cartservice", 2)]
    assert cart2.kind is EventKind.CHANGE and cart2.attributes["change_type"] == "deploy"
    assert cart2.attributes["version"].endswith("cartservice:v0.10.1")
    assert cart2.attributes["previous_version"].endswith("cartservice:v0.10.0")
    assert cart2.entity.primary_id() == S("cartservice")
    assert cart2.ts.isoformat() == "2024-05-14T10:02:13+00:00"
    checkout2 = by_key[("checkoutservice", 2)]
    assert checkout2.attributes["change_type"] == "config", "same image, new pod template (env)"
    frontend3 = by_key[("frontend", 3)]
    assert frontend3.attributes["change_type"] == "rollback" and frontend3.severity is Severity.WARNING
    # the re-activated ReplicaSet was created long ago: the rollout time comes from the scale-up event
    assert frontend3.ts.isoformat() == "2024-05-14T09:58:41+00:00" and frontend3.attributes["ts_source"] == "event"
    assert by_key[("frontend", 2)].attributes["version"].endswith("frontend:v0.10.1-rc1")
    assert by_key[("redis-cart", 1)].attributes["previous_version"] is None
    assert len(batch.events) == 8
    assert len({e.ingest_id for e in batch.events}) == 8


def test_bad_items_are_reported_by_path_and_the_rest_is_mapped() -> None:
    doc = k8s_list()
    items = doc["items"]
    items[0]["spec"]["containers"] = "server"  # frontend pod
    items[1]["metadata"]["labels"] = ["app", "cartservice"]  # cartservice pod
    items[2]["spec"] = "redis"  # redis-cart pod
    items.append({"kind": "Pod"})
    items.append("not an object")
    items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "boutique"}})
    items.append(
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "boutique"}, "reason": "X"}
    )
    items.append({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e2"}, "lastTimestamp": "soon"})
    n = len(items)
    topo = from_kubernetes(doc, cluster="sim")
    assert [(e.index, str(e)) for e in topo.errors] == [
        (0, "items[0].spec.containers: expected an array, got string"),
        (1, "items[1].metadata.labels: expected an object, got array"),
        (2, "items[2].spec: expected an object, got string"),
        (n - 5, f"items[{n - 5}].metadata.name: is required"),
        (n - 4, f"items[{n - 4}]: expected a Kubernetes object, got string"),
        (n - 2, f"items[{n - 2}].lastTimestamp: the event has no timestamp (lastTimestamp/eventTime/firstTimestamp)"),
        (n - 1, f"items[{n - 1}].lastTimestamp: not an RFC 3339 timestamp: 'soon'"),
    ]
    assert [str(w) for w in topo.warnings] == [f"items[{n - 3}]: kind ConfigMap is not mapped (ignored)"]
    ids = {e.id for e in topo.entities}
    assert "pod:sim/boutique/checkoutservice-7c9d6b5f4-h5j6k" in ids
    assert "pod:sim/boutique/frontend-7d8f9c6b5d-x2k4p" not in ids
    assert "pod:sim/boutique/redis-cart-5c8d9f6b7-m4n7z" not in ids
    assert len(topo.events) == 6


def test_missing_revision_annotation_is_a_rollout_error() -> None:
    doc = k8s_list()
    rs = next(i for i in doc["items"] if i["kind"] == "ReplicaSet" and i["metadata"]["name"] == "cartservice-5b9f7d8c4")
    del rs["metadata"]["annotations"]
    batch = rollout_changes(doc, cluster="sim")
    assert [str(e) for e in batch.errors] == [
        f"items[{doc['items'].index(rs)}].metadata.annotations: missing or bad 'deployment.kubernetes.io/revision'"
    ]
    assert len(batch.events) == 7


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b'{"apiVersion": "v1", "items": [{"kind": "Po', "truncated JSON"),
        (b"\x1f\x8b\x08\x00\x00", "not UTF-8"),
        ({"kind": "List", "items": {}}, "'items' must be an array, got object"),
        (7, "expected a v1 List or an array of objects, got number"),
    ],
)
def test_whole_document_problems(doc: Any, message: str) -> None:
    with pytest.raises(InvalidPayload) as err:
        from_kubernetes(doc)
    assert message in str(err.value)


def test_a_bare_array_and_no_cluster() -> None:
    topo = from_kubernetes(copy.deepcopy(k8s_list()["items"]))
    assert "service:boutique/cartservice" in {e.id for e in topo.entities}
    assert not any(e.kind is EntityKind.CLUSTER for e in topo.entities)


@pytest.mark.parametrize(
    ("var", "value", "refs"),
    [
        ("CART_ADDR", "cart.boutique.svc:7070", [("cart", "boutique")]),
        ("X", "cart.boutique.svc.cluster.local:7070", [("cart", "boutique")]),
        ("UPSTREAM", "http://cart:7070/api", [("cart", None)]),
        ("DB_URL", "postgres://user:pw@orders-db:5432/orders", [("orders-db", None)]),
        ("REDIS_HOST", "redis-cart", [("redis-cart", None)]),
        ("BROKERS", "kafka-0:9092,kafka-1:9092", [("kafka-0", None), ("kafka-1", None)]),
        ("LOG_LEVEL", "info", []),  # bare word, not an address variable
        ("ENABLE_PROFILER", "0", []),
        ("API", "https://api.example.com/v1", []),  # outside the cluster
        ("PEER", "10.0.0.7:8080", []),  # an IP names no service
    ],
)
def test_host_refs_in_env_values(var: str, value: str, refs: list[tuple[str, str | None]]) -> None:
    assert [(r.name, r.namespace) for r in host_refs(var, value)] == refs


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("postgres:16", EntityKind.DATABASE),
        ("docker.io/bitnami/postgresql:15@sha256:abc", EntityKind.DATABASE),
        ("mongo:3.4", EntityKind.DATABASE),
        ("redis:alpine", EntityKind.CACHE),
        ("memcached", EntityKind.CACHE),
        ("confluentinc/cp-kafka:7.6.0", EntityKind.SERVICE),  # cp-kafka: not a prefix match
        ("bitnami/kafka:3.7", EntityKind.QUEUE),
        ("nats:2.10", EntityKind.QUEUE),
        ("rabbitmq:3-management", EntityKind.QUEUE),
        ("registry.local:5000/shop/cart:v1", EntityKind.SERVICE),
    ],
)
def test_guess_kind(image: str, kind: EntityKind) -> None:
    assert guess_kind([image]) is kind


def test_events_k8s_io_v1_shape() -> None:
    doc = k8s_list()
    doc["items"].append(
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "cartservice.17cf", "namespace": "boutique", "uid": "ev-new-api"},
            "eventTime": "2024-05-14T10:11:00.123456Z",
            "reason": "Killing",
            "note": "Stopping container server",
            "type": "Normal",
            "regarding": {"kind": "Pod", "name": "cartservice-6d4c8f7b9-q8w2n", "namespace": "boutique"},
            "series": {"count": 4, "lastObservedTime": "2024-05-14T10:11:00.123456Z"},
            "reportingController": "kubelet",
        }
    )
    ev = next(e for e in from_kubernetes(doc, cluster="sim").events if e.attributes["reason"] == "Killing")
    assert ev.body == "Killing: Stopping container server"
    assert ev.attributes["count"] == 4 and ev.entity.service == "cartservice"
    assert ev.ts.isoformat() == "2024-05-14T10:11:00.123456+00:00"
    assert ev.attributes["source_component"] == "kubelet"
