"""Feed the local target's telemetry into Sherlog through its HTTP intake.

- topology: the demo app's static topology → ``POST /ingest/topology``;
- logs: each service's JSON-lines log, from where the last push stopped → log Events
  → ``POST /ingest/logs`` (``{"events": [...]}``);
- metrics: Sherlog's golden-signal PromQL per service, pulled from the target's
  Prometheus with :class:`core.sources.prometheus.PrometheusClient` → metric Events
  → the same events endpoint.

Chaos never writes into a store: everything goes through the intake like any
other sender. Problems (the intake refusing a batch, Prometheus failing) are
kept in ``FeedStats.problems``, never dropped silently.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from chaos.local.app import CLUSTER, NAMESPACE, demo_topology
from chaos.local.stack import RATE_WINDOW, LocalTarget
from core.errors import BackendError, InvalidPayload, SherlogError
from core.model import EntityRef, Event, EventKind
from core.sources.prometheus import PrometheusClient, golden_signal_queries, series_to_events

SOURCE = "chaos-local"
EVENTS_PATH = "/ingest/logs"
TOPOLOGY_PATH = "/ingest/topology"
BATCH = 500


@dataclass
class FeedStats:
    """What was pushed to Sherlog, and every problem met on the way."""

    log_events: int = 0
    metric_events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    topology_entities: int = 0
    problems: list[str] = field(default_factory=list)


def log_line_event(service: str, line: str, ingest_id: str) -> Event:
    """One JSON log line written by a demo service → a log Event (InvalidPayload if it is not one)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        raise InvalidPayload(f"{service} log line is not JSON: {e}: {line[:120]!r}") from e
    if not isinstance(rec, Mapping) or "ts" not in rec or "msg" not in rec:
        raise InvalidPayload(f"{service} log line lacks 'ts'/'msg': {line[:120]!r}")
    attributes = {k: v for k, v in rec.items() if k not in ("ts", "level", "msg", "service", "trace_id")}
    return Event.parse(
        {
            "source": SOURCE,
            "kind": EventKind.LOG.value,
            "ts": rec["ts"],
            "entity": {"cluster": CLUSTER, "namespace": NAMESPACE, "service": rec.get("service") or service},
            "severity": rec.get("level"),
            "body": rec["msg"],
            "attributes": attributes,
            "trace_id": rec.get("trace_id"),
            "ingest_id": ingest_id,
        }
    )


class LogTail:
    """Reads the complete lines appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> tuple[list[tuple[int, str]], int]:
        """(byte offset, line) for every new complete line, and the offset after them.

        The offset is not advanced here: call `commit(offset)` once the lines are
        delivered, so a failed push is retried from the same place. A partial last
        line waits for the next read.
        """
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return [], self.offset
        end = data.rfind(b"\n")
        if end < 0:
            return [], self.offset
        out: list[tuple[int, str]] = []
        pos = self.offset
        for raw in data[: end + 1].splitlines(keepends=True):
            line = raw.decode("utf-8", errors="replace").strip()
            if line:
                out.append((pos, line))
            pos += len(raw)
        return out, self.offset + end + 1

    def commit(self, offset: int) -> None:
        self.offset = offset


class TelemetryFeeder:
    """Pushes the target's topology once, then its new logs and metrics every `interval_s` from a thread."""

    def __init__(
        self,
        target: LocalTarget,
        sherlog_url: str,
        *,
        token: str | None = None,
        interval_s: float = 2.0,
        step_s: float = 2.0,
        backfill_s: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.target = target
        self.base_url = sherlog_url.rstrip("/")
        self.interval_s = interval_s
        self.step_s = step_s
        self.stats = FeedStats()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.Client(timeout=30.0, headers=headers)
        self._tails = {name: LogTail(target.app.log_file(name)) for name in target.app.names}
        self._queries = golden_signal_queries("service", window=RATE_WINDOW)
        self._metrics_from: float = time.time() - backfill_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- pushing
    def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            resp = self._client.post(url, **kwargs)
        except httpx.HTTPError as e:
            raise BackendError(f"sherlog intake {url} unreachable: {e}", backend="sherlog") from e
        try:
            body: dict[str, Any] = resp.json()
        except ValueError:
            body = {"detail": resp.text[:300]}
        if resp.status_code not in (200, 422):
            raise BackendError(
                f"sherlog intake {url} answered HTTP {resp.status_code}: {body.get('detail')}", backend="sherlog"
            )
        return body

    def _count(self, body: Mapping[str, Any], what: str) -> None:
        self.stats.accepted += int(body.get("accepted", 0))
        self.stats.duplicates += int(body.get("duplicates", 0))
        rejected = int(body.get("rejected", 0))
        if rejected:
            self.stats.rejected += rejected
            first = (body.get("errors") or [{}])[0]
            self.stats.problems.append(f"{what}: intake rejected {rejected} item(s), first: {first}")

    def push_events(self, events: Sequence[Event], what: str) -> None:
        for i in range(0, len(events), BATCH):
            chunk = [e.model_dump(mode="json") for e in events[i : i + BATCH]]
            self._count(self._post(EVENTS_PATH, json={"events": chunk}), what)

    def push_topology(self) -> None:
        body = self._post(TOPOLOGY_PATH, params={"format": "static"}, json=demo_topology(self.target.app.services))
        self.stats.topology_entities = int(body.get("entities", 0))
        self._count(body, "topology")

    def collect_logs(self) -> tuple[list[Event], dict[str, int]]:
        """New log lines as Events, and the offsets to commit once they are delivered."""
        events: list[Event] = []
        offsets: dict[str, int] = {}
        for name, tail in self._tails.items():
            lines, offsets[name] = tail.read()
            for offset, line in lines:
                try:
                    events.append(log_line_event(name, line, f"{SOURCE}:{name}:{offset}"))
                except SherlogError as e:
                    self.stats.problems.append(str(e))
        return events, offsets

    def collect_metrics(self, until: float | None = None) -> tuple[list[Event], float]:
        """Golden signals per service from the last pulled point up to `until` (aligned to the step),
        and where the next pull starts once these are delivered."""
        end = math.floor((until or time.time()) / self.step_s) * self.step_s
        start = math.floor(self._metrics_from / self.step_s) * self.step_s
        if end <= start:
            return [], self._metrics_from
        defaults = EntityRef(cluster=CLUSTER, namespace=NAMESPACE)
        events: list[Event] = []
        with PrometheusClient(self.target.prometheus_url, timeout_s=10.0) as prom:
            for q in self._queries:
                series = prom.query_range(q.promql, start, end, self.step_s)
                events += series_to_events(series, q.metric, unit=q.unit, defaults=defaults, source=SOURCE)
        # the end point is pulled again next time (it may still have been filling in); its ingest_id dedups it
        return events, end

    def push_once(self) -> None:
        """One round: new log lines and new metric points; nothing is skipped when a push fails."""
        with self._lock:
            logs, offsets = self.collect_logs()
            self.push_events(logs, "logs")
            for name, offset in offsets.items():
                self._tails[name].commit(offset)
            self.stats.log_events += len(logs)
            metrics, next_from = self.collect_metrics()
            self.push_events(metrics, "metrics")
            self._metrics_from = next_from
            self.stats.metric_events += len(metrics)

    # ---- background
    def start(self) -> TelemetryFeeder:
        """Push the topology now (errors raise), then feed from a thread."""
        self.push_topology()
        self._thread = threading.Thread(target=self._loop, name="sherlog-feed", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._safe_push()

    def _safe_push(self) -> None:
        try:
            self.push_once()
        except SherlogError as e:
            # keep feeding: Sherlog may be restarting; the next round catches up from the same offsets
            self.stats.problems.append(f"{datetime.now(UTC):%H:%M:%S} {e}")

    def stop(self, *, final_push: bool = True) -> FeedStats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if final_push:
            self._safe_push()
        self._client.close()
        return self.stats

    def __enter__(self) -> TelemetryFeeder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
