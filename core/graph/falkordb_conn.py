"""The FalkorDB client plumbing the graph store (core.graph.falkordb_store) and the
vector store (core.vector.falkordb_vector) share: where a server is (from a
`falkor://` URI), one lazily opened client on one graph key, and how a client
error is classified. Each store still words its own errors, since they tell the
user different things (a query that was rejected vs. what the store was doing).
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import redis
from falkordb import FalkorDB, Graph

from core.errors import ConfigError

DEFAULT_REDIS_PORT = 6379


@dataclass(frozen=True)
class FalkorDBAddress:
    """Where an external FalkorDB listens and how to log in, as read from its URI."""

    host: str
    port: int
    username: str | None
    password: str | None
    ssl: bool


def address_from_uri(uri: str, default_password: str | None) -> FalkorDBAddress:
    """Parse `falkor[s]://[user:password@]host[:port]` (or redis[s]://); the port defaults to 6379.

    A password in the URI wins over `default_password` (SHERLOG_GRAPH__PASSWORD).
    Raises ConfigError for a URI that does not parse or names no host.
    """
    try:
        u = urlsplit(uri)
        port = u.port or DEFAULT_REDIS_PORT
    except ValueError as e:
        raise ConfigError(f"invalid graph URI {uri!r}: {e}", hint="e.g. falkor://127.0.0.1:6379") from e
    if not u.hostname:
        raise ConfigError(f"graph URI {uri!r} names no host", hint="e.g. falkor://127.0.0.1:6379")
    return FalkorDBAddress(
        host=u.hostname,
        port=port,
        username=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password else default_password,
        ssl=u.scheme.lower() in ("falkors", "rediss"),
    )


def check_graph_name(graph_name: str, *, hint: str) -> str:
    """`graph_name` if FalkorDB can use it as a graph key, else ConfigError (with `hint`)."""
    if not graph_name or any(c.isspace() for c in graph_name):
        raise ConfigError(f"invalid FalkorDB graph name {graph_name!r}", hint=hint)
    return graph_name


class Failure(enum.Enum):
    """What kind of failure a FalkorDB client error is."""

    TIMEOUT = "timeout"
    AUTH = "auth"
    UNREACHABLE = "unreachable"
    OTHER = "other"


def classify(e: BaseException) -> Failure:
    """Sort a client error (redis.RedisError, OSError) into a Failure.

    The server's own query deadline comes back as an error reply ("Query timed out"),
    not a redis.TimeoutError, so a timeout is recognised by its text as well as by type.
    """
    if isinstance(e, redis.TimeoutError) or "timed out" in str(e).lower():
        return Failure.TIMEOUT
    if isinstance(e, redis.AuthenticationError):  # a ConnectionError subclass: test it first
        return Failure.AUTH
    if isinstance(e, redis.ConnectionError | OSError):
        return Failure.UNREACHABLE
    return Failure.OTHER


class FalkorDBConnection:
    """One FalkorDB client on one graph key, opened on first use and reopened after `close()`.

    Errors from the client come out raw (redis.RedisError, OSError); the store using
    the connection maps them onto Sherlog's errors.
    """

    def __init__(
        self, address: FalkorDBAddress, graph_name: str, *, query_timeout_ms: int, connect_timeout_s: float
    ) -> None:
        self.address = address
        self.graph_name = graph_name
        self._connect_timeout_s = connect_timeout_s
        # the socket must outlast the server-side query timeout, or a slow read looks like a dead server
        self._socket_timeout_s = int(query_timeout_ms) / 1000.0 + 10.0
        self._db: FalkorDB | None = None
        self._graph: Graph | None = None
        # Held while the client is opened or closed. Reentrant so that a caller can hold it
        # across close() and whatever must happen before anyone reopens (a server restart).
        self.lock = threading.RLock()

    @property
    def location(self) -> str:
        scheme = "falkors" if self.address.ssl else "falkor"
        return f"{scheme}://{self.address.host}:{self.address.port}/{self.graph_name}"

    def graph(self) -> Graph:
        """The graph key's handle, opening the client if there is none."""
        graph = self._graph
        if graph is not None:
            return graph
        with self.lock:
            if self._graph is None:
                # FalkorDB() already talks to the server (it probes for sentinel/cluster mode)
                self._db = FalkorDB(
                    host=self.address.host,
                    port=self.address.port,
                    username=self.address.username,
                    password=self.address.password,
                    ssl=self.address.ssl,
                    socket_connect_timeout=self._connect_timeout_s,
                    socket_timeout=self._socket_timeout_s,
                )
                self._graph = self._db.select_graph(self.graph_name)
            return self._graph

    def close(self) -> None:
        """Close the client, if one is open; the next `graph()` opens a new one."""
        with self.lock:
            db, self._db, self._graph = self._db, None, None
            if db is not None:
                try:
                    db.close()
                except (redis.RedisError, OSError):
                    pass  # closing a dead connection has nothing left to release


class OnFalkorDBGraph:
    """Mixin for a store that keeps its data in one FalkorDB graph key through `self._conn`:
    where that is, as the read-only attributes `host`, `port`, `graph_name` and `location`."""

    _conn: FalkorDBConnection

    @property
    def host(self) -> str:
        return self._conn.address.host

    @property
    def port(self) -> int:
        return self._conn.address.port

    @property
    def graph_name(self) -> str:
        return self._conn.graph_name

    @property
    def location(self) -> str:
        return self._conn.location
