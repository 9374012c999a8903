"""One demo service: a real HTTP server on 127.0.0.1 that Prometheus scrapes and faults break.

    python -m chaos.local.service --name checkout --port 8101 \\
        --deps payments=http://127.0.0.1:8102 orders-db=http://127.0.0.1:8103 \\
        --log-file logs/checkout.log --sandbox sandbox/checkout

Endpoints:

- ``GET /``: one unit of work: a little CPU and sleep, a record appended to the
  journal in its sandbox (fails when the sandbox is over quota, like a full
  disk), then one call to each dependency; any failure answers 5xx.
- ``GET /metrics``: Prometheus exposition: ``http_requests_total{method,code}``,
  ``http_request_duration_seconds`` (histogram), ``http_client_requests_total{peer,code}``,
  ``process_cpu_usage`` (cores, gauge), ``container_cpu_usage_seconds_total``,
  ``container_memory_working_set_bytes``, ``sandbox_disk_used_bytes`` and
  ``sandbox_disk_quota_bytes``. The container_* names follow cAdvisor so Sherlog's
  default golden-signal queries work unchanged.
- ``GET|POST /fault``: read or change the fault state (``latency_ms``,
  ``error_rate``, ``error_message``, ``cpu_burn``, ``cpu_duty``, ``disk_fill``,
  ``reset``); a bad field answers 400 naming it.
- ``GET /healthz``: liveness (not counted in the request metrics).

Every request writes one JSON line to ``--log-file``.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chaos.local import sandbox
from core.errors import InputError

DEFAULT_QUOTA_BYTES = 16 * 1024 * 1024
JOURNAL = "journal.log"
_JOURNAL_ROTATE_BYTES = 256 * 1024
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_MAX_LATENCY_MS = 30_000.0
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# dependencies are on loopback: never route them through an http_proxy from the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ServiceConfig:
    """Everything one service process needs; built from its command line."""

    name: str
    port: int
    log_file: Path
    sandbox: Path
    deps: Mapping[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    disk_quota_bytes: int = DEFAULT_QUOTA_BYTES
    base_latency_ms: float = 4.0
    dep_timeout_s: float = 3.0


# --------------------------------------------------------------------------- fault state


@dataclass
class _Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_message: str = "internal error: RuntimeError in request handler"
    cpu_burn: bool = False
    cpu_duty: float = 0.9
    disk_fill: dict[str, Any] | None = None


_FAULT_KEYS = ("latency_ms", "error_rate", "error_message", "cpu_burn", "cpu_duty", "disk_fill", "reset")


def _number(body: Mapping[str, Any], key: str, lo: float, hi: float) -> float:
    v = body[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= float(v) <= hi:
        raise InputError(f"fault field '{key}' must be a number between {lo:g} and {hi:g}, got {v!r}")
    return float(v)


def _validated(body: Any, current: _Faults) -> _Faults:
    """The fault state after applying `body`; checks every field before changing anything."""
    if not isinstance(body, Mapping):
        raise InputError(f"fault body must be a JSON object, got {type(body).__name__}")
    unknown = [k for k in body if k not in _FAULT_KEYS]
    if unknown:
        raise InputError(f"unknown fault field(s) {', '.join(map(repr, unknown))}; known: {', '.join(_FAULT_KEYS)}")
    new = _Faults() if body.get("reset") is True else _Faults(**vars(current))
    if "reset" in body and not isinstance(body["reset"], bool):
        raise InputError(f"fault field 'reset' must be true or false, got {body['reset']!r}")
    if "latency_ms" in body:
        new.latency_ms = _number(body, "latency_ms", 0, _MAX_LATENCY_MS)
    if "error_rate" in body:
        new.error_rate = _number(body, "error_rate", 0, 1)
    if "cpu_duty" in body:
        new.cpu_duty = _number(body, "cpu_duty", 0.05, 1)
    if "error_message" in body:
        msg = body["error_message"]
        if not isinstance(msg, str) or not msg.strip():
            raise InputError(f"fault field 'error_message' must be a non-empty string, got {msg!r}")
        new.error_message = msg.strip()
    if "cpu_burn" in body:
        if not isinstance(body["cpu_burn"], bool):
            raise InputError(f"fault field 'cpu_burn' must be true or false, got {body['cpu_burn']!r}")
        new.cpu_burn = body["cpu_burn"]
    if "disk_fill" in body:
        fill = body["disk_fill"]
        if fill is not None:
            if not isinstance(fill, Mapping) or set(fill) - {"path", "bytes"} or "bytes" not in fill:
                raise InputError(f"fault field 'disk_fill' must be null or {{'path': str, 'bytes': int}}, got {fill!r}")
            path = fill.get("path", "filler.bin")
            if not isinstance(path, str) or not path:
                raise InputError(f"disk_fill.path must be a relative file path, got {path!r}")
            fill = {"path": path, "bytes": fill["bytes"]}
        new.disk_fill = fill
    return new


class CpuBurner:
    """A busy-loop thread: burns `duty` of one core in 50 ms slices until stopped."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.duty = 0.9

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, duty: float) -> None:
        self.duty = duty
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._burn, name="cpu-burn", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None

    def _burn(self) -> None:
        slice_s = 0.05
        x = 0
        while not self._stop.is_set():
            end = time.perf_counter() + slice_s * self.duty
            while time.perf_counter() < end:
                x = (x * 31 + 7) % 1_000_003  # real work the interpreter cannot skip
            if self.duty < 1:
                self._stop.wait(slice_s * (1 - self.duty))


# --------------------------------------------------------------------------- logs and journal


class JsonLog:
    """Thread-safe JSON-lines writer, one line per call, flushed at once."""

    def __init__(self, path: Path, service: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("a", encoding="utf-8", buffering=1)
        self._service = service
        self._lock = threading.Lock()

    def write(self, level: str, msg: str, **fields: Any) -> None:
        now = datetime.now(UTC)
        rec = {"ts": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z", "level": level}
        rec.update(service=self._service, msg=msg, **{k: v for k, v in fields.items() if v is not None})
        line = json.dumps(rec, separators=(",", ":"))
        with self._lock:
            self._f.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._f.close()


class Journal:
    """Appends a record per request to the sandbox; over quota it fails with ENOSPC, as a full disk does.

    Usage is rescanned in the background (the sandbox can be filled from outside)
    and counted on every append in between.
    """

    def __init__(self, root: Path, quota: int) -> None:
        self.root = root
        self.quota = quota
        root.mkdir(parents=True, exist_ok=True)
        self._path = root / JOURNAL
        self._lock = threading.Lock()
        self.used = sandbox.usage(root)

    def rescan(self) -> int:
        used = sandbox.usage(self.root)
        with self._lock:
            self.used = used
        return used

    def append(self, record: str) -> None:
        data = (record + "\n").encode()
        with self._lock:
            if self.used + len(data) > self.quota:
                raise OSError(errno.ENOSPC, f"No space left on device (sandbox quota {self.quota} bytes)")
            size = self._path.stat().st_size if self._path.exists() else 0
            mode = "wb" if size > _JOURNAL_ROTATE_BYTES else "ab"  # keep the journal small: rotate by truncation
            with self._path.open(mode) as f:
                f.write(data)
            self.used += len(data) - (size if mode == "wb" else 0)


# --------------------------------------------------------------------------- metrics


def _rss_bytes() -> float:
    try:
        with open("/proc/self/statm") as f:
            return float(int(f.read().split()[1]) * _PAGE)
    except (OSError, ValueError, IndexError):
        import resource

        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


class ResourceCollector(Collector):
    """CPU (cumulative seconds and cores used since the last scrape), memory and sandbox usage."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._lock = threading.Lock()
        self._last = (time.monotonic(), time.process_time())
        self._usage = 0.0

    def collect(self) -> Iterable[Metric]:
        now, cpu = time.monotonic(), time.process_time()
        with self._lock:
            last_wall, last_cpu = self._last
            # a very short gap between two scrapes gives a noisy ratio: keep the previous one
            if now - last_wall >= 0.2:
                self._usage = max(0.0, (cpu - last_cpu) / (now - last_wall))
                self._last = (now, cpu)
            usage = self._usage
        yield GaugeMetricFamily("process_cpu_usage", "CPU cores used by the process since the last scrape", usage)
        yield CounterMetricFamily("container_cpu_usage_seconds", "CPU seconds used by the process", cpu)
        yield GaugeMetricFamily("container_memory_working_set_bytes", "Resident memory of the process", _rss_bytes())
        yield GaugeMetricFamily("sandbox_disk_used_bytes", "Bytes used in the service's sandbox", self._journal.used)
        yield GaugeMetricFamily("sandbox_disk_quota_bytes", "Quota of the service's sandbox", self._journal.quota)


# --------------------------------------------------------------------------- the service


class DemoService:
    """The service behind the HTTP handler: work, faults, metrics and logs."""

    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self.log = JsonLog(cfg.log_file, cfg.name)
        self.journal = Journal(cfg.sandbox, cfg.disk_quota_bytes)
        self.burner = CpuBurner()
        self._faults = _Faults()
        self._fault_lock = threading.Lock()
        self._stop = threading.Event()
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests served", ["method", "code"], registry=self.registry)
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to serve a request",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.client_requests = Counter(
            "http_client_requests", "Calls made to dependencies", ["peer", "code"], registry=self.registry
        )
        self.registry.register(ResourceCollector(self.journal))
        self._scanner = threading.Thread(target=self._scan_loop, name="disk-scan", daemon=True)

    # ---- lifecycle
    def start_background(self) -> None:
        self._scanner.start()

    def close(self) -> None:
        self._stop.set()
        self.burner.stop()
        self.log.close()

    def _scan_loop(self) -> None:
        while not self._stop.wait(0.5):
            self.journal.rescan()

    # ---- faults
    def faults(self) -> dict[str, Any]:
        with self._fault_lock:
            return dict(vars(self._faults))

    def set_faults(self, body: Any) -> dict[str, Any]:
        with self._fault_lock:
            new = _validated(body, self._faults)
            old_fill = self._faults.disk_fill
            if new.disk_fill != old_fill:
                if old_fill is not None:
                    sandbox.remove(self.cfg.sandbox, old_fill["path"])
                if new.disk_fill is not None:
                    sandbox.fill(self.cfg.sandbox, new.disk_fill["path"], new.disk_fill["bytes"])
                self.journal.rescan()
            if new.cpu_burn:
                self.burner.start(new.cpu_duty)
            else:
                self.burner.stop()
            self._faults = new
        # to stdout (the process log), not the JSON log Sherlog ingests: the fault must be found
        # from its symptoms, not from a line announcing it
        print(json.dumps({"fault_state": {k: v for k, v in vars(new).items() if v}}), flush=True)
        return self.faults()

    # ---- work
    def _call(self, peer: str, base_url: str, trace_id: str) -> str | None:
        """Call one dependency; the failure text, or None when it answered 2xx."""
        req = urllib.request.Request(base_url.rstrip("/") + "/", headers={"X-Trace-Id": trace_id})
        try:
            with _OPENER.open(req, timeout=self.cfg.dep_timeout_s) as resp:
                resp.read()
                code = str(resp.status)
        except urllib.error.HTTPError as e:
            self.client_requests.labels(peer, str(e.code)).inc()
            return f"call to {peer} failed: HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            self.client_requests.labels(peer, "error").inc()
            return f"call to {peer} failed: {reason}"
        self.client_requests.labels(peer, code).inc()
        return None

    def handle_work(self, trace_id: str) -> tuple[int, dict[str, Any]]:
        started = time.perf_counter()
        f = self.faults()
        status, error, peer = 200, None, None
        try:
            # a little real work, plus the injected latency
            time.sleep((self.cfg.base_latency_ms * (0.5 + random.random()) + f["latency_ms"]) / 1000.0)
            self.journal.append(f'{time.time():.3f} {trace_id} {self.cfg.name} "GET /"')
            if f["error_rate"] > 0 and random.random() < f["error_rate"]:
                status, error = 500, f["error_message"]
            else:
                for name, url in self.cfg.deps.items():
                    failure = self._call(name, url, trace_id)
                    if failure is not None:
                        status, error, peer = 502, failure, name
                        break
        except OSError as e:
            status, error = 500, f"failed to write request journal: {e}"
        elapsed = time.perf_counter() - started
        self.requests.labels("GET", str(status)).inc()
        self.duration.labels("GET").observe(elapsed)
        duration_ms = round(elapsed * 1000, 2)
        if status < 400:
            self.log.write("info", "GET / 200", status=status, duration_ms=duration_ms, trace_id=trace_id)
        else:
            self.log.write(
                "error", error or "request failed", status=status, duration_ms=duration_ms, trace_id=trace_id, peer=peer
            )
        body: dict[str, Any] = {"service": self.cfg.name, "status": status, "trace_id": trace_id}
        if error:
            body["error"] = error
        return status, body

    def metrics(self) -> bytes:
        return generate_latest(self.registry)


def _handler(service: DemoService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"sherlog-demo/{service.cfg.name}"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # every request is already logged as JSON

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj).encode())

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                trace = self.headers.get("X-Trace-Id") or uuid.uuid4().hex[:16]
                self._json(*service.handle_work(trace))
            elif path == "/metrics":
                self._send(200, service.metrics(), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/healthz":
                self._json(200, {"service": service.cfg.name, "pid": os.getpid()})
            elif path == "/fault":
                self._json(200, service.faults())
            else:
                self._json(404, {"error": f"no route {path}"})

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/fault":
                self._json(404, {"error": f"no route {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                self._json(200, service.set_faults(body))
            except json.JSONDecodeError as e:
                self._json(400, {"error": f"fault body is not JSON: {e}"})
            except InputError as e:
                self._json(400, {"error": str(e)})

    return Handler


def make_server(cfg: ServiceConfig) -> tuple[ThreadingHTTPServer, DemoService]:
    """Bind the service (raises OSError when the port is taken); serve with `serve_forever`."""
    service = DemoService(cfg)
    server = ThreadingHTTPServer((cfg.host, cfg.port), _handler(service))
    server.daemon_threads = True
    service.start_background()
    return server, service


def _parse_deps(items: Sequence[str]) -> dict[str, str]:
    deps: dict[str, str] = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith("http://"):
            raise SystemExit(f"--deps entries look like name=http://127.0.0.1:PORT, got {item!r}")
        deps[name] = url
    return deps


def parse_args(argv: Sequence[str] | None = None) -> ServiceConfig:
    p = argparse.ArgumentParser(prog="python -m chaos.local.service", description="One Sherlog demo service.")
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--deps", nargs="*", default=[], help="name=http://127.0.0.1:PORT ...")
    p.add_argument("--log-file", type=Path, required=True)
    p.add_argument("--sandbox", type=Path, required=True)
    p.add_argument("--disk-quota-bytes", type=int, default=DEFAULT_QUOTA_BYTES)
    p.add_argument("--base-latency-ms", type=float, default=4.0)
    a = p.parse_args(argv)
    return ServiceConfig(
        name=a.name,
        port=a.port,
        deps=_parse_deps(a.deps),
        log_file=a.log_file,
        sandbox=a.sandbox,
        disk_quota_bytes=a.disk_quota_bytes,
        base_latency_ms=a.base_latency_ms,
    )


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    server, service = make_server(cfg)
    stop = threading.Event()
    # serve from a thread: shutdown() from the signal handler's thread would deadlock serve_forever
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    service.log.write("info", f"{cfg.name} listening on {cfg.host}:{cfg.port}", pid=os.getpid())
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    service.log.write("info", f"{cfg.name} stopping")
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
