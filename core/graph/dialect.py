"""The Cypher both graph backends accept, and the few statements where they differ.

Sherlog writes its queries in the openCypher subset FalkorDB and Neo4j 5 share.
What differs (index DDL, vector and full-text procedures, how a vector property
is written, what a vector score means) lives in one small table per backend
below, behind plain functions that take the backend name:

    node_id_index_ddl(backend, label)                -> str
    fulltext_index_ddl(backend, label, props)        -> str
    fulltext_query(backend, label, text_param="q")   -> str   # ... YIELD node, score
    fulltext_text(backend, text)                      -> str   # user text -> safe any-term query
    vector_index_ddl(backend, label, prop, dim)       -> str
    vector_query(backend, label, prop, k_param="k", vector_param="vector") -> str
    vector_value(backend, expr)                       -> str   # how to SET a vector property
    await_indexes_statement(backend)                  -> str | None
    is_index_exists_error(message)                    -> bool

Both query fragments end by binding `node` and `score` (higher is better), so a
caller appends `WHERE ...`/`RETURN node.id AS id, score` and never needs to know
the backend. Vector scores are cosine similarities mapped onto [0, 1] the way
Neo4j reports them, `(1 + cos) / 2`; FalkorDB reports the cosine *distance*
`1 - cos`, which the FalkorDB fragment converts.

The module also holds the rules every write obeys on both backends: labels,
relationship types and property keys are validated identifiers (they are the only
thing ever formatted into Cypher text; values always travel as parameters), and
property values are scalars or homogeneous lists of scalars, because FalkorDB has
no map-valued properties and Neo4j no mixed or nested lists.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import InputError, NotFound
from core.ports import PropValue

Backend = Literal["falkordb", "neo4j"]

# Identifiers we format into Cypher. Deliberately narrower than what backticks allow:
# FalkorDB's parameter header cannot escape backticks, and plain names keep both
# backends' DDL (index names are built from them) valid.
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Longest list of terms fulltext_text() keeps: long questions only add noise terms.
_MAX_FULLTEXT_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)
# Most missing endpoint ids an upsert_edges error lists before saying "and N more".
_SHOW_MISSING = 10


@dataclass(frozen=True)
class Dialect:
    """The statements one backend spells its own way. Placeholders are filled with validated identifiers."""

    name: Backend
    node_id_index: str
    fulltext_index: str
    fulltext_prop: str
    fulltext_query: str
    vector_index: str
    vector_query: str
    vector_value: str
    fulltext_or: str
    await_indexes: str | None


FALKORDB = Dialect(
    name="falkordb",
    # FalkorDB has no IF NOT EXISTS: a second CREATE fails with "already indexed",
    # which is_index_exists_error() recognises so callers can treat DDL as idempotent.
    node_id_index="CREATE INDEX FOR (n:`{label}`) ON (n.`{prop}`)",
    fulltext_index="CALL db.idx.fulltext.createNodeIndex('{label}', {props})",
    fulltext_prop="'{key}'",
    fulltext_query="CALL db.idx.fulltext.queryNodes('{label}', ${text_param}) YIELD node, score",
    vector_index=(
        "CREATE VECTOR INDEX FOR (n:`{label}`) ON (n.`{prop}`) "
        "OPTIONS {{dimension: {dim}, similarityFunction: 'cosine'}}"
    ),
    # FalkorDB yields the cosine distance (0 = same direction, 2 = opposite).
    vector_query=(
        "CALL db.idx.vector.queryNodes('{label}', '{prop}', ${k_param}, vecf32(${vector_param})) "
        "YIELD node, score WITH node, 1.0 - score / 2.0 AS score"
    ),
    # only vecf32 values are picked up by a FalkorDB vector index
    vector_value="vecf32({expr})",
    fulltext_or="|",  # RediSearch query syntax
    await_indexes=None,  # FalkorDB indexes each write as it commits
)

NEO4J = Dialect(
    name="neo4j",
    # a uniqueness constraint also backs MERGE with an index and stops concurrent duplicates
    node_id_index=(
        "CREATE CONSTRAINT `uniq_{label}_{prop}` IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.`{prop}` IS UNIQUE"
    ),
    fulltext_index="CREATE FULLTEXT INDEX `ft_{label}` IF NOT EXISTS FOR (n:`{label}`) ON EACH [{props}]",
    fulltext_prop="n.`{key}`",
    fulltext_query="CALL db.index.fulltext.queryNodes('ft_{label}', ${text_param}) YIELD node, score",
    vector_index=(
        "CREATE VECTOR INDEX `vec_{label}_{prop}` IF NOT EXISTS FOR (n:`{label}`) ON (n.`{prop}`) "
        "OPTIONS {{indexConfig: {{`vector.dimensions`: {dim}, `vector.similarity_function`: 'cosine'}}}}"
    ),
    # Neo4j already yields (1 + cos) / 2
    vector_query=(
        "CALL db.index.vector.queryNodes('vec_{label}_{prop}', ${k_param}, ${vector_param}) YIELD node, score"
    ),
    vector_value="{expr}",
    fulltext_or=" OR ",  # Lucene query syntax
    # Neo4j populates new indexes in the background; queries see them only when ONLINE
    await_indexes="CALL db.awaitIndexes(300)",
)

DIALECTS: dict[str, Dialect] = {"falkordb": FALKORDB, "neo4j": NEO4J}

# Substrings of the server errors that mean "this index/constraint is already there".
_EXISTS_MARKERS = ("already indexed", "already exists", "equivalent index", "equivalent constraint")


def dialect(backend: str) -> Dialect:
    """The table for `backend` ('falkordb' or 'neo4j')."""
    try:
        return DIALECTS[backend]
    except KeyError:
        raise InputError(
            f"unknown graph backend '{backend}'", hint=f"use one of: {', '.join(sorted(DIALECTS))}"
        ) from None


# -- identifiers ----------------------------------------------------------


def check_identifier(name: object, what: str = "label") -> str:
    """Return `name` if it is a plain identifier (letters, digits, underscore); raise InputError otherwise.

    Labels, relationship types and property keys are the only things formatted
    into Cypher text, so this check is what keeps untrusted input out of queries.
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise InputError(
            f"invalid graph {what} {name!r}: must start with a letter or underscore and contain only "
            "letters, digits and underscores (at most 128)",
            hint=f"rename the {what}, e.g. 'Service' or 'DEPENDS_ON'",
        )
    return name


def _params_ident(name: str) -> str:
    return check_identifier(name, "parameter name")


# -- DDL and procedures ---------------------------------------------------


def node_id_index_ddl(backend: str, label: str, prop: str = "id") -> str:
    """Statement that indexes `prop` (default `id`) of nodes labelled `label`."""
    return dialect(backend).node_id_index.format(
        label=check_identifier(label), prop=check_identifier(prop, "property key")
    )


def fulltext_index_ddl(backend: str, label: str, props: Sequence[str]) -> str:
    """Statement that creates the full-text index over `props` of `label` nodes (one index per label)."""
    if isinstance(props, str) or not props:
        raise InputError("fulltext_index_ddl needs a non-empty list of property keys", hint="e.g. ['text']")
    d = dialect(backend)
    label = check_identifier(label)
    rendered = ", ".join(d.fulltext_prop.format(key=check_identifier(p, "property key")) for p in props)
    return d.fulltext_index.format(label=label, props=rendered)


def fulltext_query(backend: str, label: str, text_param: str = "q") -> str:
    """`CALL ... YIELD node, score` searching the full-text index of `label` for the text in `$text_param`.

    Pass the text through fulltext_text() first: raw user text can be a syntax
    error in RediSearch or Lucene query syntax.
    """
    return dialect(backend).fulltext_query.format(label=check_identifier(label), text_param=_params_ident(text_param))


def fulltext_text(backend: str, text: str) -> str:
    """Turn free text into a query matching any of its words, safe for the backend's query syntax.

    Only word characters survive (so no operator or quote can reach the parser);
    words are lower-cased so Lucene never reads them as AND/OR/NOT. Returns ''
    when the text has no words: skip the keyword search then.
    """
    d = dialect(backend)
    terms: list[str] = []
    for w in _WORD.findall(text.lower()):
        if w not in terms:
            terms.append(w)
        if len(terms) >= _MAX_FULLTEXT_TERMS:
            break
    return d.fulltext_or.join(terms)


def vector_index_ddl(backend: str, label: str, prop: str, dim: int) -> str:
    """Statement that creates a cosine vector index of dimension `dim` on `label`.`prop`."""
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 4096:
        raise InputError(f"invalid vector dimension {dim!r}: must be an integer in 1..4096", hint="e.g. 384")
    return dialect(backend).vector_index.format(
        label=check_identifier(label), prop=check_identifier(prop, "property key"), dim=dim
    )


def vector_query(backend: str, label: str, prop: str, k_param: str = "k", vector_param: str = "vector") -> str:
    """`CALL ... YIELD ...` binding the `$k_param` nearest `node`s to `$vector_param` and their `score` in [0, 1]."""
    return dialect(backend).vector_query.format(
        label=check_identifier(label),
        prop=check_identifier(prop, "property key"),
        k_param=_params_ident(k_param),
        vector_param=_params_ident(vector_param),
    )


def vector_value(backend: str, expr: str) -> str:
    """Cypher expression to assign a vector held in `expr` (e.g. 'row.vector') so the vector index sees it."""
    return dialect(backend).vector_value.format(expr=expr)


def await_indexes_statement(backend: str) -> str | None:
    """Statement that blocks until newly created indexes are usable, or None if the backend needs none."""
    return dialect(backend).await_indexes


def is_index_exists_error(message: str) -> bool:
    """True if a server error only says the index or constraint being created already exists."""
    low = message.lower()
    return any(m in low for m in _EXISTS_MARKERS)


# -- values ---------------------------------------------------------------


def _bad_value(where: str, detail: str) -> InputError:
    return InputError(
        f"{where}: {detail}; graph properties must be strings, numbers, booleans or lists of one of those",
        hint="JSON-encode maps and objects into a string (core.graph.dialect.encode_props does it) "
        "or flatten them into separate keys",
    )


def _scalar(where: str, v: object) -> str | int | float | bool:
    if isinstance(v, bool | str):
        if isinstance(v, str) and "\x00" in v:
            raise _bad_value(where, "string contains a NUL character")
        return v
    if isinstance(v, numbers.Integral):
        i = int(v)
        if not _INT64_MIN <= i <= _INT64_MAX:
            raise _bad_value(where, f"integer {i} does not fit in 64 bits")
        return i
    if isinstance(v, numbers.Real):
        f = float(v)
        if not math.isfinite(f):
            raise _bad_value(where, f"number {f} is not finite")
        return f
    if isinstance(v, Mapping):
        raise _bad_value(where, "is a map")
    raise _bad_value(where, f"has unsupported type {type(v).__name__}")


def check_value(where: str, v: object) -> PropValue:
    """Validate one property value; `where` names it in the error (e.g. "Service 'svc:a' property 'attrs'").

    None is allowed and removes the property on update. Numbers of other numeric
    types (numpy) become int/float; a list mixing ints and floats becomes floats,
    the only list both backends store.
    """
    if v is None:
        return None
    if isinstance(v, list | tuple):
        items = [_scalar(f"{where}[{i}]", x) if x is not None else None for i, x in enumerate(v)]
        if any(x is None for x in items):
            raise _bad_value(where, "list contains null")
        kinds = {bool if isinstance(x, bool) else (float if isinstance(x, int | float) else str) for x in items}
        if len(kinds) > 1:
            raise _bad_value(where, "list mixes types (" + ", ".join(sorted(k.__name__ for k in kinds)) + ")")
        if kinds == {float}:
            return [float(x) for x in items]  # type: ignore[arg-type]
        return items  # type: ignore[return-value]
    return _scalar(where, v)


def check_props(where: str, props: Mapping[str, object], *, reserved: Iterable[str] = ()) -> dict[str, PropValue]:
    """Validate keys (identifiers, not reserved) and values of one property map."""
    if not isinstance(props, Mapping):
        raise InputError(f"{where}: properties must be a map, got {type(props).__name__}")
    out: dict[str, PropValue] = {}
    banned = set(reserved)
    for k, v in props.items():
        key = check_identifier(k, f"property key in {where}")
        if key in banned:
            raise InputError(f"{where}: property key '{key}' is reserved", hint="rename it")
        out[key] = check_value(f"{where} property '{key}'", v)
    return out


def encode_props(props: Mapping[str, Any]) -> dict[str, PropValue]:
    """Make arbitrary attributes storable: maps and lists that are not plain scalar lists become JSON strings.

    For callers that hold free-form attributes (event `attributes`, labels from a
    webhook). Valid values pass through unchanged; nothing is dropped.
    """
    out: dict[str, PropValue] = {}
    for k, v in props.items():
        try:
            out[k] = check_value(k, v)
        except InputError:
            out[k] = json.dumps(v, sort_keys=True, default=str, ensure_ascii=False)
    return out


def node_rows(label: str, rows: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
    """Validated UNWIND rows `{id, props}` for upsert_nodes(); errors name the row and key."""
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(f"{label} row {i}: must be a map with an 'id', got {type(row).__name__}")
        node_id = row.get("id")
        if not isinstance(node_id, str) or not node_id.strip() or "\x00" in node_id:
            raise InputError(
                f"{label} row {i}: 'id' must be a non-empty string, got {node_id!r}",
                hint="use stable ids such as 'service:prod/payments/checkout' (core.model.entity_id)",
            )
        props = check_props(f"{label} '{node_id}'", {k: v for k, v in row.items() if k != "id"})
        out.append({"id": node_id, "props": props})
    return out


_EDGE_KEYS = {"src", "dst", "props"}


def edge_rows(rel_type: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validated UNWIND rows `{src, dst, props}` for upsert_edges(); unknown row keys are an error, not ignored."""
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(f"{rel_type} edge {i}: must be a map with 'src' and 'dst', got {type(row).__name__}")
        extra = sorted(set(row) - _EDGE_KEYS)
        if extra:
            raise InputError(
                f"{rel_type} edge {i}: unknown key(s) {', '.join(map(repr, extra))}",
                hint="edge properties go inside 'props'",
            )
        ends = []
        for end in ("src", "dst"):
            v = row.get(end)
            if not isinstance(v, str) or not v.strip() or "\x00" in v:
                raise InputError(f"{rel_type} edge {i}: '{end}' must be a non-empty node id string, got {v!r}")
            ends.append(v)
        props = check_props(f"{rel_type} edge {ends[0]}->{ends[1]}", row.get("props") or {})
        out.append({"src": ends[0], "dst": ends[1], "props": props})
    return out


def _check_param(where: str, v: object) -> None:
    # The FalkorDB client renders parameters as Cypher literals with str(); anything
    # but JSON-like values would be rendered as arbitrary text, so refuse it.
    if v is None or isinstance(v, bool):
        return
    if isinstance(v, str):
        if "\x00" in v:
            raise InputError(f"query parameter {where}: string contains a NUL character")
        return
    if isinstance(v, int):
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise InputError(f"query parameter {where}: integer {v} does not fit in 64 bits")
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InputError(f"query parameter {where}: number {v} is not finite")
        return
    if isinstance(v, list | tuple):
        for i, x in enumerate(v):
            _check_param(f"{where}[{i}]", x)
        return
    if isinstance(v, Mapping):
        for k, x in v.items():
            if not isinstance(k, str) or not k or "`" in k:
                raise InputError(f"query parameter {where}: map key {k!r} must be a non-empty string without backticks")
            _check_param(f"{where}.{k}", x)
        return
    raise InputError(
        f"query parameter {where}: unsupported type {type(v).__name__}",
        hint="pass strings, numbers, booleans, null, lists and maps only (e.g. datetimes as ISO-8601 strings)",
    )


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate query parameters (names and JSON-like values) the same way for both backends."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InputError(f"query parameters must be a map, got {type(params).__name__}")
    for k, v in params.items():
        _params_ident(k)
        _check_param(f"${k}", v)
    return dict(params)


# -- the shared write/read statements --------------------------------------


def _node_pattern(var: str, label: str | None, id_expr: str) -> str:
    lab = f":`{check_identifier(label)}`" if label is not None else ""
    return f"({var}{lab} {{id: {id_expr}}})"


def upsert_nodes_cypher(label: str) -> str:
    """MERGE by id, merge the other properties in; returns `written` (rows processed)."""
    label = check_identifier(label)  # required here: an unlabelled MERGE would match across labels
    pattern = _node_pattern("n", label, "row.id")
    return f"UNWIND $rows AS row MERGE {pattern} SET n += row.props RETURN count(n) AS written"


def upsert_edges_cypher(rel_type: str, src_label: str | None, dst_label: str | None) -> str:
    """MATCH both ends by id, MERGE the edge, merge its properties in; returns `written`."""
    rel = check_identifier(rel_type, "relationship type")
    return (
        f"UNWIND $rows AS row MATCH {_node_pattern('a', src_label, 'row.src')} "
        f"MATCH {_node_pattern('b', dst_label, 'row.dst')} "
        f"MERGE (a)-[r:`{rel}`]->(b) SET r += row.props RETURN count(r) AS written"
    )


def missing_ids_cypher(label: str | None) -> str:
    """Which of `$ids` name no node (with `label` if given); returns rows of `id`."""
    return (
        f"UNWIND $ids AS id OPTIONAL MATCH {_node_pattern('n', label, 'id')} "
        "WITH id, count(n) AS c WHERE c = 0 RETURN id"
    )


def count_nodes_cypher(label: str | None) -> str:
    lab = f":`{check_identifier(label)}`" if label is not None else ""
    return f"MATCH (n{lab}) RETURN count(n) AS c"


def count_edges_cypher(rel_type: str | None) -> str:
    rel = f":`{check_identifier(rel_type, 'relationship type')}`" if rel_type is not None else ""
    return f"MATCH ()-[r{rel}]->() RETURN count(r) AS c"


def missing_endpoints_error(rel_type: str, missing: Sequence[str], written: int, total: int) -> NotFound:
    """The error upsert_edges raises when some edges name nodes that do not exist (lists the first few)."""
    shown = ", ".join(missing[:_SHOW_MISSING])
    if len(missing) > _SHOW_MISSING:
        shown += f" and {len(missing) - _SHOW_MISSING} more"
    return NotFound(
        f"{rel_type} edges name nodes that do not exist: {shown or '(unknown)'}; "
        f"{written} of {total} edges were written before this batch stopped",
        hint="upsert the nodes first (with the same labels); MERGE makes re-running the whole call safe",
    )


# Deleting in slices keeps each transaction bounded (Neo4j's heap, FalkorDB's reply time).
DELETE_SLICE_CYPHER = "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted"
LABELS_CYPHER = "CALL db.labels() YIELD label RETURN label"
