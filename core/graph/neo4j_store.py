"""GraphStore on Neo4j 5 through the official `neo4j` driver.

Same contract and the same Cypher as the FalkorDB store: the backend-neutral part
is core.graph.cypher_store, and core.graph.dialect holds the statements and the
few DDL lines that differ. The driver's managed transactions already retry
transient failures and reconnect, so this adapter only maps its errors onto Sherlog's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import neo4j
from neo4j import exceptions as nx
from neo4j.graph import Node, Path, Relationship

from core.errors import BackendError, BackendUnavailable, SherlogError
from core.graph import dialect as d
from core.graph.cypher_store import DEFAULT_BATCH, CypherGraphStore

__all__ = ["DEFAULT_BATCH", "Neo4jGraphStore", "to_plain"]


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


class Neo4jGraphStore(CypherGraphStore):
    """GraphStore on one Neo4j 5 database."""

    backend = "neo4j"
    vendor = "Neo4j"

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
        super().__init__(query_timeout_ms=query_timeout_ms, batch_size=batch_size)
        self.uri = uri
        self.database = database
        try:
            # the driver connects lazily; a bad URI fails here, an absent server on first use
            self._driver = neo4j.GraphDatabase.driver(uri, auth=(user, password), connection_timeout=connect_timeout_s)
        except (nx.ConfigurationError, ValueError) as e:
            raise BackendError(
                f"invalid Neo4j URI {uri!r}: {e}", backend="neo4j", hint="e.g. neo4j://127.0.0.1:7687"
            ) from e

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
            return self._timeout_error(msg)
        return self._rejected_error(msg, cypher)

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

    def _plain(self, value: Any) -> Any:
        return to_plain(value)

    def close(self) -> None:
        self._driver.close()
