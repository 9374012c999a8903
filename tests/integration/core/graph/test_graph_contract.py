"""One GraphStore contract, run against every backend we can reach.

FalkorDB always runs (the session's real embedded server, one graph key per
test). Neo4j runs only when SHERLOG_GRAPH__URI points at a Neo4j server
(neo4j:// or bolt://, with SHERLOG_GRAPH__USER/PASSWORD); it wipes that database.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import InputError, NotFound
from core.graph import build_graph_store
from core.graph import dialect as d
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.graph.falkordb_store import FalkorDBGraphStore
from core.ports import GraphStore, PropValue
from core.settings import Settings


def _neo4j_store() -> GraphStore:
    settings = Settings()
    if settings.graph.backend != "neo4j":
        pytest.skip("Neo4j contract skipped: set SHERLOG_GRAPH__URI=neo4j://host:7687 (and user/password) to run it")
    return build_graph_store(settings)


@pytest.fixture(params=["falkordb", pytest.param("neo4j", marks=pytest.mark.external)])
def store(request: pytest.FixtureRequest, falkordb_server: EmbeddedFalkorDB) -> Iterator[GraphStore]:
    if request.param == "falkordb":
        s: GraphStore = FalkorDBGraphStore(
            falkordb_server.host, falkordb_server.port, f"contract_{uuid.uuid4().hex[:12]}", server=falkordb_server
        )
    else:
        s = _neo4j_store()
    s.delete_all()
    yield s
    s.delete_all()
    s.close()


def _services(n: int, **extra: PropValue) -> list[dict[str, PropValue]]:
    return [{"id": f"service:prod/shop/s{i}", "name": f"s{i}", **extra} for i in range(n)]


def test_store_satisfies_the_port(store: GraphStore) -> None:
    assert isinstance(store, GraphStore)
    assert store.backend in ("falkordb", "neo4j")


def test_upsert_is_idempotent(store: GraphStore) -> None:
    rows = _services(5, tier="web")
    assert store.upsert_nodes("Service", rows) == 5
    assert store.upsert_nodes("Service", rows) == 5
    assert store.count_nodes("Service") == 5
    assert store.count_nodes() == 5


def test_duplicate_ids_in_one_call_make_one_node(store: GraphStore) -> None:
    store.upsert_nodes("Service", [{"id": "service:a", "x": 1}, {"id": "service:a", "y": 2}])
    assert store.count_nodes("Service") == 1
    row = store.query("MATCH (n:Service {id: $id}) RETURN n.x AS x, n.y AS y", {"id": "service:a"})
    assert row == [{"x": 1, "y": 2}]


def test_property_updates_merge_and_none_removes(store: GraphStore) -> None:
    store.upsert_nodes("Service", [{"id": "service:a", "name": "a", "owner": "team-1", "replicas": 3}])
    store.upsert_nodes("Service", [{"id": "service:a", "replicas": 5, "owner": None, "tags": ["x", "y"]}])
    rows = store.query("MATCH (n:Service {id: 'service:a'}) RETURN n AS n")
    assert len(rows) == 1
    node = rows[0]["n"]
    assert node["_labels"] == ["Service"]
    assert node["name"] == "a"  # untouched keys stay
    assert node["replicas"] == 5  # given keys change
    assert "owner" not in node  # None removes
    assert node["tags"] == ["x", "y"]


def test_values_round_trip_exactly(store: GraphStore) -> None:
    tricky = 'quote " backslash \\ newline \n tab \t backtick ` brace } unicode ✓ 😀'
    row: dict[str, PropValue] = {
        "id": "service:weird/\"id'",
        "s": tricky,
        "i": -(2**63),
        "f": 0.1,
        "b": False,
        "fl": [1, 2.5],
        "e": "",
    }
    store.upsert_nodes("Service", [row])
    got = store.query(
        "MATCH (n:Service {id: $id}) RETURN n.s AS s, n.i AS i, n.f AS f, n.b AS b, n.fl AS fl, n.e AS e",
        {"id": row["id"]},
    )
    assert got == [{"s": tricky, "i": -(2**63), "f": 0.1, "b": False, "fl": [1.0, 2.5], "e": ""}]


def test_injection_attempts_are_stored_as_data(store: GraphStore) -> None:
    store.upsert_nodes("Service", _services(3))
    evil = "x'}) DETACH DELETE n //\" RETURN 1 //"
    store.upsert_nodes("Service", [{"id": evil, "name": evil}])
    assert store.count_nodes("Service") == 4
    assert store.query("MATCH (n:Service {id: $id}) RETURN n.name AS name", {"id": evil}) == [{"name": evil}]


def test_query_params_and_aliases(store: GraphStore) -> None:
    store.upsert_nodes("Service", _services(4))
    rows = store.query(
        "MATCH (n:Service) WHERE n.id IN $ids RETURN n.name AS name ORDER BY name",
        {"ids": ["service:prod/shop/s1", "service:prod/shop/s3", "service:nope"]},
    )
    assert rows == [{"name": "s1"}, {"name": "s3"}]
    assert store.query("RETURN $m.k AS k, size($l) AS n", {"m": {"k": "v"}, "l": [1, 2, 3]}) == [{"k": "v", "n": 3}]


def test_edges_merge_update_and_count(store: GraphStore) -> None:
    store.upsert_nodes("Service", _services(3))
    store.upsert_nodes("Database", [{"id": "database:orders", "name": "orders"}])
    calls: list[dict[str, Any]] = [
        {"src": "service:prod/shop/s0", "dst": "service:prod/shop/s1", "props": {"rps": 10}},
        {"src": "service:prod/shop/s1", "dst": "service:prod/shop/s2"},
    ]
    assert store.upsert_edges("CALLS", calls, src_label="Service", dst_label="Service") == 2
    calls[0]["props"] = {"rps": 20}
    assert store.upsert_edges("CALLS", calls, src_label="Service", dst_label="Service") == 2
    # without labels the ends are found in any label
    assert store.upsert_edges("DEPENDS_ON", [{"src": "service:prod/shop/s2", "dst": "database:orders"}]) == 1
    assert store.count_edges("CALLS") == 2
    assert store.count_edges("DEPENDS_ON") == 1
    assert store.count_edges() == 3
    rps = store.query("MATCH (:Service {id: 'service:prod/shop/s0'})-[r:CALLS]->() RETURN r.rps AS rps, r AS r")
    assert rps[0]["rps"] == 20
    assert rps[0]["r"]["_type"] == "CALLS"


def test_edge_to_missing_node_is_reported_not_dropped(store: GraphStore) -> None:
    store.upsert_nodes("Service", _services(2))
    rows = [
        {"src": "service:prod/shop/s0", "dst": "service:prod/shop/s1"},
        {"src": "service:prod/shop/s0", "dst": "service:ghost"},
    ]
    with pytest.raises(NotFound, match="service:ghost"):
        store.upsert_edges("CALLS", rows, src_label="Service", dst_label="Service")
    # the edge whose ends exist was written; re-running after adding the node completes the set
    assert store.count_edges("CALLS") == 1
    store.upsert_nodes("Service", [{"id": "service:ghost"}])
    assert store.upsert_edges("CALLS", rows, src_label="Service", dst_label="Service") == 2
    assert store.count_edges("CALLS") == 2


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"nested": 1}, "map"),
        ([{"a": 1}], "is a map"),
        ([1, "a"], "mixes types"),
        ([[1, 2]], "unsupported type list"),
        ([1, None], "null"),
        (math.nan, "not finite"),
        (2**70, "64 bits"),
        (datetime(2024, 1, 1, tzinfo=UTC), "unsupported type datetime"),
        ("nul\x00byte", "NUL"),
    ],
)
def test_bad_property_values_are_rejected_by_key(store: GraphStore, value: object, needle: str) -> None:
    # the bad row comes last in a batch larger than one chunk: nothing may be written
    rows = [*_services(1500), {"id": "service:bad", "attrs": value}]
    with pytest.raises(InputError, match=needle) as exc:
        store.upsert_nodes("Service", rows)  # type: ignore[arg-type]
    assert "'attrs'" in str(exc.value)
    assert "service:bad" in str(exc.value)
    assert store.count_nodes() == 0


def test_encoded_props_are_storable(store: GraphStore) -> None:
    attrs = {"labels": {"app": "shop"}, "n": 1, "events": [{"a": 1}]}
    store.upsert_nodes("Service", [{"id": "service:a", **d.encode_props(attrs)}])
    got = store.query("MATCH (n:Service) RETURN n.labels AS labels, n.n AS n, n.events AS events")
    assert got == [{"labels": '{"app": "shop"}', "n": 1, "events": '[{"a": 1}]'}]


@pytest.mark.parametrize("label", ["Bad Label", "x`) DETACH DELETE n //", "", "1st", "Service:Pod"])
def test_bad_labels_and_types_are_rejected(store: GraphStore, label: str) -> None:
    with pytest.raises(InputError, match="invalid graph label"):
        store.upsert_nodes(label, [{"id": "a"}])
    with pytest.raises(InputError, match="invalid graph relationship type"):
        store.upsert_edges(label, [{"src": "a", "dst": "b"}])
    with pytest.raises(InputError, match="invalid graph label"):
        store.count_nodes(label)
    with pytest.raises(InputError, match="property key"):
        store.upsert_nodes("Service", [{"id": "a", label or "-": 1}])
    assert store.count_nodes() == 0


def test_bad_rows_are_rejected(store: GraphStore) -> None:
    with pytest.raises(InputError, match="'id' must be a non-empty string"):
        store.upsert_nodes("Service", [{"name": "no id"}])
    with pytest.raises(InputError, match="unknown key"):
        store.upsert_edges("CALLS", [{"src": "a", "dst": "b", "rps": 3}])
    with pytest.raises(InputError, match="'dst'"):
        store.upsert_edges("CALLS", [{"src": "a"}])
    with pytest.raises(InputError, match="unsupported type datetime"):
        store.query("RETURN $t AS t", {"t": datetime.now(UTC)})


def test_delete_all(store: GraphStore) -> None:
    store.upsert_nodes("Service", _services(30))
    store.upsert_edges(
        "CALLS", [{"src": f"service:prod/shop/s{i}", "dst": f"service:prod/shop/s{i + 1}"} for i in range(29)]
    )
    store.delete_all()
    assert store.count_nodes() == 0
    assert store.count_edges() == 0
    assert store.upsert_nodes("Service", _services(1)) == 1


def test_status_counts_per_label(store: GraphStore) -> None:
    store.ensure_schema()
    store.ensure_schema()  # idempotent
    store.upsert_nodes("Service", _services(3))
    store.upsert_nodes("Pod", [{"id": "pod:a"}])
    st = store.status()
    assert st.running
    assert st.backend == store.backend
    assert st.counts == {"Service": 3, "Pod": 1}


def test_shortest_path_in_return(store: GraphStore) -> None:
    # s0 -> s1 -> s2 -> s3, plus a shortcut s0 -> s2
    store.upsert_nodes("Service", _services(4))
    chain = [(0, 1), (1, 2), (2, 3), (0, 2)]
    store.upsert_edges(
        "CALLS",
        [{"src": f"service:prod/shop/s{a}", "dst": f"service:prod/shop/s{b}"} for a, b in chain],
        src_label="Service",
        dst_label="Service",
    )
    rows = store.query(
        "MATCH (a:Service {id: $a}), (b:Service {id: $b}) "
        "WITH shortestPath((a)-[:CALLS*]->(b)) AS p "
        "RETURN [n IN nodes(p) | n.id] AS ids, length(p) AS hops",
        {"a": "service:prod/shop/s0", "b": "service:prod/shop/s3"},
    )
    assert rows == [{"ids": ["service:prod/shop/s0", "service:prod/shop/s2", "service:prod/shop/s3"], "hops": 2}]
    paths = store.query(
        "MATCH (a:Service {id: $a}), (b:Service {id: $b}) RETURN shortestPath((a)-[:CALLS*]->(b)) AS p",
        {"a": "service:prod/shop/s1", "b": "service:prod/shop/s3"},
    )
    p = paths[0]["p"]
    assert [n["name"] for n in p["nodes"]] == ["s1", "s2", "s3"]
    assert [r["_type"] for r in p["rels"]] == ["CALLS", "CALLS"]


def test_dialect_vector_and_fulltext_indexes(store: GraphStore) -> None:
    b = store.backend
    ddl = [d.vector_index_ddl(b, "Doc", "embedding", 3), d.fulltext_index_ddl(b, "Doc", ["text"])]
    store.run_schema(ddl)  # type: ignore[attr-defined]
    store.run_schema(ddl)  # type: ignore[attr-defined]  # twice: DDL is idempotent through run_schema
    docs = [
        {"id": "d1", "text": "checkout service timeout errors", "vec": [1.0, 0.0, 0.0]},
        {"id": "d2", "text": "database connection pool exhausted", "vec": [0.0, 1.0, 0.0]},
        {"id": "d3", "text": "unrelated", "vec": [-1.0, 0.0, 0.0]},
    ]
    store.query(
        f"UNWIND $rows AS row MERGE (n:Doc {{id: row.id}}) SET n.text = row.text, "
        f"n.embedding = {d.vector_value(b, 'row.vec')}",
        {"rows": docs},
    )
    wait = d.await_indexes_statement(b)
    if wait:
        store.query(wait)
    hits = store.query(
        d.vector_query(b, "Doc", "embedding") + " RETURN node.id AS id, score ORDER BY score DESC",
        {"k": 3, "vector": [0.9, 0.1, 0.0]},
    )
    assert [h["id"] for h in hits] == ["d1", "d2", "d3"]
    assert all(0.0 <= h["score"] <= 1.0 for h in hits)
    assert hits[0]["score"] > 0.95 and hits[-1]["score"] < 0.05
    text = d.fulltext_text(b, "Why is the (database) pool exhausted?! -- AND OR NOT")
    found = store.query(d.fulltext_query(b, "Doc") + " RETURN node.id AS id, score", {"q": text})
    assert [f["id"] for f in found] == ["d2"]
