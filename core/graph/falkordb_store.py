"""GraphStore on FalkorDB through its native `falkordb` client (RESP, not Bolt:
FalkorDB's Bolt port is experimental and crashed under UNWIND-with-maps).

The backend-neutral part (validation, batching, schema, counts) is
core.graph.cypher_store; the client and error classes are core.graph.falkordb_conn,
shared with the vector store. This module adds the retry and FalkorDB's error wording.

When handed the EmbeddedFalkorDB manager, a connection failure makes the store
call `ensure_running()` (which restarts a dead server; its append-only log
brings every acknowledged write back) and retry the statement once. Upserts are
MERGEs, so that retry is idempotent; a hand-written CREATE passed to `query()`
may run twice if the server died after applying it but before answering.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis
from falkordb import Edge, Node, Path

from core.errors import BackendUnavailable, SherlogError
from core.graph import dialect as d
from core.graph import falkordb_conn as fc
from core.graph.cypher_store import DEFAULT_BATCH, CypherGraphStore
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.ports import StoreStatus

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_BATCH", "FalkorDBGraphStore", "to_plain"]


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


class FalkorDBGraphStore(fc.OnFalkorDBGraph, CypherGraphStore):
    """GraphStore on one FalkorDB graph key, embedded (with its manager) or external."""

    backend = "falkordb"
    vendor = "FalkorDB"

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
        fc.check_graph_name(graph_name, hint="set SHERLOG_GRAPH__GRAPH_NAME, e.g. 'sherlog'")
        super().__init__(query_timeout_ms=query_timeout_ms, batch_size=batch_size)
        self.server = server
        address = fc.FalkorDBAddress(host, port, username, password, ssl)
        self._conn = fc.FalkorDBConnection(
            address, graph_name, query_timeout_ms=self.query_timeout_ms, connect_timeout_s=connect_timeout_s
        )

    # -- connection --------------------------------------------------------
    def _recover(self) -> None:
        """After a connection failure: drop the pool, and bring the embedded server back if it died."""
        # hold the lock throughout, so no other thread reconnects to a server still being restarted
        with self._conn.lock:
            self._conn.close()
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
        failure = fc.classify(e)
        if failure is fc.Failure.TIMEOUT:
            return self._timeout_error(msg)
        if failure is fc.Failure.AUTH:
            return BackendUnavailable(
                f"FalkorDB at {self.host}:{self.port} refused our credentials: {msg}",
                backend="falkordb",
                hint="check SHERLOG_GRAPH__URI / SHERLOG_GRAPH__PASSWORD",
            )
        if failure is fc.Failure.UNREACHABLE:
            return self._unavailable(e)
        return self._rejected_error(msg, cypher)

    def _run(self, cypher: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
        """Run one statement; returns (column names, raw rows). Retries once after a connection failure."""
        checked = d.check_params(params) if params else None
        for attempt in (1, 2):
            try:
                res = self._conn.graph().query(cypher, checked, timeout=self.query_timeout_ms)
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

    def _plain(self, value: Any) -> Any:
        return to_plain(value)

    # -- GraphStore --------------------------------------------------------
    def status(self) -> StoreStatus:
        """Counts per label. Only reports: a dead embedded server is shown as not running, not restarted."""
        where = self.location + (f" (embedded, {self.server.data_dir})" if self.server is not None else "")
        if self.server is not None and not self.server.info().running:
            return StoreStatus("graph", self.backend, False, where, detail="embedded server is not running")
        return self._counted_status(where)

    def close(self) -> None:
        """Close the client connections (the embedded server keeps running; stop it through its manager)."""
        self._conn.close()
