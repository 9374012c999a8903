"""Composition root: build every adapter once from Settings and hand them out.

Nothing else constructs clients. The embedded FalkorDB is started (or reused,
or restarted) here; the embedder and LLM are built lazily because loading the
model costs ~1 s and most commands never need it.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from functools import cached_property

from core.db.store import RelationalStore
from core.embed import build_embedder
from core.errors import SherlogError
from core.graph import build_graph_store, embedded_server
from core.graph.falkordb_server import ServerInfo
from core.llm import build_llm
from core.ports import LLM, Embedder, GraphStore, StoreStatus, VectorStore
from core.settings import Settings
from core.vector import build_vector_store


def falkor_address(settings: Settings) -> tuple[str, int]:
    """host, port of the FalkorDB server in use (embedded or `falkor://host:port`)."""
    if settings.graph.embedded:
        return settings.graph.host, settings.graph.port
    assert settings.graph.uri is not None
    rest = settings.graph.uri.split("://", 1)[1].rsplit("@", 1)[-1].split("/", 1)[0]
    host, _, port = rest.partition(":")
    return host or "127.0.0.1", int(port or 6379)


@dataclass
class Stack:
    """Every store and model client Sherlog uses, built from one Settings."""

    settings: Settings
    server_info: ServerInfo | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def graph(self) -> GraphStore:
        return build_graph_store(self.settings)

    @cached_property
    def vectors(self) -> VectorStore:
        host, port = falkor_address(self.settings)
        store = build_vector_store(self.settings, falkor_host=host, falkor_port=port)
        store.ensure_collection(self.settings.embedder.dim)
        return store

    @cached_property
    def db(self) -> RelationalStore:
        return RelationalStore.from_settings(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings)

    @cached_property
    def llm(self) -> LLM:
        return build_llm(self.settings)

    def statuses(self) -> list[StoreStatus]:
        """Status of each store; an unreachable one is reported, never raised."""
        out: list[StoreStatus] = []
        getters = (("graph", lambda: self.graph), ("vector", lambda: self.vectors), ("relational", lambda: self.db))
        for name, getter in getters:
            try:
                out.append(getter().status())
            except SherlogError as e:
                out.append(StoreStatus(name=name, backend="?", running=False, location="", detail=str(e)))
        return out

    def close(self) -> None:
        for name in ("graph", "vectors"):
            if name in self.__dict__:
                with contextlib.suppress(Exception):
                    getattr(self, name).close()
        if "db" in self.__dict__:
            with contextlib.suppress(Exception):
                self.db.close()


def open_stack(settings: Settings, *, start: bool = True) -> Stack:
    """Build the stack; with `start`, bring up (or revive) the embedded FalkorDB first."""
    settings.ensure_data_dir()
    info = embedded_server(settings).ensure_running() if (start and settings.graph.embedded) else None
    return Stack(settings=settings, server_info=info)
