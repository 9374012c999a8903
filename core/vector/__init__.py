"""The vector index: VectorStore adapters (falkordb_vector.FalkorDBVectorStore,
weaviate_store.WeaviateVectorStore), hybrid fusion (fusion), shared input checks
(validate), and `build_vector_store`, which picks one from Settings.

Vendor clients are imported only when a store of that kind is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from core.ports import VectorStore

__all__ = ["build_vector_store", "vector_graph_name"]

_FALKOR_SCHEMES = ("falkor", "falkors", "redis", "rediss")


def vector_graph_name(settings: Settings) -> str:
    """The FalkorDB graph key for vector documents, kept apart from the knowledge graph."""
    return f"{settings.graph.graph_name}_vectors"


def build_vector_store(
    settings: Settings,
    *,
    falkor_host: str | None = None,
    falkor_port: int | None = None,
) -> VectorStore:
    """The VectorStore the settings ask for, created for `settings.embedder.dim`.

    - `vector.url` set: Weaviate at that URL (connects now; BackendUnavailable if it cannot).
    - otherwise FalkorDB's vector + full-text indexes in graph `<graph_name>_vectors` on
      `falkor_host:falkor_port` (the composition root passes the server it started), else
      on the external FalkorDB named by a `falkor://` graph URI, else on `graph.host:graph.port`.
      This function does not start a server; the connection opens on first use.
    """
    dim = settings.embedder.dim
    if settings.vector.backend == "weaviate":
        from core.vector.weaviate_store import WeaviateVectorStore, connect_weaviate

        assert settings.vector.url is not None
        key = settings.vector.api_key.get_secret_value() if settings.vector.api_key else None
        client = connect_weaviate(settings.vector.url, grpc_port=settings.vector.grpc_port, api_key=key)
        return WeaviateVectorStore(client, settings.vector.collection, dim=dim, location=settings.vector.url)

    from core.graph.falkordb_conn import address_from_uri
    from core.vector.falkordb_vector import FalkorDBVectorStore

    g = settings.graph
    host, port = g.host, g.port
    username = password = None
    ssl = False
    if falkor_host is not None or falkor_port is not None:
        # the server the composition root started: credentials of an external URI do not apply
        host = falkor_host if falkor_host is not None else host
        port = falkor_port if falkor_port is not None else port
    elif g.uri and g.uri.split("://", 1)[0].lower() in _FALKOR_SCHEMES:
        addr = address_from_uri(g.uri, g.password.get_secret_value() or None)
        host, port, username, password, ssl = addr.host, addr.port, addr.username, addr.password, addr.ssl
    return FalkorDBVectorStore(
        host,
        port,
        vector_graph_name(settings),
        dim=dim,
        username=username,
        password=password,
        ssl=ssl,
        query_timeout_ms=g.query_timeout_ms,
    )
