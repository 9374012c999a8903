"""Ports: one Protocol per external capability. Adapters live in their own
modules named by vendor (core/graph/falkordb_store.py, core/vector/weaviate_store.py,
...) and are built once from Settings in core/wiring.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

# Graph property values: scalars or lists of scalars (no maps, FalkorDB cannot store them).
PropValue = str | int | float | bool | None | list[str] | list[int] | list[float]


@dataclass(frozen=True)
class StoreStatus:
    """What `sherlog status` shows for one store."""

    name: str
    backend: str
    running: bool
    location: str
    counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""


@runtime_checkable
class GraphStore(Protocol):
    """A Cypher property graph (FalkorDB embedded, or Neo4j).

    Queries use the openCypher subset both backends accept; dialect-specific DDL
    and procedures live in core/graph/dialect.py.
    """

    backend: str

    def ensure_schema(self) -> None:
        """Create indexes/constraints if missing (idempotent)."""

    def run_schema(self, statements: Sequence[str]) -> None:
        """Run DDL statements; "already exists" counts as success."""

    def query(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read or write query; rows come back as dicts keyed by RETURN aliases."""
        ...

    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, PropValue]]) -> int:
        """MERGE nodes by `id` and set the other properties. Returns rows written."""
        ...

    def upsert_edges(
        self,
        rel_type: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        src_label: str | None = None,
        dst_label: str | None = None,
    ) -> int:
        """MERGE edges; each row has `src`, `dst` (node ids) and optional `props` (a flat dict)."""
        ...

    def count_nodes(self, label: str | None = None) -> int: ...

    def count_edges(self, rel_type: str | None = None) -> int: ...

    def delete_all(self) -> None:
        """Drop every node and edge (used by `sherlog reset`)."""

    def status(self) -> StoreStatus: ...

    def close(self) -> None: ...


@dataclass
class VectorDoc:
    """A document in the vector index: text, its embedding, and the entities it is about."""

    id: str
    text: str
    vector: Sequence[float]
    kind: str = "doc"
    entity_ids: list[str] = field(default_factory=list)
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass
class VectorHit:
    """A search result; `entity_ids` seed graph expansion."""

    id: str
    score: float
    text: str
    kind: str
    entity_ids: list[str]
    metadata: dict[str, Any]


@runtime_checkable
class VectorStore(Protocol):
    """Hybrid search: vector similarity and keyword (BM25-like) fused into one ranking."""

    backend: str

    def ensure_collection(self, dim: int) -> None: ...

    def upsert(self, docs: Sequence[VectorDoc]) -> int: ...

    def delete(self, ids: Sequence[str]) -> int: ...

    def search(
        self,
        text: str | None,
        vector: Sequence[float] | None,
        *,
        k: int = 10,
        filters: Mapping[str, str | int | float | bool] | None = None,
        alpha: float = 0.5,
    ) -> list[VectorHit]:
        """`alpha` weights vector (1.0) against keyword (0.0). `filters` match `kind` or metadata keys exactly."""
        ...

    def count(self) -> int: ...

    def delete_all(self) -> None: ...

    def status(self) -> StoreStatus: ...

    def close(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """Text → unit-length float32 vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Shape (len(texts), dim), rows L2-normalised."""
        ...


@dataclass
class LLMResult:
    """A completion and what it cost."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0


@runtime_checkable
class LLM(Protocol):
    """A chat-completion model. `available` is False when none is configured."""

    available: bool

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
    ) -> LLMResult:
        """Raise LLMUnavailable when no model answers; never return partial junk silently."""
        ...
