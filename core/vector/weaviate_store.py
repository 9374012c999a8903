"""VectorStore on Weaviate (production), through weaviate-client v4.

One collection with one self-provided named vector `embedding` (no vectorizer,
cosine HNSW). Object UUIDs are derived from the document id (uuid5), so
upserting the same id twice replaces the object. Properties:

- `doc_id`, `kind` (field-tokenized: exact match), `entity_ids` (text[]),
  `text` (word-tokenized: the BM25 side of hybrid search),
- `meta_json`: the metadata exactly as given (types round-trip),
- `m_<key>`: one filterable property per metadata key, added to the schema on
  first sight with a fixed type (str → text/field, int and float → number,
  bool → boolean), so filters match exactly instead of by word tokens.

Search: both text and vector → `hybrid` with relative-score fusion (the same
idea as the embedded store's blend); vector only → `near_vector` with score
(1 + cosine) / 2; text only → `bm25` with scores divided by the best one.
The collection's dimension is recorded in its description.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.exceptions import (
    WeaviateBaseError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)
from weaviate.util import generate_uuid5

from core.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError, InputError
from core.ports import StoreStatus, VectorDoc, VectorHit
from core.vector.validate import METADATA_PREFIX, Scalar, check_dim, check_docs, check_filters, check_search

if TYPE_CHECKING:
    from weaviate import WeaviateClient
    from weaviate.collections import Collection

BACKEND = "weaviate"
_DIM_RE = re.compile(r"\bdim=(\d+)\b")
_COLLECTION_RE = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_RETURN = ["doc_id", "text", "kind", "entity_ids", "meta_json"]
# an explicitly named vector: unnamed/"default" vectors are handled differently across server versions
VECTOR_NAME = "embedding"
_DELETE_CHUNK = 500  # ids per delete_many filter, well under Weaviate's result cap


def _base_properties() -> list[Property]:
    return [
        Property(name="doc_id", data_type=DataType.TEXT, tokenization=Tokenization.FIELD, index_searchable=False),
        Property(name="text", data_type=DataType.TEXT, tokenization=Tokenization.WORD),
        Property(name="kind", data_type=DataType.TEXT, tokenization=Tokenization.FIELD, index_searchable=False),
        Property(
            name="entity_ids", data_type=DataType.TEXT_ARRAY, tokenization=Tokenization.FIELD, index_searchable=False
        ),
        Property(name="meta_json", data_type=DataType.TEXT, index_filterable=False, index_searchable=False),
    ]


def _type_of(value: Scalar) -> DataType:
    if isinstance(value, bool):  # before int: bool is an int in Python
        return DataType.BOOL
    if isinstance(value, int | float):
        return DataType.NUMBER
    return DataType.TEXT


def _wrap(e: Exception, doing: str) -> BackendError:
    if isinstance(e, WeaviateTimeoutError):
        return BackendTimeout(f"Weaviate timed out while {doing}: {e}", backend=BACKEND)
    if isinstance(e, WeaviateConnectionError | WeaviateGRPCUnavailableError | WeaviateStartUpError | OSError):
        return BackendUnavailable(
            f"Weaviate is unreachable while {doing}: {e}",
            backend=BACKEND,
            hint="check SHERLOG_VECTOR__URL and SHERLOG_VECTOR__GRPC_PORT",
        )
    return BackendError(f"Weaviate failed while {doing}: {e}", backend=BACKEND)


def connect_weaviate(url: str, *, grpc_port: int = 50051, api_key: str | None = None) -> WeaviateClient:
    """A connected client for `http[s]://host[:port]` (gRPC on the same host)."""
    import weaviate
    from weaviate.classes.init import Auth

    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as e:
        raise ConfigError(f"invalid Weaviate URL {url!r}: {e}", hint="e.g. http://127.0.0.1:8080") from e
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConfigError(f"invalid Weaviate URL {url!r}: expected http[s]://host[:port]")
    secure = u.scheme == "https"
    try:
        return weaviate.connect_to_custom(
            http_host=u.hostname,
            http_port=port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=u.hostname,
            grpc_port=grpc_port,
            grpc_secure=secure,
            auth_credentials=Auth.api_key(api_key) if api_key else None,
        )
    except (WeaviateBaseError, OSError) as e:
        raise _wrap(e, f"connecting to {url}") from e


class WeaviateVectorStore:
    """VectorStore on one Weaviate collection (self-provided vectors, cosine, hybrid BM25 + vector).

    The store owns `client` and closes it in `close()`.
    """

    backend = BACKEND

    def __init__(
        self,
        client: WeaviateClient,
        collection: str = "SherlogDoc",
        *,
        dim: int | None = None,
        location: str = "weaviate",
        batch_size: int = 500,
    ) -> None:
        if not _COLLECTION_RE.match(collection):
            raise ConfigError(
                f"invalid Weaviate collection name {collection!r}",
                hint="start with an upper-case letter; letters, digits, underscores",
            )
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.client = client
        self.name = collection
        self.location = f"{location}/{collection}"
        self.batch_size = batch_size
        self._dim = check_dim(dim) if dim is not None else None
        self._props: dict[str, DataType] | None = None  # property name → type, once the collection exists
        self._lock = threading.RLock()

    # -- schema ------------------------------------------------------------------
    def _col(self) -> Collection[Any, Any]:
        return self.client.collections.get(self.name)

    def _load(self) -> bool:
        """Read the collection's dimension and property types; False if it does not exist."""
        try:
            if not self.client.collections.exists(self.name):
                return False
            cfg = self._col().config.get()
        except (WeaviateBaseError, OSError) as e:
            raise _wrap(e, f"reading collection {self.name}") from e
        m = _DIM_RE.search(cfg.description or "")
        have = int(m.group(1)) if m else None
        if self._dim is not None and have is not None and have != self._dim:
            raise ConfigError(
                f"Weaviate collection {self.name} has dimension {have}, this store was built for {self._dim}",
                hint="use the embedder the collection was built with, or delete_all() and ensure_collection()",
            )
        self._dim = have if have is not None else self._dim
        self._props = {p.name: p.data_type for p in cfg.properties}
        return True

    def _create(self, dim: int) -> None:
        try:
            self.client.collections.create(
                self.name,
                description=f"Sherlog vector documents; dim={dim}",
                properties=_base_properties(),
                vector_config=Configure.Vectors.self_provided(
                    name=VECTOR_NAME,
                    vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
                ),
            )
        except (WeaviateBaseError, OSError) as e:
            raise _wrap(e, f"creating collection {self.name}") from e
        self._dim = dim
        self._props = {p.name: p.dataType for p in _base_properties()}

    def _drop_collection(self) -> None:
        try:
            self.client.collections.delete(self.name)
        except (WeaviateBaseError, OSError) as e:
            raise _wrap(e, f"deleting collection {self.name}") from e
        self._props = None

    def ensure_collection(self, dim: int) -> None:
        """Create the collection if missing. One of another dimension is recreated when
        empty and refused (ConfigError) when it holds documents."""
        dim = check_dim(dim)
        with self._lock:
            self._dim = None  # let _load report what is there
            if self._load():
                if self._dim == dim:
                    return
                if self.count() > 0:
                    raise ConfigError(
                        f"Weaviate collection {self.name} has dimension {self._dim}, asked for {dim}",
                        hint="use the embedder the collection was built with, or delete_all() first",
                    )
                self._drop_collection()
            self._create(dim)

    def _ready(self) -> bool:
        """True when the collection exists (creating it from the constructor's dim if needed)."""
        with self._lock:
            if self._props is not None:
                return True
            if self._load():
                return True
            if self._dim is not None:
                self._create(self._dim)
                return True
            return False

    def _ensure_metadata_props(self, docs: Sequence[VectorDoc]) -> None:
        """Add `m_<key>` properties on first sight; refuse a value whose type differs from the schema."""
        assert self._props is not None
        new: dict[str, DataType] = {}
        for doc in docs:
            for key, value in doc.metadata.items():
                name, want = METADATA_PREFIX + key, _type_of(value)
                have = self._props.get(name) or new.get(name)
                if have is None:
                    new[name] = want
                elif have != want:
                    raise InputError(
                        f"doc {doc.id!r}: metadata {key!r} is a {want.value} but the collection stores it as "
                        f"{have.value}",
                        hint="keep one type per metadata key",
                    )
        for name, dtype in new.items():
            tokenization = Tokenization.FIELD if dtype == DataType.TEXT else None
            prop = Property(
                name=name, data_type=dtype, tokenization=tokenization, index_filterable=True, index_searchable=False
            )
            try:
                self._col().config.add_property(prop)
            except (WeaviateBaseError, OSError) as e:
                raise _wrap(e, f"adding property {name}") from e
            self._props[name] = dtype

    # -- writes ------------------------------------------------------------------
    def upsert(self, docs: Sequence[VectorDoc]) -> int:
        """Insert or replace documents by id (all validated first). Returns distinct ids written."""
        from weaviate.classes.data import DataObject

        with self._lock:
            if not self._ready() or self._dim is None:
                raise ConfigError(
                    f"Weaviate collection {self.name} does not exist yet",
                    hint="call ensure_collection(dim) first (or build the store with dim=...)",
                )
            checked = check_docs(docs, self._dim)
            self._ensure_metadata_props([c.doc for c in checked])
        col = self._col()
        for start in range(0, len(checked), self.batch_size):
            chunk = checked[start : start + self.batch_size]
            objects = []
            for c in chunk:
                props: dict[str, Any] = {
                    "doc_id": c.doc.id,
                    "text": c.doc.text,
                    "kind": c.doc.kind,
                    "entity_ids": list(c.doc.entity_ids),
                    "meta_json": json.dumps(c.doc.metadata, sort_keys=True),
                }
                for key, value in c.doc.metadata.items():
                    # numbers share one NUMBER type so an int and a float under one key never conflict
                    props[METADATA_PREFIX + key] = float(value) if _type_of(value) == DataType.NUMBER else value
                objects.append(
                    DataObject(properties=props, uuid=generate_uuid5(c.doc.id), vector={VECTOR_NAME: c.vector})
                )
            try:
                result = col.data.insert_many(objects)
            except (WeaviateBaseError, OSError) as e:
                raise _wrap(e, f"upserting {len(objects)} documents") from e
            if result.has_errors:
                index, err = next(iter(sorted(result.errors.items(), key=lambda kv: kv[0])))
                raise BackendError(
                    f"Weaviate rejected doc {chunk[index].doc.id!r} ({len(result.errors)} of {len(chunk)} in the batch "
                    f"failed; earlier batches were written): {err.message}",
                    backend=BACKEND,
                )
        return len(checked)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; returns how many existed."""
        if isinstance(ids, str):
            ids = [ids]
        wanted = list(dict.fromkeys(ids))
        if not wanted or not self._ready():
            return 0
        col, deleted = self._col(), 0
        for start in range(0, len(wanted), _DELETE_CHUNK):
            chunk = wanted[start : start + _DELETE_CHUNK]
            try:
                res = col.data.delete_many(where=Filter.by_property("doc_id").contains_any(chunk))
            except (WeaviateBaseError, OSError) as e:
                raise _wrap(e, f"deleting {len(chunk)} documents") from e
            deleted += int(res.successful)
        return deleted

    def delete_all(self) -> None:
        """Remove every document (by recreating the collection with the same dimension)."""
        with self._lock:
            if not self._ready():
                return
            self._drop_collection()
            if self._dim is not None:
                self._create(self._dim)

    def drop(self) -> None:
        """Delete the collection itself (for `sherlog reset` and tests)."""
        with self._lock:
            self._drop_collection()

    # -- reads -------------------------------------------------------------------
    def count(self) -> int:
        if not self._ready():
            return 0
        try:
            return int(self._col().aggregate.over_all(total_count=True).total_count or 0)
        except (WeaviateBaseError, OSError) as e:
            raise _wrap(e, "counting documents") from e

    def _where(self, filters: Mapping[str, Scalar]) -> tuple[Any, bool]:
        """(Weaviate filter or None, satisfiable). A key never stored, or a value of another
        type than the schema's, cannot match anything."""
        assert self._props is not None
        parts = []
        for key, value in sorted(filters.items()):
            name = "kind" if key == "kind" else METADATA_PREFIX + key
            dtype = self._props.get(name)
            if dtype is None or _type_of(value) != dtype:
                return None, False
            parts.append(Filter.by_property(name).equal(float(value) if dtype == DataType.NUMBER else value))
        if not parts:
            return None, True
        return (parts[0] if len(parts) == 1 else Filter.all_of(parts)), True

    def search(
        self,
        text: str | None,
        vector: Sequence[float] | None,
        *,
        k: int = 10,
        filters: Mapping[str, str | int | float | bool] | None = None,
        alpha: float = 0.5,
    ) -> list[VectorHit]:
        """Hybrid search; `score` is in [0, 1], higher is better."""
        with self._lock:
            exists = self._ready()
            qvec = check_search(text, vector, k, alpha, self._dim)
            where = check_filters(filters)
            if not exists:
                return []
            flt, satisfiable = self._where(where)
        if not satisfiable:
            return []
        col = self._col()
        has_text = bool(text and text.strip())
        try:
            if qvec is not None and has_text and alpha < 1.0:
                res = col.query.hybrid(
                    query=text,
                    vector=qvec,
                    alpha=alpha,
                    target_vector=VECTOR_NAME,
                    limit=k,
                    filters=flt,
                    query_properties=["text"],
                    fusion_type=HybridFusion.RELATIVE_SCORE,
                    return_metadata=MetadataQuery(score=True),
                    return_properties=_RETURN,
                )
                scored = [(o, float(o.metadata.score or 0.0)) for o in res.objects]
            elif qvec is not None:
                res = col.query.near_vector(
                    near_vector=qvec,
                    target_vector=VECTOR_NAME,
                    limit=k,
                    filters=flt,
                    return_metadata=MetadataQuery(distance=True),
                    return_properties=_RETURN,
                )
                scored = [(o, 1.0 - float(o.metadata.distance or 0.0) / 2.0) for o in res.objects]
            elif has_text:
                res = col.query.bm25(
                    query=text or "",
                    query_properties=["text"],
                    limit=k,
                    filters=flt,
                    return_metadata=MetadataQuery(score=True),
                    return_properties=_RETURN,
                )
                raw = [(o, float(o.metadata.score or 0.0)) for o in res.objects]
                best = max((s for _, s in raw), default=0.0)
                scored = [(o, s / best if best > 0 else 0.0) for o, s in raw]
            else:
                return []
        except (WeaviateBaseError, OSError) as e:
            raise _wrap(e, "searching") from e
        hits = []
        for obj, score in scored:
            p = obj.properties
            hits.append(
                VectorHit(
                    id=str(p.get("doc_id") or ""),
                    score=score,
                    text=str(p.get("text") or ""),
                    kind=str(p.get("kind") or ""),
                    entity_ids=list(p.get("entity_ids") or []),
                    metadata=json.loads(str(p.get("meta_json") or "{}")),
                )
            )
        return hits

    # -- lifecycle ---------------------------------------------------------------
    def status(self) -> StoreStatus:
        try:
            ready = bool(self.client.is_ready())
            n = self.count() if ready else 0
        except (WeaviateBaseError, OSError, BackendError) as e:
            return StoreStatus("vector", BACKEND, False, self.location, detail=str(e))
        detail = f"cosine HNSW dim={self._dim}" if ready else "not ready"
        return StoreStatus("vector", BACKEND, ready, self.location, counts={"docs": n}, detail=detail)

    def close(self) -> None:
        try:
            self.client.close()
        except (WeaviateBaseError, OSError):
            pass  # closing a dead connection has nothing left to release
