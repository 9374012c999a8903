"""The dialect table and the write rules, without a server. (The FalkorDB statements
are also run against the real server in tests/integration/core/graph.)"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from core.errors import InputError, NotFound
from core.graph import dialect as d

BACKENDS = ["falkordb", "neo4j"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", ["", "a b", "x`) DETACH DELETE n //", "9lives", "Svc:Pod", "é", "a" * 129, None, 3])
def test_identifiers_never_reach_cypher_unchecked(backend: str, bad: object) -> None:
    for build in (
        lambda: d.node_id_index_ddl(backend, bad),  # type: ignore[arg-type]
        lambda: d.node_id_index_ddl(backend, "Service", bad),  # type: ignore[arg-type]
        lambda: d.fulltext_index_ddl(backend, "Doc", [bad]),  # type: ignore[list-item]
        lambda: d.fulltext_query(backend, bad),  # type: ignore[arg-type]
        lambda: d.vector_index_ddl(backend, "Doc", bad, 8),  # type: ignore[arg-type]
        lambda: d.vector_query(backend, bad, "embedding"),  # type: ignore[arg-type]
        lambda: d.vector_query(backend, "Doc", "embedding", k_param=bad),  # type: ignore[arg-type]
        lambda: d.upsert_nodes_cypher(bad),  # type: ignore[arg-type]
        lambda: d.upsert_edges_cypher(bad, None, None),  # type: ignore[arg-type]
        # None means "any label/type" for edge ends and counts, so only real values are bad there
        lambda: d.upsert_edges_cypher("CALLS", "Service", bad if bad is not None else ""),  # type: ignore[arg-type]
        lambda: d.count_edges_cypher(bad if bad is not None else ""),  # type: ignore[arg-type]
        lambda: d.count_nodes_cypher(bad if bad is not None else ""),  # type: ignore[arg-type]
    ):
        with pytest.raises(InputError, match="invalid graph"):
            build()


def test_unknown_backend_is_named() -> None:
    with pytest.raises(InputError, match="unknown graph backend 'oracle'"):
        d.vector_index_ddl("oracle", "Doc", "embedding", 8)


@pytest.mark.parametrize("dim", [0, -1, 5000, 1.5, True, "384"])
def test_vector_dimension_is_validated(dim: object) -> None:
    with pytest.raises(InputError, match="vector dimension"):
        d.vector_index_ddl("falkordb", "Doc", "embedding", dim)  # type: ignore[arg-type]


def test_neo4j_ddl_is_idempotent_and_named() -> None:
    # no Neo4j server here: check the statements carry IF NOT EXISTS and the names the queries use
    for stmt in (
        d.node_id_index_ddl("neo4j", "Service"),
        d.fulltext_index_ddl("neo4j", "Doc", ["text", "title"]),
        d.vector_index_ddl("neo4j", "Doc", "embedding", 384),
    ):
        assert "IF NOT EXISTS" in stmt
    assert "ft_Doc" in d.fulltext_index_ddl("neo4j", "Doc", ["text"]) and "ft_Doc" in d.fulltext_query("neo4j", "Doc")
    assert "vec_Doc_embedding" in d.vector_index_ddl("neo4j", "Doc", "embedding", 3)
    assert "vec_Doc_embedding" in d.vector_query("neo4j", "Doc", "embedding")
    assert "384" in d.vector_index_ddl("neo4j", "Doc", "embedding", 384)


@pytest.mark.parametrize("backend", BACKENDS)
def test_query_fragments_bind_node_and_score(backend: str) -> None:
    for frag in (d.vector_query(backend, "Doc", "embedding"), d.fulltext_query(backend, "Doc")):
        assert frag.rstrip().endswith("score")
        assert "node" in frag
    assert "$k" in d.vector_query(backend, "Doc", "embedding") and "$vector" in d.vector_query(backend, "Doc", "e")
    assert "$needle" in d.fulltext_query(backend, "Doc", text_param="needle")


def test_fulltext_text_keeps_only_words() -> None:
    text = 'Why is "checkout" (db-1) FAILING?! OR NOT* ~x^2 checkout'
    fk = d.fulltext_text("falkordb", text)
    assert fk == "why|is|checkout|db|1|failing|or|not|x|2"
    assert d.fulltext_text("neo4j", text) == fk.replace("|", " OR ")
    assert d.fulltext_text("falkordb", "?!- ()") == ""
    assert len(d.fulltext_text("falkordb", " ".join(f"w{i}" for i in range(100))).split("|")) == 32


def test_index_exists_errors_are_recognised() -> None:
    assert d.is_index_exists_error("Attribute 'id' is already indexed")
    assert d.is_index_exists_error("An equivalent index already exists, 'Index( id=4 )'")
    assert not d.is_index_exists_error("Invalid input 'CREAT'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s", "s"),
        (1, 1),
        (1.5, 1.5),
        (True, True),
        (None, None),
        ([], []),
        (["a", "b"], ["a", "b"]),
        ((1, 2), [1, 2]),
        ([1, 2.5], [1.0, 2.5]),
        ([True, False], [True, False]),
        (np.float32(0.5), 0.5),
        (np.int64(7), 7),
    ],
)
def test_valid_values(value: object, expected: object) -> None:
    got = d.check_value("k", value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"a": 1}, "is a map"),
        ([{"a": 1}], "is a map"),
        ([[1]], "unsupported type list"),
        ([1, "a"], "mixes types"),
        ([True, 1], "mixes types"),
        ([None], "null"),
        (math.inf, "not finite"),
        (-(2**63) - 1, "64 bits"),
        (datetime(2024, 1, 1, tzinfo=UTC), "unsupported type datetime"),
        ({1, 2}, "unsupported type set"),
        (b"x", "unsupported type bytes"),
        ("a\x00b", "NUL"),
    ],
)
def test_invalid_values_name_the_key(value: object, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as exc:
        d.check_props("Service 'svc:a'", {"attrs": value})
    assert "Service 'svc:a' property 'attrs'" in str(exc.value)
    assert exc.value.hint and "JSON" in exc.value.hint


def test_encode_props_keeps_valid_values_and_encodes_the_rest() -> None:
    enc = d.encode_props({"a": 1, "m": {"x": [1, 2]}, "l": ["p", "q"], "lm": [{"k": 1}], "t": datetime(2024, 1, 1)})
    assert enc["a"] == 1 and enc["l"] == ["p", "q"]
    assert json.loads(enc["m"]) == {"x": [1, 2]}  # type: ignore[arg-type]
    assert json.loads(enc["lm"]) == [{"k": 1}]  # type: ignore[arg-type]
    assert enc["t"] == '"2024-01-01 00:00:00"'
    d.check_props("x", enc)  # everything encoded is storable


def test_node_rows() -> None:
    rows = d.node_rows("Service", [{"id": "svc:a", "n": 1}, {"id": "svc:b"}])
    assert rows == [{"id": "svc:a", "props": {"n": 1}}, {"id": "svc:b", "props": {}}]
    for bad in ({"name": "x"}, {"id": ""}, {"id": "  "}, {"id": 5}, "svc:a"):
        with pytest.raises(InputError, match="Service row 0"):
            d.node_rows("Service", [bad])  # type: ignore[list-item]
    with pytest.raises(InputError, match="property key"):
        d.node_rows("Service", [{"id": "a", "bad key": 1}])


def test_edge_rows() -> None:
    assert d.edge_rows("CALLS", [{"src": "a", "dst": "b"}]) == [{"src": "a", "dst": "b", "props": {}}]
    with pytest.raises(InputError, match="unknown key\\(s\\) 'weight'"):
        d.edge_rows("CALLS", [{"src": "a", "dst": "b", "weight": 2}])
    with pytest.raises(InputError, match="'src'"):
        d.edge_rows("CALLS", [{"dst": "b"}])
    with pytest.raises(InputError, match="CALLS edge a->b property 'm'"):
        d.edge_rows("CALLS", [{"src": "a", "dst": "b", "props": {"m": {"x": 1}}}])


def test_check_params() -> None:
    ok = {"rows": [{"id": "a", "props": {"x": [1, 2.5], "y": None}}], "k": 3, "t": "x"}
    assert d.check_params(ok) == ok
    assert d.check_params(None) == {}
    for params, needle in (
        ({"bad name": 1}, "parameter name"),
        ({"t": datetime.now(UTC)}, "unsupported type datetime"),
        ({"x": [math.nan]}, r"\$x\[0\]: number nan is not finite"),
        ({"m": {"a`b": 1}}, "backticks"),
        ({"s": "a\x00"}, "NUL"),
        ({"i": 2**64}, "64 bits"),
    ):
        with pytest.raises(InputError, match=needle):
            d.check_params(params)


def test_missing_endpoints_error_lists_a_few() -> None:
    err = d.missing_endpoints_error("CALLS", [f"Service 's{i}'" for i in range(15)], 3, 20)
    assert isinstance(err, NotFound)
    assert "Service 's9'" in str(err) and "Service 's10'" not in str(err) and "and 5 more" in str(err)
    assert "3 of 20" in str(err)
