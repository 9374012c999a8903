"""The part of a GraphStore that does not depend on the backend, written once for
FalkorDB (core.graph.falkordb_store) and Neo4j (core.graph.neo4j_store).

Both speak the same Cypher (core.graph.dialect), so validation, batching, schema
runs, the missing-endpoint report, counts and status live here. A backend adds
only `_run` (one statement to column names and raw rows, its errors mapped onto
Sherlog's), `_plain` (its result values as plain Python), `location` and `close`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import BackendError, BackendTimeout, SherlogError
from core.graph import dialect as d
from core.model import EntityKind
from core.ports import PropValue, StoreStatus

DEFAULT_BATCH = 1000


class CypherGraphStore(ABC):
    """GraphStore over a backend's `_run`; see the module docstring for what a subclass supplies."""

    backend: str
    vendor: str  # the backend as messages name it, e.g. "FalkorDB"

    def __init__(self, *, query_timeout_ms: int, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.query_timeout_ms = int(query_timeout_ms)
        self.batch_size = batch_size
        self._indexed: set[str] = set()

    # -- what a backend supplies -------------------------------------------
    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store is, for status and error messages."""

    @abstractmethod
    def _run(self, cypher: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
        """Run one statement; returns (column names, raw rows). Raises SherlogError subclasses."""

    @abstractmethod
    def _plain(self, value: Any) -> Any:
        """One result value as plain Python (nodes and edges as property dicts)."""

    @abstractmethod
    def close(self) -> None:
        """Release the client's connections."""

    # -- errors both backends word alike ------------------------------------
    def _timeout_error(self, msg: str) -> BackendTimeout:
        """A query that ran past `query_timeout_ms`; `msg` is the backend's own words."""
        return BackendTimeout(
            f"{self.vendor} query exceeded {self.query_timeout_ms} ms: {msg}",
            backend=self.backend,
            hint="narrow the query or raise SHERLOG_GRAPH__QUERY_TIMEOUT_MS",
        )

    def _rejected_error(self, msg: str, cypher: str) -> BackendError:
        """A query the backend refused (syntax, unknown function, constraint ...)."""
        return BackendError(
            f"{self.vendor} rejected the query: {msg}", backend=self.backend, hint=f"query was: {cypher[:200]}"
        )

    # -- GraphStore --------------------------------------------------------
    def query(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read or write query; rows come back as dicts keyed by RETURN aliases."""
        cols, rows = self._run(cypher, params)
        return [{c: self._plain(v) for c, v in zip(cols, row, strict=False)} for row in rows]

    def run_schema(self, statements: Sequence[str]) -> None:
        """Run DDL statements (from core.graph.dialect), treating 'already exists' as success.

        Neo4j's use IF NOT EXISTS; FalkorDB has no such clause, so its error is recognised instead.
        """
        for stmt in statements:
            try:
                self._run(stmt)
            except BackendError as e:
                if type(e) is BackendError and d.is_index_exists_error(e.message):
                    continue
                raise

    def ensure_schema(self) -> None:
        """Index `id` on every entity label (idempotent): an index on FalkorDB, a uniqueness constraint on Neo4j."""
        self.run_schema([d.node_id_index_ddl(self.backend, k.value) for k in EntityKind])
        self._indexed.update(k.value for k in EntityKind)

    def _ensure_id_index(self, label: str) -> None:
        # MERGE by id without an index scans the label; index labels on first write
        if label not in self._indexed:
            self.run_schema([d.node_id_index_ddl(self.backend, label)])
            self._indexed.add(label)

    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, PropValue]]) -> int:
        """MERGE nodes by `id` and set the other properties (None removes one). Returns rows written."""
        cypher = d.upsert_nodes_cypher(label)
        clean = d.node_rows(label, rows)  # validate everything before writing anything
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
        """MERGE edges between existing nodes. Raises NotFound naming the edges whose ends do not exist.

        Pass the labels: without them each end is looked up in every label (a scan).
        """
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
        """Drop every node and edge, in slices; indexes and constraints stay."""
        while True:
            _, res = self._run(d.DELETE_SLICE_CYPHER, {"limit": 10_000})
            if not res or int(res[0][0]) == 0:
                return

    def labels(self) -> list[str]:
        _, res = self._run(d.LABELS_CYPHER)
        return sorted(str(r[0]) for r in res)

    def status(self) -> StoreStatus:
        """Counts per label, or running=False with the reason."""
        return self._counted_status(self.location)

    def _counted_status(self, where: str) -> StoreStatus:
        try:
            # labels that only carry an index (ensure_schema) have no nodes: leave them out
            counts = {label: n for label in self.labels() if (n := self.count_nodes(label))}
            nodes, edges = self.count_nodes(), self.count_edges()
        except SherlogError as e:
            return StoreStatus("graph", self.backend, False, where, detail=str(e))
        return StoreStatus("graph", self.backend, True, where, counts=counts, detail=f"{nodes} nodes, {edges} edges")
