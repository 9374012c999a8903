"""A webhook receiver that records what Alertmanager sends, beside Sherlog's.

Alertmanager's receiver for the local target has two webhooks: Sherlog and this
witness. Each notification goes to both, so the witness tells which alerts were
notified, and Alertmanager's per-attempt counters (successful requests =
``alertmanager_notification_requests_total - ..._failed_total``, both counted when
an attempt completes) tell whether Sherlog's copy got through too.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chaos.local.procs import free_port


@dataclass(frozen=True)
class Notification:
    """One webhook body as received, with the wall-clock time it arrived."""

    received_at: float
    body: dict[str, Any]

    def alerts(self) -> list[dict[str, Any]]:
        alerts = self.body.get("alerts")
        return [a for a in alerts if isinstance(a, dict)] if isinstance(alerts, list) else []


class WebhookWitness:
    """An HTTP server on 127.0.0.1 recording every JSON body POSTed to it."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        witness = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self.send_response(400)
                    self.end_headers()
                    return
                # recorded before answering: once Alertmanager counts the request, the witness has it
                with witness._lock:
                    witness._received.append(Notification(time.time(), body if isinstance(body, dict) else {}))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer((host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-witness", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> WebhookWitness:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def notifications(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def find(self, alertname: str, status: str = "firing", **labels: str) -> list[dict[str, Any]]:
        """Every received alert with that name, status and labels."""
        out = []
        for n in self.notifications():
            for a in n.alerts():
                al = a.get("labels") or {}
                wanted = al.get("alertname") == alertname and a.get("status") == status
                if wanted and all(al.get(k) == v for k, v in labels.items()):
                    out.append(a)
        return out
