"""Input checks shared by every VectorStore adapter, so all backends accept and
refuse exactly the same documents, filters and queries.

Each check raises InputError naming the document id (or argument) and what was
wrong; nothing is coerced silently, because a vector of the wrong length or a
NaN stored today is a search that quietly misses tomorrow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import InputError
from core.ports import VectorDoc

Scalar = str | int | float | bool

# Metadata keys become property names in every backend (FalkorDB `m_<key>`,
# Weaviate `m_<key>`); Weaviate only allows GraphQL names, so this is the common ground.
METADATA_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Filter keys with a meaning of their own; a metadata key of the same name would be ambiguous.
RESERVED_KEYS = frozenset({"id", "text", "kind", "entity_ids", "vector", "embedding"})
METADATA_PREFIX = "m_"


@dataclass(frozen=True)
class CheckedDoc:
    """A validated document: its vector as plain floats, ready for a backend."""

    doc: VectorDoc
    vector: list[float]


def check_dim(dim: int) -> int:
    """A vector dimension: a positive int."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise InputError(f"vector dimension must be a positive integer, got {dim!r}")
    return dim


def check_vector(vector: Sequence[float], dim: int, what: str) -> list[float]:
    """`vector` as floats, or InputError naming `what` (e.g. "doc 'x'") if its length,
    values or norm make cosine similarity meaningless."""
    try:
        values = [float(v) for v in vector]
    except (TypeError, ValueError) as e:
        raise InputError(f"{what}: vector must be a sequence of numbers ({e})") from e
    if len(values) != dim:
        raise InputError(
            f"{what}: vector has dimension {len(values)}, the index expects {dim}",
            hint="embed with the same model the collection was created for",
        )
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{what}: vector contains NaN or infinite values")
    if not any(values):
        raise InputError(f"{what}: vector is all zeros; cosine similarity is undefined for it")
    return values


def check_metadata_key(key: object, what: str) -> str:
    """A metadata or filter key usable as a property name in every backend."""
    if not isinstance(key, str) or not METADATA_KEY_RE.match(key):
        raise InputError(
            f"{what}: metadata key {key!r} is not allowed",
            hint="use letters, digits and underscores, starting with a letter or underscore (max 64 chars)",
        )
    if key in RESERVED_KEYS:
        raise InputError(f"{what}: metadata key {key!r} is reserved", hint=f"reserved: {sorted(RESERVED_KEYS)}")
    return key


def check_scalar(value: object, what: str) -> Scalar:
    """A metadata or filter value: str, int, float (finite) or bool."""
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{what}: value {value!r} is not a finite number")
        return value
    raise InputError(f"{what}: value {value!r} has type {type(value).__name__}; use str, int, float or bool")


def check_docs(docs: Sequence[VectorDoc], dim: int) -> list[CheckedDoc]:
    """Validate a batch before anything is written (all or nothing).

    A batch that names one id twice keeps the last version, which is what
    upserting them one after the other would leave behind.
    """
    if isinstance(docs, VectorDoc) or not isinstance(docs, Sequence):
        raise InputError("upsert expects a sequence of VectorDoc")
    by_id: dict[str, CheckedDoc] = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, VectorDoc):
            raise InputError(f"item {i} of the batch is a {type(doc).__name__}, not a VectorDoc")
        if not isinstance(doc.id, str) or not doc.id.strip():
            raise InputError(f"item {i} of the batch has an empty or non-string id: {doc.id!r}")
        what = f"doc {doc.id!r}"
        if not isinstance(doc.text, str):
            raise InputError(f"{what}: text must be a string, got {type(doc.text).__name__}")
        if not isinstance(doc.kind, str) or not doc.kind:
            raise InputError(f"{what}: kind must be a non-empty string, got {doc.kind!r}")
        if not isinstance(doc.entity_ids, list) or not all(isinstance(e, str) for e in doc.entity_ids):
            raise InputError(f"{what}: entity_ids must be a list of strings")
        if not isinstance(doc.metadata, Mapping):
            raise InputError(f"{what}: metadata must be a dict")
        for key, value in doc.metadata.items():
            check_metadata_key(key, what)
            check_scalar(value, f"{what}, metadata {key!r}")
        vector = check_vector(doc.vector, dim, what)
        by_id.pop(doc.id, None)  # keep first-seen order of the surviving (last) version
        by_id[doc.id] = CheckedDoc(doc, vector)
    return list(by_id.values())


def check_filters(filters: Mapping[str, Scalar] | None) -> dict[str, Scalar]:
    """Filters: `kind` or metadata keys, each matched exactly."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise InputError(f"filters must be a mapping of key to value, got {type(filters).__name__}")
    out: dict[str, Scalar] = {}
    for key, value in filters.items():
        if key == "kind":
            if not isinstance(value, str):
                raise InputError(f"filter 'kind' must be a string, got {value!r}")
        else:
            check_metadata_key(key, "filters")
        out[key] = check_scalar(value, f"filter {key!r}")
    return out


def check_search(
    text: str | None, vector: Sequence[float] | None, k: int, alpha: float, dim: int | None
) -> list[float] | None:
    """Validate search arguments; returns the query vector as floats (or None)."""
    if text is None and vector is None:
        raise InputError("search needs a query text, a query vector, or both")
    if text is not None and not isinstance(text, str):
        raise InputError(f"search text must be a string, got {type(text).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be a number between 0.0 (keyword) and 1.0 (vector), got {alpha!r}")
    if vector is None:
        return None
    if dim is None:
        # no collection yet: nothing can match, but the vector must still be sane
        if len(vector) == 0:
            raise InputError("query vector is empty")
        dim = len(vector)
    return check_vector(vector, dim, "query vector")
