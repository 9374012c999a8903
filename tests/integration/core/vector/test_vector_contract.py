"""The VectorStore contract, one suite for every backend.

Embedded FalkorDB always runs (the session's real server). Weaviate runs when
SHERLOG_VECTOR__URL names a server (SHERLOG_VECTOR__GRPC_PORT / __API_KEY as
needed), and is skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import pytest

from core.errors import ConfigError, InputError
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.ports import VectorDoc, VectorHit, VectorStore
from core.settings import Settings
from core.vector.falkordb_vector import FalkorDBVectorStore

DIM = 64
Vec = npt.NDArray[np.float32]
StoreFactory = Callable[[int], VectorStore]


def _weaviate_factory(created: list[VectorStore]) -> StoreFactory:
    url = os.environ.get("SHERLOG_VECTOR__URL")
    if not url:
        pytest.skip("Weaviate contract needs SHERLOG_VECTOR__URL (e.g. http://127.0.0.1:8080)")
    from core.vector.weaviate_store import WeaviateVectorStore, connect_weaviate

    s = Settings()
    key = s.vector.api_key.get_secret_value() if s.vector.api_key else None

    def make(dim: int) -> VectorStore:
        client = connect_weaviate(url, grpc_port=s.vector.grpc_port, api_key=key)
        store = WeaviateVectorStore(client, f"SherlogTest{uuid.uuid4().hex[:12]}", dim=dim, location=url)
        created.append(store)
        return store

    return make


@pytest.fixture(params=["falkordb", "weaviate"])
def new_store(request: pytest.FixtureRequest, falkordb_server: EmbeddedFalkorDB) -> Iterator[StoreFactory]:
    """Makes fresh, empty stores of one backend (unique graph / collection each); drops them after."""
    created: list[VectorStore] = []
    if request.param == "falkordb":

        def make(dim: int) -> VectorStore:
            store = FalkorDBVectorStore("127.0.0.1", falkordb_server.port, f"vec_{uuid.uuid4().hex[:12]}", dim=dim)
            created.append(store)
            return store

        factory: StoreFactory = make
    else:
        factory = _weaviate_factory(created)
    yield factory
    for store in created:
        store.drop()  # type: ignore[attr-defined]
        store.close()


@pytest.fixture
def store(new_store: StoreFactory) -> VectorStore:
    s = new_store(DIM)
    s.ensure_collection(DIM)
    return s


def unit(v: Vec) -> Vec:
    out: Vec = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def with_cosine(q: Vec, cos: float, rng: np.random.Generator) -> Vec:
    """A unit vector whose cosine similarity to unit vector q is exactly `cos`."""
    r: Vec = np.asarray(rng.standard_normal(q.shape[0]), dtype=np.float32)
    ortho = unit(r - float(r @ q) * q)
    return unit(cos * q + np.sqrt(1.0 - cos * cos) * ortho)


def vdoc(doc_id: str, vec: Vec, text: str = "", **kw: object) -> VectorDoc:
    return VectorDoc(id=doc_id, text=text or f"document {doc_id}", vector=vec.tolist(), **kw)  # type: ignore[arg-type]


def hit_ids(hits: list[VectorHit]) -> list[str]:
    return [h.id for h in hits]


def assert_well_formed(hits: list[VectorHit], k: int) -> None:
    assert len(hits) <= k
    assert len(set(hit_ids(hits))) == len(hits), "a document appears twice"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True), "hits are not best-first"
    assert all(0.0 <= s <= 1.0 + 1e-6 for s in scores)


def test_the_store_satisfies_the_port(store: VectorStore) -> None:
    assert isinstance(store, VectorStore)
    assert store.status().running
    assert store.count() == 0


def test_upsert_is_idempotent_by_id(store: VectorStore) -> None:
    rng = np.random.default_rng(1)
    vecs = [unit(rng.standard_normal(DIM).astype(np.float32)) for _ in range(3)]
    docs = [
        vdoc(f"d{i}", v, f"original text {i}", kind="runbook", metadata={"service": "checkout", "rev": 1})
        for i, v in enumerate(vecs)
    ]
    assert store.upsert(docs) == 3
    assert store.upsert(docs) == 3
    assert store.count() == 3

    changed = vdoc("d0", vecs[0], "rewritten text", kind="incident", entity_ids=["svc:a"], metadata={"rev": 2})
    assert store.upsert([changed]) == 1
    assert store.count() == 3
    top = store.search(None, vecs[0].tolist(), k=1)[0]
    assert (top.id, top.text, top.kind, top.entity_ids, top.metadata) == (
        "d0",
        "rewritten text",
        "incident",
        ["svc:a"],
        {"rev": 2},
    )
    # the replaced version's metadata is gone, not merged
    assert "d0" not in hit_ids(store.search(None, vecs[0].tolist(), k=3, filters={"service": "checkout"}))
    assert hit_ids(store.search(None, vecs[0].tolist(), k=3, filters={"rev": 2})) == ["d0"]


def test_duplicate_ids_in_one_batch_keep_the_last(store: VectorStore) -> None:
    rng = np.random.default_rng(2)
    v = unit(rng.standard_normal(DIM).astype(np.float32))
    assert store.upsert([vdoc("x", v, "first"), vdoc("x", v, "second")]) == 1
    assert store.count() == 1
    assert store.search(None, v.tolist(), k=1)[0].text == "second"


def test_metadata_and_entities_round_trip_exactly(store: VectorStore) -> None:
    rng = np.random.default_rng(3)
    v = unit(rng.standard_normal(DIM).astype(np.float32))
    meta = {"service": "checkout", "sev": 2, "ratio": 0.25, "paged": True}
    store.upsert(
        [vdoc("m1", v, "payment errors", kind="alert", entity_ids=["service:prod/shop/checkout"], metadata=meta)]
    )
    hit = store.search("payment", v.tolist(), k=1)[0]
    assert hit.metadata == meta
    assert type(hit.metadata["sev"]) is int and type(hit.metadata["paged"]) is bool
    assert hit.entity_ids == ["service:prod/shop/checkout"]
    assert hit.kind == "alert"


def test_delete_removes_only_named_ids(store: VectorStore) -> None:
    rng = np.random.default_rng(4)
    vecs = {f"d{i}": unit(rng.standard_normal(DIM).astype(np.float32)) for i in range(4)}
    store.upsert([vdoc(i, v) for i, v in vecs.items()])
    assert store.delete(["d1", "no-such-doc", "d1"]) == 1
    assert store.delete([]) == 0
    assert store.count() == 3
    assert "d1" not in hit_ids(store.search(None, vecs["d1"].tolist(), k=10))
    assert hit_ids(store.search(None, vecs["d2"].tolist(), k=1)) == ["d2"]


def test_count_and_delete_all_keep_the_store_usable(store: VectorStore) -> None:
    rng = np.random.default_rng(5)
    docs = [vdoc(f"d{i}", unit(rng.standard_normal(DIM).astype(np.float32))) for i in range(25)]
    store.upsert(docs)
    assert store.count() == 25
    store.delete_all()
    assert store.count() == 0
    assert store.search("document", docs[0].vector, k=5) == []
    store.upsert(docs[:2])
    assert store.count() == 2
    assert hit_ids(store.search(None, docs[1].vector, k=1)) == ["d1"]


def test_filters_match_kind_and_metadata_exactly(store: VectorStore) -> None:
    rng = np.random.default_rng(6)
    q = unit(rng.standard_normal(DIM).astype(np.float32))
    rows = [
        ("r1", "runbook", {"service": "checkout", "sev": 1}),
        ("r2", "runbook", {"service": "payments", "sev": 2}),
        ("i1", "incident", {"service": "checkout", "sev": 2}),
        ("i2", "incident", {"service": "checkout-api", "sev": 2}),
        ("a1", "alert", {"service": "checkout db", "sev": 3}),
    ]
    store.upsert([vdoc(i, with_cosine(q, 0.5, rng), f"disk alert {i}", kind=k, metadata=m) for i, k, m in rows])
    cases: list[tuple[dict[str, str | int], set[str]]] = [
        ({"kind": "runbook"}, {"r1", "r2"}),
        ({"service": "checkout"}, {"r1", "i1"}),  # exact: not checkout-api, not "checkout db"
        ({"kind": "incident", "sev": 2}, {"i1", "i2"}),
        ({"kind": "incident", "service": "checkout"}, {"i1"}),
        ({"sev": 3}, {"a1"}),
        ({"service": "nowhere"}, set()),
        ({"never_stored_key": "x"}, set()),
        ({"sev": "2"}, set()),  # a string does not equal the number 2
    ]
    for filters, expected in cases:
        for text, vec in (("disk", None), (None, q.tolist()), ("disk", q.tolist())):
            got = set(hit_ids(store.search(text, vec, k=10, filters=filters)))
            assert got == expected, f"filters={filters} text={text!r} vector={vec is not None}"


def test_selective_filter_finds_matches_far_from_the_query(store: VectorStore) -> None:
    rng = np.random.default_rng(7)
    q = unit(rng.standard_normal(DIM).astype(np.float32))
    near = [vdoc(f"n{i}", with_cosine(q, 0.9, rng), kind="log") for i in range(300)]
    far = [vdoc(f"p{i}", with_cosine(q, -0.5 + 0.1 * i, rng), kind="postmortem") for i in range(3)]
    store.upsert(near + far)
    hits = store.search(None, q.tolist(), k=5, filters={"kind": "postmortem"})
    assert hit_ids(hits) == ["p2", "p1", "p0"]  # all of them, nearest first


def test_dimension_error_names_the_doc_and_writes_nothing(store: VectorStore) -> None:
    rng = np.random.default_rng(8)
    good = [vdoc(f"g{i}", unit(rng.standard_normal(DIM).astype(np.float32))) for i in range(3)]
    bad = vdoc("bad-doc-7", unit(rng.standard_normal(DIM + 1).astype(np.float32)))
    with pytest.raises(InputError, match="bad-doc-7") as err:
        store.upsert([*good, bad])
    assert f"dimension {DIM + 1}" in str(err.value)
    assert store.count() == 0
    with pytest.raises(InputError, match="query vector"):
        store.search("x", [0.5] * (DIM - 1), k=3)


def test_other_bad_input_is_refused(store: VectorStore) -> None:
    rng = np.random.default_rng(9)
    v = unit(rng.standard_normal(DIM).astype(np.float32))
    with pytest.raises(InputError, match="'m-1'"):
        store.upsert([vdoc("m-1", v, metadata={"bad key": 1})])
    with pytest.raises(InputError, match="text, a query vector, or both"):
        store.search(None, None)
    with pytest.raises(InputError, match="alpha"):
        store.search("x", v.tolist(), alpha=1.5)
    with pytest.raises(InputError, match="k must"):
        store.search("x", None, k=0)
    assert store.count() == 0


def test_ensure_collection_is_idempotent_and_guards_the_dimension(store: VectorStore) -> None:
    store.ensure_collection(DIM)
    rng = np.random.default_rng(10)
    store.upsert([vdoc("a", unit(rng.standard_normal(DIM).astype(np.float32)))])
    with pytest.raises(ConfigError, match=str(DIM)):
        store.ensure_collection(DIM * 2)
    assert store.count() == 1


def _alert_corpus(rng: np.random.Generator) -> tuple[Vec, list[VectorDoc]]:
    q = unit(rng.standard_normal(DIM).astype(np.float32))
    docs = [
        vdoc("near", with_cosine(q, 0.95, rng), "pod restarted after OOM kill in namespace payments", kind="log"),
        vdoc("near2", with_cosine(q, 0.8, rng), "container restarts are rising on the payments pods", kind="log"),
        vdoc("alert", with_cosine(q, 0.3, rng), "KubePodCrashLooping firing for pod checkout-7f9c", kind="alert"),
    ]
    for i in range(30):
        text = f"alert firing: latency high on service s{i}" if i % 3 == 0 else f"deployment {i} rolled out cleanly"
        docs.append(vdoc(f"f{i}", with_cosine(q, -0.2 + 0.4 * i / 29, rng), text, kind="log"))
    return q, docs


def test_hybrid_ranks_an_exact_keyword_match_first(store: VectorStore) -> None:
    q, docs = _alert_corpus(np.random.default_rng(11))
    store.upsert(docs)
    hybrid = store.search("why is KubePodCrashLooping firing", q.tolist(), k=5, alpha=0.5)
    assert_well_formed(hybrid, 5)
    assert hybrid[0].id == "alert", hit_ids(hybrid)
    # the same vector alone prefers the closer documents: the keyword is what lifted it
    vector_only = store.search(None, q.tolist(), k=5)
    assert hit_ids(vector_only)[:2] == ["near", "near2"]
    assert hit_ids(store.search("why is KubePodCrashLooping firing", q.tolist(), k=5, alpha=1.0))[0] == "near"
    assert hit_ids(store.search("KubePodCrashLooping", None, k=5))[0] == "alert"


def test_query_syntax_in_user_text_cannot_break_search(store: VectorStore) -> None:
    rng = np.random.default_rng(12)
    q = unit(rng.standard_normal(DIM).astype(np.float32))
    store.upsert([vdoc("fb", q, "foo bar baz"), vdoc("o", with_cosine(q, 0.1, rng), "other words")])
    hostile = ["foo:bar (", '"unterminated', "@text:foo", "-", "%%", "*", "a|b||", "$x", "{}[]", "\\", "'; DROP", ""]
    for text in hostile:
        for vec in (None, q.tolist()):
            hits = store.search(text, vec, k=5)
            assert_well_formed(hits, 5)
    assert hit_ids(store.search("foo:bar (", None, k=5)) == ["fb"]


@pytest.mark.slow
def test_recall_at_10_vs_brute_force(new_store: StoreFactory) -> None:
    dim, n, n_queries, k = 384, 10_000, 60, 10
    rng = np.random.default_rng(20240611)
    data = rng.standard_normal((n, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = rng.standard_normal((n_queries, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = np.argsort(-(queries @ data.T), axis=1)[:, :k]

    store = new_store(dim)
    store.ensure_collection(dim)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        store.upsert([VectorDoc(id=str(i), text="", vector=data[i].tolist()) for i in range(start, start + 1000)])
    load_s = time.perf_counter() - t0
    assert store.count() == n

    t0 = time.perf_counter()
    recalls = []
    for qi in range(n_queries):
        got = {int(h.id) for h in store.search(None, queries[qi].tolist(), k=k)}
        recalls.append(len(got & set(exact[qi].tolist())) / k)
    query_ms = (time.perf_counter() - t0) / n_queries * 1000
    recall = float(np.mean(recalls))
    print(f"\n[{store.backend}] recall@{k}={recall:.3f} ({n_queries} queries, {n} docs, dim {dim}); ", end="")
    print(f"load {load_s:.1f}s, {query_ms:.1f} ms/query")
    assert recall >= 0.95
