"""The knowledge graph: GraphStore adapters (falkordb_store.FalkorDBGraphStore,
neo4j_store.Neo4jGraphStore), the embedded FalkorDB manager (falkordb_server),
the per-backend dialect table (dialect), and `build_graph_store`, which picks
one from Settings.

Vendor clients are imported only when a store of that kind is built, so importing
this package (or the server manager) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.graph.falkordb_server import EmbeddedFalkorDB
from core.settings import GraphSettings, Settings

if TYPE_CHECKING:
    from core.graph.falkordb_store import FalkorDBGraphStore
    from core.ports import GraphStore

__all__ = ["build_graph_store", "embedded_server", "external_falkordb"]


def embedded_server(settings: Settings) -> EmbeddedFalkorDB:
    """The manager of the embedded FalkorDB for these settings (not started)."""
    g = settings.graph
    return EmbeddedFalkorDB(settings.data_dir, host=g.host, port=g.port, start_timeout_s=g.start_timeout_s)


def external_falkordb(g: GraphSettings) -> FalkorDBGraphStore:
    """A store on a FalkorDB someone else runs, from `falkor[s]://[user:password@]host[:port]` (or redis[s]://).

    A password in the URI wins over SHERLOG_GRAPH__PASSWORD.
    """
    from core.graph.falkordb_conn import address_from_uri
    from core.graph.falkordb_store import FalkorDBGraphStore

    assert g.uri is not None
    addr = address_from_uri(g.uri, g.password.get_secret_value() or None)
    return FalkorDBGraphStore(
        addr.host,
        addr.port,
        g.graph_name,
        username=addr.username,
        password=addr.password,
        ssl=addr.ssl,
        query_timeout_ms=g.query_timeout_ms,
    )


def build_graph_store(settings: Settings) -> GraphStore:
    """The GraphStore the settings ask for.

    - no `graph.uri`: the embedded FalkorDB, started (or reused) under the data dir;
      raises PortInUse if another program holds `graph.port`.
    - `falkor://host:port`: an external FalkorDB.
    - `neo4j://` / `bolt://` (and their +s/+ssc forms): Neo4j 5.
    Connections are lazy: an unreachable external server shows up on first use.
    """
    g = settings.graph
    if g.backend == "neo4j":
        from core.graph.neo4j_store import Neo4jGraphStore

        assert g.uri is not None
        return Neo4jGraphStore(
            g.uri,
            g.user,
            g.password.get_secret_value(),
            g.database,
            query_timeout_ms=g.query_timeout_ms,
        )
    if g.embedded:
        from core.graph.falkordb_store import FalkorDBGraphStore

        settings.ensure_data_dir()
        server = embedded_server(settings)
        server.ensure_running()
        return FalkorDBGraphStore(g.host, g.port, g.graph_name, server=server, query_timeout_ms=g.query_timeout_ms)
    return external_falkordb(g)
