"""What only the embedded FalkorDB vector store does: its index DDL, adopting an existing
index, the factory's separate graph, and wrapping server errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis
from falkordb import FalkorDB

from core.errors import BackendError, ConfigError
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.ports import VectorDoc
from core.settings import Settings
from core.vector import build_vector_store
from core.vector.falkordb_vector import DEFAULT_EF_RUNTIME, DEFAULT_M, FalkorDBVectorStore

DIM = 32


def unit(v: np.ndarray) -> list[float]:
    return (v / np.linalg.norm(v)).tolist()


@pytest.fixture
def graph_name(falkordb_server: EmbeddedFalkorDB) -> Iterator[str]:
    name = f"fvec_{uuid.uuid4().hex[:12]}"
    yield name
    db = FalkorDB(host="127.0.0.1", port=falkordb_server.port)
    if name in db.list_graphs():
        db.select_graph(name).delete()
    db.close()


def indexes(port: int, graph: str) -> dict[str, object]:
    db = FalkorDB(host="127.0.0.1", port=port)
    rows = db.select_graph(graph).ro_query("CALL db.indexes() YIELD label, types, options RETURN label, types, options")
    db.close()
    return {"types": rows.result_set[0][1], "options": rows.result_set[0][2]}


def test_indexes_carry_the_hnsw_options(falkordb_server: EmbeddedFalkorDB, graph_name: str) -> None:
    store = FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name)
    store.ensure_collection(DIM)
    store.ensure_collection(DIM)  # idempotent
    got = indexes(falkordb_server.port, graph_name)
    assert got["types"] == {"id": ["RANGE"], "embedding": ["VECTOR"], "text": ["FULLTEXT"]}
    opts = got["options"]["embedding"]  # type: ignore[index]
    assert opts["dimension"] == DIM
    assert opts["similarityFunction"] == "cosine"
    assert (opts["M"], opts["efRuntime"]) == (DEFAULT_M, DEFAULT_EF_RUNTIME)
    assert "dim=32" in store.status().detail
    store.close()


def test_store_without_dim_needs_a_collection_then_adopts_it(
    falkordb_server: EmbeddedFalkorDB, graph_name: str
) -> None:
    rng = np.random.default_rng(1)
    v = unit(rng.standard_normal(DIM))
    bare = FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name)
    assert bare.count() == 0
    assert bare.search("anything", v) == []
    with pytest.raises(ConfigError, match="ensure_collection"):
        bare.upsert([VectorDoc(id="a", text="t", vector=v)])

    FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name, dim=DIM).upsert(
        [VectorDoc(id="a", text="t", vector=v)]
    )
    # a fresh store on the same graph reads the dimension from the index
    again = FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name)
    assert [h.id for h in again.search(None, v, k=1)] == ["a"]
    with pytest.raises(ConfigError, match="dimension"):
        FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name, dim=DIM + 1).search("t", None)


def test_empty_store_of_another_dimension_is_rebuilt(falkordb_server: EmbeddedFalkorDB, graph_name: str) -> None:
    store = FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name)
    store.ensure_collection(DIM)
    store.ensure_collection(DIM * 2)
    assert indexes(falkordb_server.port, graph_name)["options"]["embedding"]["dimension"] == DIM * 2  # type: ignore[index]
    rng = np.random.default_rng(2)
    store.upsert([VectorDoc(id="b", text="t", vector=unit(rng.standard_normal(DIM * 2)))])
    assert store.count() == 1


def test_keyword_match_wins_even_with_an_unrelated_vector(falkordb_server: EmbeddedFalkorDB, graph_name: str) -> None:
    rng = np.random.default_rng(3)
    q = rng.standard_normal(DIM)
    docs = [
        VectorDoc(id=f"n{i}", text=f"pod restarts {i}", vector=unit(q + 0.3 * rng.standard_normal(DIM)))
        for i in range(50)
    ]
    # the alert doc's vector is unrelated to the query (orthogonal): last of all by vector
    r = rng.standard_normal(DIM)
    r -= (r @ q) / (q @ q) * q
    docs.append(VectorDoc(id="alert", text="KubePodCrashLooping on checkout", vector=unit(r)))
    store = FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name, dim=DIM)
    store.upsert(docs)
    assert "alert" not in [h.id for h in store.search(None, unit(q), k=10)]
    hits = store.search("KubePodCrashLooping pod restarts", unit(q), k=10)
    assert hits[0].id == "alert"


def test_factory_keeps_vectors_out_of_the_knowledge_graph(falkordb_server: EmbeddedFalkorDB, tmp_path) -> None:
    kg = f"kg_{uuid.uuid4().hex[:10]}"
    settings = Settings(data_dir=tmp_path, graph={"graph_name": kg}, embedder={"dim": DIM})  # type: ignore[arg-type]
    store = build_vector_store(settings, falkor_host="127.0.0.1", falkor_port=falkordb_server.port)
    rng = np.random.default_rng(4)
    store.upsert([VectorDoc(id="r1", text="restart the checkout pods", vector=unit(rng.standard_normal(DIM)))])
    db = FalkorDB(host="127.0.0.1", port=falkordb_server.port)
    try:
        graphs = db.list_graphs()
        assert f"{kg}_vectors" in graphs
        assert kg not in graphs
    finally:
        db.select_graph(f"{kg}_vectors").delete()
        db.close()


def test_server_errors_are_wrapped(falkordb_server: EmbeddedFalkorDB, graph_name: str) -> None:
    r = redis.Redis(host="127.0.0.1", port=falkordb_server.port)
    r.set(graph_name, "not a graph")  # the graph key holds a plain string
    try:
        store = FalkorDBVectorStore("127.0.0.1", falkordb_server.port, graph_name, dim=DIM)
        with pytest.raises(BackendError, match="FalkorDB"):
            store.count()
    finally:
        r.delete(graph_name)
        r.close()
