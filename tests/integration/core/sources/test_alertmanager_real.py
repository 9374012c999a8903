"""Alert intake against a real Alertmanager (Debian package): the pull client
(`GET /api/v2/alerts`) and the webhook payloads it really sends, captured by a
loopback HTTP receiver and fed to `parse_alertmanager_webhook`."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.errors import BackendUnavailable
from core.model import EventKind, Severity
from core.sources.alerts import AlertmanagerClient, parse_alertmanager_webhook
from tests.fixtures.alertmanager import post_alerts, throwaway_alertmanager
from tests.fixtures.net import free_port
from tests.fixtures.procs import ServerProcess


class _Receiver(BaseHTTPRequestHandler):
    bodies: queue.Queue[bytes]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.bodies.put(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[tuple[str, queue.Queue[bytes]]]:
    bodies: queue.Queue[bytes] = queue.Queue()
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def am(webhook: tuple[str, queue.Queue[bytes]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with throwaway_alertmanager(tmp_path_factory.mktemp("am"), webhook_url=webhook[0]) as server:
        yield server


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _next_notification(bodies: queue.Queue[bytes], alertname: str, status: str) -> dict[str, Any]:
    """The next webhook body about `alertname` with `status` (others are skipped)."""
    while True:
        payload = json.loads(bodies.get(timeout=20))
        if payload["groupLabels"].get("alertname") == alertname and payload["status"] == status:
            return payload


def test_fetch_active_returns_the_posted_alert(am: ServerProcess) -> None:
    starts = datetime.now(UTC) - timedelta(minutes=2)
    post_alerts(
        am.url,
        [
            {
                "labels": {
                    "alertname": "KubePodCrashLooping",
                    "severity": "warning",
                    "namespace": "boutique",
                    "pod": "cartservice-6d4c8f7b9-q8w2n",
                    "container": "server",
                    "job": "kube-state-metrics",
                },
                "annotations": {
                    "summary": "Pod is crash looping.",
                    "runbook_url": "https://runbooks.example/KubePodCrashLooping",
                },
                "startsAt": _iso(starts),
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            }
        ],
    )
    with AlertmanagerClient(am.url) as client:
        batch = client.fetch_active(filters=['alertname="KubePodCrashLooping"'])
    assert batch.errors == []
    assert len(batch.events) == 1
    ev = batch.events[0]
    assert ev.kind is EventKind.ALERT and ev.source == "alertmanager"
    assert ev.severity is Severity.WARNING
    assert ev.entity.service == "server" and ev.entity.pod == "cartservice-6d4c8f7b9-q8w2n"
    assert ev.entity.namespace == "boutique"
    assert ev.attributes["runbook_url"] == "https://runbooks.example/KubePodCrashLooping"
    assert ev.attributes["status"] == "firing" and ev.attributes["state"] == "active"
    assert abs(ev.attributes["starts_at"] - starts.timestamp()) < 1e-3
    assert len(ev.attributes["fingerprint"]) == 16  # Alertmanager's own fingerprint


def test_real_webhook_firing_then_resolved_are_two_events_and_a_resend_is_a_duplicate(
    am: ServerProcess, webhook: tuple[str, queue.Queue[bytes]]
) -> None:
    _, bodies = webhook
    starts = datetime.now(UTC) - timedelta(minutes=1)
    alert = {
        "labels": {"alertname": "CheckoutHighErrorRate", "service": "checkout", "severity": "critical"},
        "annotations": {"summary": "5xx ratio above 5%", "runbook_url": "https://runbooks.example/checkout-5xx"},
        "startsAt": _iso(starts),
    }
    post_alerts(am.url, [alert])
    firing_body = _next_notification(bodies, "CheckoutHighErrorRate", "firing")
    assert firing_body["version"] == "4"

    post_alerts(am.url, [{**alert, "endsAt": _iso(datetime.now(UTC) - timedelta(seconds=1))}])
    resolved_body = _next_notification(bodies, "CheckoutHighErrorRate", "resolved")

    firing = parse_alertmanager_webhook(json.dumps(firing_body).encode())
    resolved = parse_alertmanager_webhook(resolved_body)
    assert firing.errors == [] and resolved.errors == [] and firing.warnings == []
    (f,) = firing.events
    (r,) = resolved.events
    assert f.attributes["fingerprint"] == r.attributes["fingerprint"]
    assert (f.attributes["status"], r.attributes["status"]) == ("firing", "resolved")
    assert f.dedup_key() != r.dedup_key(), "the transition is a new event"
    assert f.entity.service == "checkout" and f.severity is Severity.CRITICAL
    assert r.ts > f.ts, "a resolution is dated when the alert ended"
    assert f.attributes["receiver"] == "test"
    resent = parse_alertmanager_webhook(firing_body).events[0]
    assert resent.dedup_key() == f.dedup_key(), "a resend of the same notification is a duplicate"


def test_unreachable_alertmanager_is_backend_unavailable(tmp_path: Path) -> None:
    with AlertmanagerClient(f"http://127.0.0.1:{free_port()}", timeout_s=1) as client:
        with pytest.raises(BackendUnavailable):
            client.fetch_active()
