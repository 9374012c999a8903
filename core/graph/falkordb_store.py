"""GraphStore on FalkorDB through its native `falkordb` client (RESP, not Bolt:
FalkorDB's Bolt port is experimental and crashed under UNWIND-with-maps).

When handed the EmbeddedFalkorDB manager, a connection failure makes the store
call `ensure_running()` (which restarts a dead server; its append-only log
brings every acknowledged write back) and retry the statement once. Upserts are
MERGEs, so that retry is idempotent; a hand-written CREATE passed to `query()`
may run twice if the server died after applying it but before answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from falkordb import Edge, FalkorDB, Graph, Node, Path

from core.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError, SherlogError
from core.graph import dialect as d
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.model import EntityKind
from core.ports import PropValue, StoreStatus

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1000


def to_plain(value: Any) -> Any:
    """FalkorDB result values as plain Python: nodes and edges become property dicts
    (with `_labels` / `_type`), paths become {'nodes': [...], 'rels': [...]}."""
    if isinstance(value, Node):
        return {**value.properties, "_labels": list(value.labels or [])}
    if isinstance(value, Edge):
        return {**value.properties, "_type": value.relation}
    if isinstance(value, Path):
        return {"nodes": [to_plain(n) for n in value.nodes()], "rels": [to_plain(e) for e in value.edges()]}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


class FalkorDBGraphStore:
    """GraphStore on one FalkorDB graph key, embedded (with its manager) or external."""

    backend = "falkordb"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6479,
        graph_name: str = "sherlog",
        *,
        server: EmbeddedFalkorDB | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl: bool = False,
        query_timeout_ms: int = 30_000,
        connect_timeout_s: float = 5.0,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if not graph_name or any(c.isspace() for c in graph_name):
            raise ConfigError(
                f"invalid FalkorDB graph name {graph_name!r}", hint="set SHERLOG_GRAPH__GRAPH_NAME, e.g. 'sherlog'"
            )
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.host = host
        self.port = port
        self.graph_name = graph_name
        self.server = server
        self.query_timeout_ms = int(query_timeout_ms)
        self.batch_size = batch_size
        self._username = username
        self._password = password
        self._ssl = ssl
        self._connect_timeout_s = connect_timeout_s
        # the socket must outlast the server-side query timeout, or a slow read looks like a dead server
        self._socket_timeout_s = self.query_timeout_ms / 1000.0 + 10.0
        self._db: FalkorDB | None = None
        self._graph: Graph | None = None
        self._lock = threading.Lock()
        self._indexed: set[str] = set()

    # -- connection --------------------------------------------------------
    @property
    def location(self) -> str:
        scheme = "falkors" if self._ssl else "falkor"
        return f"{scheme}://{self.host}:{self.port}/{self.graph_name}"

    def _connect(self) -> Graph:
        graph = self._graph
        if graph is not None:
            return graph
        with self._lock:
            if self._graph is None:
                # FalkorDB() already talks to the server (it probes for sentinel/cluster mode)
                self._db = FalkorDB(
                    host=self.host,
                    port=self.port,
                    username=self._username,
                    password=self._password,
                    ssl=self._ssl,
                    socket_connect_timeout=self._connect_timeout_s,
                    socket_timeout=self._socket_timeout_s,
                )
                self._graph = self._db.select_graph(self.graph_name)
            return self._graph

    def _drop_connection(self) -> None:
        db, self._db, self._graph = self._db, None, None
        if db is not None:
            try:
                db.close()
            except (redis.RedisError, OSError):
                pass

    def _recover(self) -> None:
        """After a connection failure: drop the pool, and bring the embedded server back if it died."""
        with self._lock:
            self._drop_connection()
            if self.server is not None:
                info = self.server.ensure_running()
                if info.started_now:
                    log.warning("embedded FalkorDB was not running; restarted it (pid %s)", info.pid)

    def _unavailable(self, e: Exception) -> BackendUnavailable:
        if self.server is not None:
            hint = f"run `sherlog up`; the server log is {self.server.data_dir / 'falkordb.log'}"
        else:
            hint = f"check that FalkorDB is running at {self.host}:{self.port} (SHERLOG_GRAPH__URI)"
        msg = f"cannot reach FalkorDB at {self.host}:{self.port}: {e}"
        return BackendUnavailable(msg, backend="falkordb", hint=hint)

    def _wrap(self, e: redis.RedisError, cypher: str) -> SherlogError:
        msg = str(e)
        if isinstance(e, redis.TimeoutError) or "timed out" in msg.lower():
            return BackendTimeout(
                f"FalkorDB query exceeded {self.query_timeout_ms} ms: {msg}",
                backend="falkordb",
                hint="narrow the query or raise SHERLOG_GRAPH__QUERY_TIMEOUT_MS",
            )
        if isinstance(e, redis.AuthenticationError):
            return BackendUnavailable(
                f"FalkorDB at {self.host}:{self.port} refused our credentials: {msg}",
                backend="falkordb",
                hint="check SHERLOG_GRAPH__URI / SHERLOG_GRAPH__PASSWORD",
            )
        if isinstance(e, redis.ConnectionError):
            return self._unavailable(e)
        return BackendError(
            f"FalkorDB rejected the query: {msg}",
            backend="falkordb",
            hint=f"query was: {cypher[:200]}",
        )

    def _run(self, cypher: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
        """Run one statement; returns (column names, raw rows). Retries once after a connection failure."""
        checked = d.check_params(params) if params else None
        for attempt in (1, 2):
            try:
                res = self._connect().query(cypher, checked, timeout=self.query_timeout_ms)
                return [h[1] for h in res.header], res.result_set
            except redis.AuthenticationError as e:
                raise self._wrap(e, cypher) from e
            except (redis.ConnectionError, OSError) as e:
                # a dead server, or a pooled socket the server closed when it restarted
                if attempt == 2:
                    raise self._unavailable(e) from e
                try:
                    self._recover()
                except SherlogError as err:
                    raise err from e
            except redis.RedisError as e:
                raise self._wrap(e, cypher) from e
        raise AssertionError("unreachable")  # pragma: no cover

    # -- GraphStore --------------------------------------------------------
    def query(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read or write query; rows come back as dicts keyed by RETURN aliases."""
        cols, rows = self._run(cypher, params)
        return [{c: to_plain(v) for c, v in zip(cols, row, strict=False)} for row in rows]

    def run_schema(self, statements: Sequence[str]) -> None:
        """Run DDL statements (from core.graph.dialect), treating 'already exists' as success."""
        for stmt in statements:
            try:
                self._run(stmt)
            except BackendError as e:
                if type(e) is BackendError and d.is_index_exists_error(e.message):
                    continue
                raise

    def ensure_schema(self) -> None:
        """Index `id` on every entity label (idempotent)."""
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
        """Drop every node and edge; indexes stay."""
        while True:
            _, res = self._run(d.DELETE_SLICE_CYPHER, {"limit": 10_000})
            if not res or int(res[0][0]) == 0:
                return

    def labels(self) -> list[str]:
        _, res = self._run(d.LABELS_CYPHER)
        return sorted(str(r[0]) for r in res)

    def status(self) -> StoreStatus:
        """Counts per label. Only reports: a dead embedded server is shown as not running, not restarted."""
        where = self.location + (f" (embedded, {self.server.data_dir})" if self.server is not None else "")
        if self.server is not None and not self.server.info().running:
            return StoreStatus("graph", self.backend, False, where, detail="embedded server is not running")
        try:
            # labels that only carry an index (ensure_schema) have no nodes: leave them out
            counts = {label: n for label in self.labels() if (n := self.count_nodes(label))}
            nodes, edges = self.count_nodes(), self.count_edges()
        except SherlogError as e:
            return StoreStatus("graph", self.backend, False, where, detail=str(e))
        return StoreStatus("graph", self.backend, True, where, counts=counts, detail=f"{nodes} nodes, {edges} edges")

    def close(self) -> None:
        """Close the client connections (the embedded server keeps running; stop it through its manager)."""
        with self._lock:
            self._drop_connection()
