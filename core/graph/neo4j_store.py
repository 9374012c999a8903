"""GraphStore on Neo4j 5 through the official `neo4j` driver.

Same contract and the same Cypher as the FalkorDB store (core/graph/dialect.py
holds the statements and the few DDL lines that differ). The driver's managed
transactions already retry transient failures and reconnect, so this adapter
only maps its errors onto Sherlog's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import neo4j
from neo4j import exceptions as nx
from neo4j.graph import Node, Path, Relationship

from core.errors import BackendError, BackendTimeout, BackendUnavailable, SherlogError
from core.graph import dialect as d
from core.model import EntityKind
from core.ports import PropValue, StoreStatus

DEFAULT_BATCH = 1000


def to_plain(value: Any) -> Any:
    """Neo4j result values as plain Python, shaped like the FalkorDB store's: nodes and
    relationships become property dicts (with `_labels` / `_type`), paths
    {'nodes': [...], 'rels': [...]}, temporal values their datetime/date/time."""
    if isinstance(value, Node):
        return {**dict(value.items()), "_labels": sorted(value.labels)}
    if isinstance(value, Relationship):
        return {**dict(value.items()), "_type": value.type}
    if isinstance(value, Path):
        return {"nodes": [to_plain(n) for n in value.nodes], "rels": [to_plain(r) for r in value.relationships]}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    to_native = getattr(value, "to_native", None)
    return to_native() if callable(to_native) else value


class Neo4jGraphStore:
    """GraphStore on one Neo4j 5 database."""

    backend = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str = "neo4j",
        password: str = "",
        database: str = "neo4j",
        *,
        query_timeout_ms: int = 30_000,
        connect_timeout_s: float = 5.0,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.uri = uri
        self.database = database
        self.query_timeout_ms = int(query_timeout_ms)
        self.batch_size = batch_size
        try:
            # the driver connects lazily; a bad URI fails here, an absent server on first use
            self._driver = neo4j.GraphDatabase.driver(uri, auth=(user, password), connection_timeout=connect_timeout_s)
        except (nx.ConfigurationError, ValueError) as e:
            raise BackendError(
                f"invalid Neo4j URI {uri!r}: {e}", backend="neo4j", hint="e.g. neo4j://127.0.0.1:7687"
            ) from e
        self._indexed: set[str] = set()

    @property
    def location(self) -> str:
        return f"{self.uri}/{self.database}"

    def _wrap(self, e: Exception, cypher: str) -> SherlogError:
        msg = str(e)
        if isinstance(e, nx.AuthError):
            return BackendUnavailable(
                f"Neo4j at {self.uri} refused our credentials: {msg}",
                backend="neo4j",
                hint="check SHERLOG_GRAPH__USER / SHERLOG_GRAPH__PASSWORD",
            )
        if isinstance(e, nx.ServiceUnavailable | nx.SessionExpired | OSError):
            return BackendUnavailable(
                f"cannot reach Neo4j at {self.uri}: {msg}",
                backend="neo4j",
                hint="check that Neo4j is running and SHERLOG_GRAPH__URI points at it",
            )
        code = getattr(e, "code", "") or ""
        if "TimedOut" in code or "Timeout" in code:
            return BackendTimeout(
                f"Neo4j query exceeded {self.query_timeout_ms} ms: {msg}",
                backend="neo4j",
                hint="narrow the query or raise SHERLOG_GRAPH__QUERY_TIMEOUT_MS",
            )
        return BackendError(f"Neo4j rejected the query: {msg}", backend="neo4j", hint=f"query was: {cypher[:200]}")

    def _run(self, cypher: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
        checked = d.check_params(params)
        try:
            res = self._driver.execute_query(
                neo4j.Query(cypher, timeout=self.query_timeout_ms / 1000.0),  # type: ignore[arg-type]
                checked,
                database_=self.database,
                routing_=neo4j.RoutingControl.WRITE,
            )
        except (nx.Neo4jError, nx.DriverError, OSError) as e:
            raise self._wrap(e, cypher) from e
        return list(res.keys), [list(r.values()) for r in res.records]

    # -- GraphStore --------------------------------------------------------
    def query(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read or write query; rows come back as dicts keyed by RETURN aliases."""
        cols, rows = self._run(cypher, params)
        return [{c: to_plain(v) for c, v in zip(cols, row, strict=False)} for row in rows]

    def run_schema(self, statements: Sequence[str]) -> None:
        """Run DDL statements (from core.graph.dialect); they use IF NOT EXISTS, and 'already exists' is success."""
        for stmt in statements:
            try:
                self._run(stmt)
            except BackendError as e:
                if type(e) is BackendError and d.is_index_exists_error(e.message):
                    continue
                raise

    def ensure_schema(self) -> None:
        """A uniqueness constraint on `id` for every entity label (idempotent)."""
        self.run_schema([d.node_id_index_ddl(self.backend, k.value) for k in EntityKind])
        self._indexed.update(k.value for k in EntityKind)

    def _ensure_id_index(self, label: str) -> None:
        if label not in self._indexed:
            self.run_schema([d.node_id_index_ddl(self.backend, label)])
            self._indexed.add(label)

    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, PropValue]]) -> int:
        """MERGE nodes by `id` and set the other properties (None removes one). Returns rows written."""
        cypher = d.upsert_nodes_cypher(label)
        clean = d.node_rows(label, rows)
        if not clean:
            return 0
        self._ensure_id_index(label)
        written = 0
        for i in range(0, len(clean), self.batch_size):
            _, res = self._run(cypher, {"rows": clean[i : i + self.batch_size]})
            written += int(res[0][0])
        return written

    def upsert_edges(
        self,
        rel_type: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        src_label: str | None = None,
        dst_label: str | None = None,
    ) -> int:
        """MERGE edges between existing nodes. Raises NotFound naming the edges whose ends do not exist."""
        cypher = d.upsert_edges_cypher(rel_type, src_label, dst_label)
        clean = d.edge_rows(rel_type, rows)
        written = 0
        for i in range(0, len(clean), self.batch_size):
            chunk = clean[i : i + self.batch_size]
            _, res = self._run(cypher, {"rows": chunk})
            n = int(res[0][0])
            if n < len(chunk):
                raise d.missing_endpoints_error(
                    rel_type, self._missing_ends(chunk, src_label, dst_label), written + n, len(clean)
                )
            written += n
        return written

    def _missing_ends(self, chunk: list[dict[str, Any]], src_label: str | None, dst_label: str | None) -> list[str]:
        missing: list[str] = []
        for end, label in (("src", src_label), ("dst", dst_label)):
            _, res = self._run(d.missing_ids_cypher(label), {"ids": sorted({r[end] for r in chunk})})
            missing += [f"{label or 'node'} '{row[0]}'" for row in res]
        return missing

    def count_nodes(self, label: str | None = None) -> int:
        _, res = self._run(d.count_nodes_cypher(label))
        return int(res[0][0])

    def count_edges(self, rel_type: str | None = None) -> int:
        _, res = self._run(d.count_edges_cypher(rel_type))
        return int(res[0][0])

    def delete_all(self) -> None:
        """Drop every node and relationship in slices; constraints and indexes stay."""
        while True:
            _, res = self._run(d.DELETE_SLICE_CYPHER, {"limit": 10_000})
            if not res or int(res[0][0]) == 0:
                return

    def labels(self) -> list[str]:
        _, res = self._run(d.LABELS_CYPHER)
        return sorted(str(r[0]) for r in res)

    def status(self) -> StoreStatus:
        """Counts per label, or running=False with the reason."""
        try:
            # labels that only carry an index (ensure_schema) have no nodes: leave them out
            counts = {label: n for label in self.labels() if (n := self.count_nodes(label))}
            nodes, edges = self.count_nodes(), self.count_edges()
        except SherlogError as e:
            return StoreStatus("graph", self.backend, False, self.location, detail=str(e))
        return StoreStatus(
            "graph", self.backend, True, self.location, counts=counts, detail=f"{nodes} nodes, {edges} edges"
        )

    def close(self) -> None:
        self._driver.close()
