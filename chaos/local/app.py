"""The demo app: five real HTTP services on 127.0.0.1, each its own process, and a load generator.

    frontend ──► checkout ──► payments
        │            └──────► orders-db
        └──────► catalog

``DemoApp(workdir).start()`` starts every service (``python -m chaos.local.service``)
on a free port in its own process group and waits until each answers ``/healthz``.
Logs go to ``workdir/logs/<service>.log`` (JSON lines), each service's sandbox is
``workdir/sandbox/<service>``. ``LoadGenerator`` sends steady traffic to the entry
service from a thread of the calling process.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chaos.local.procs import ManagedProcess, free_port, wait_http_ok
from chaos.local.service import DEFAULT_QUOTA_BYTES
from core.errors import BackendError, BackendUnavailable, InputError, NotFound

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "local"
NAMESPACE = "demo"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServiceSpec:
    """One demo service: its name, what it calls, and how Sherlog's topology should type it."""

    name: str
    deps: tuple[str, ...] = ()
    kind: str = "Service"


DEMO_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("frontend", ("checkout", "catalog")),
    ServiceSpec("checkout", ("payments", "orders-db")),
    ServiceSpec("payments"),
    ServiceSpec("orders-db", kind="Database"),
    ServiceSpec("catalog"),
)
ENTRY_SERVICE = "frontend"


def check_services(services: Sequence[ServiceSpec]) -> None:
    """Names unique, dependencies known, no cycles (a cycle would make one request loop forever)."""
    names = [s.name for s in services]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"demo app: duplicate service name(s): {', '.join(dupes)}")
    known = set(names)
    for s in services:
        for d in s.deps:
            if d not in known:
                raise InputError(f"demo app: service '{s.name}' depends on unknown service '{d}'")
    deps = {s.name: s.deps for s in services}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 1:
            raise InputError(f"demo app: dependency cycle {' -> '.join([*path, n])}")
        if state.get(n) == 2:
            return
        state[n] = 1
        for d in deps[n]:
            visit(d, [*path, n])
        state[n] = 2

    for n in names:
        visit(n, [])


def demo_topology(services: Sequence[ServiceSpec] = DEMO_SERVICES) -> dict[str, Any]:
    """The demo app as Sherlog's static topology document (what `POST /ingest/topology` takes)."""
    return {
        "cluster": CLUSTER,
        "namespace": NAMESPACE,
        "services": [
            {"name": s.name, "kind": s.kind, "replicas": 1, **({"depends_on": list(s.deps)} if s.deps else {})}
            for s in services
        ],
    }


@dataclass
class _Running:
    spec: ServiceSpec
    port: int
    proc: ManagedProcess


class DemoApp:
    """Starts, restarts and stops the demo services; knows their ports, logs and sandboxes."""

    def __init__(
        self,
        workdir: Path,
        services: Sequence[ServiceSpec] = DEMO_SERVICES,
        *,
        disk_quota_bytes: int = DEFAULT_QUOTA_BYTES,
        python: str = sys.executable,
    ) -> None:
        check_services(services)
        self.workdir = workdir
        self.services = tuple(services)
        self.disk_quota_bytes = disk_quota_bytes
        self._python = python
        self._ports = {s.name: free_port() for s in services}
        self._running: dict[str, _Running] = {}
        self._client_: httpx.Client | None = None

    @property
    def _client(self) -> httpx.Client:
        if self._client_ is None:
            self._client_ = httpx.Client(timeout=5.0, trust_env=False)  # loopback: no proxy
        return self._client_

    # ---- where things are
    def _spec(self, name: str) -> ServiceSpec:
        for s in self.services:
            if s.name == name:
                return s
        raise NotFound(f"no demo service '{name}'", hint=f"demo services: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]

    def port(self, name: str) -> int:
        self._spec(name)
        return self._ports[name]

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port(name)}"

    def log_file(self, name: str) -> Path:
        return self.workdir / "logs" / f"{self._spec(name).name}.log"

    def sandbox(self, name: str) -> Path:
        return self.workdir / "sandbox" / self._spec(name).name

    def process(self, name: str) -> ManagedProcess:
        self._spec(name)
        if name not in self._running:
            raise BackendUnavailable(f"demo service '{name}' was never started", backend="chaos-local")
        return self._running[name].proc

    def targets(self) -> dict[str, str]:
        """service name → host:port, for Prometheus' scrape config."""
        return {s.name: f"{HOST}:{self._ports[s.name]}" for s in self.services}

    # ---- lifecycle
    def _argv(self, spec: ServiceSpec) -> list[str]:
        argv = [
            self._python,
            "-m",
            "chaos.local.service",
            "--name",
            spec.name,
            "--port",
            str(self._ports[spec.name]),
            "--log-file",
            str(self.log_file(spec.name)),
            "--sandbox",
            str(self.sandbox(spec.name)),
            "--disk-quota-bytes",
            str(self.disk_quota_bytes),
        ]
        if spec.deps:
            argv += ["--deps", *(f"{d}={self.url(d)}" for d in spec.deps)]
        return argv

    def _launch(self, spec: ServiceSpec) -> ManagedProcess:
        proc = ManagedProcess(spec.name, self._argv(spec), log_file=self.workdir / "procs" / f"{spec.name}.out")
        # cwd = the project root so `-m chaos.local.service` imports this very checkout
        proc.cwd = PROJECT_ROOT
        proc.start()
        self._running[spec.name] = _Running(spec, self._ports[spec.name], proc)
        return proc

    def start(self, *, timeout: float = 30.0) -> DemoApp:
        """Start every service and wait until each answers `/healthz`; on failure stop them all."""
        try:
            procs = [self._launch(s) for s in self.services]
            for p in procs:
                wait_http_ok(p, f"{self.url(p.name)}/healthz", timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, name: str, *, timeout: float = 30.0) -> None:
        """Start a service again on the same port (after a kill); waits until it is healthy."""
        spec = self._spec(name)
        old = self._running.get(name)
        if old is not None:
            old.proc.stop()
        wait_http_ok(self._launch(spec), f"{self.url(name)}/healthz", timeout=timeout)

    def stop(self) -> None:
        for running in reversed(list(self._running.values())):
            running.proc.stop()

    def close(self) -> None:
        self.stop()
        if self._client_ is not None:
            self._client_.close()
            self._client_ = None

    # ---- faults over HTTP
    def set_fault(self, name: str, **body: Any) -> dict[str, Any]:
        """POST the fault fields to the service's `/fault`; returns its new fault state."""
        url = f"{self.url(name)}/fault"
        try:
            resp = self._client.post(url, json=body)
        except httpx.HTTPError as e:
            raise BackendUnavailable(f"demo service '{name}' did not take the fault ({url}): {e}", backend=name) from e
        if resp.status_code == 400:
            raise InputError(f"demo service '{name}' refused the fault: {resp.json().get('error')}")
        if resp.status_code != 200:
            raise BackendError(f"demo service '{name}' answered HTTP {resp.status_code} to {url}", backend=name)
        out: dict[str, Any] = resp.json()
        return out

    def __enter__(self) -> DemoApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class LoadStats:
    """What the load generator did: requests sent, answered 2xx, failed, skipped (all workers busy)."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class LoadGenerator:
    """Steady GET traffic at `rps` requests/s to `url`, from a ticker thread and a small worker pool.

    A slow target does not slow the ticker down: at most `max_in_flight`
    requests are outstanding and ticks beyond that are counted as skipped.
    """

    def __init__(self, url: str, *, rps: float = 10.0, max_in_flight: int = 8, timeout_s: float = 5.0) -> None:
        if not 0 < rps <= 200:
            raise InputError(f"load generator rate must be in (0, 200] requests/s, got {rps}")
        self.url = url
        self.rps = rps
        self.max_in_flight = max_in_flight
        self.stats = LoadStats()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stop = threading.Event()
        self._client = httpx.Client(
            timeout=timeout_s, limits=httpx.Limits(max_connections=max_in_flight), trust_env=False
        )
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="load")
        self._thread = threading.Thread(target=self._tick, name="load-ticker", daemon=True)

    def start(self) -> LoadGenerator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def snapshot(self) -> LoadStats:
        with self._lock:
            return LoadStats(
                self.stats.sent, self.stats.ok, self.stats.failed, self.stats.skipped, dict(self.stats.by_status)
            )

    def _tick(self) -> None:
        period = 1.0 / self.rps
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                if self._in_flight >= self.max_in_flight:
                    self.stats.skipped += 1
                else:
                    self._in_flight += 1
                    self.stats.sent += 1
                    self._pool.submit(self._one)
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _one(self) -> None:
        try:
            status = str(self._client.get(self.url).status_code)
        except httpx.HTTPError as e:
            status = type(e).__name__
        with self._lock:
            self._in_flight -= 1
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            if status.startswith("2"):
                self.stats.ok += 1
            else:
                self.stats.failed += 1


def service_logs(app: DemoApp) -> Mapping[str, Path]:
    """service name → its JSON-lines log file."""
    return {n: app.log_file(n) for n in app.names}
