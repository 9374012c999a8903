"""`from_kubernetes_api` with the official `kubernetes` client talking HTTP to a
loopback stand-in for the API server that serves the fixture objects as
paginated list responses (items without kind/apiVersion, as the real API
server returns them). No cluster is available in tests, so this is a stub of
the API server, not a real one; what it proves is that objects deserialized
by the real client and re-serialized with `sanitize_for_serialization` map
to exactly the same graph as the `kubectl -o json` dump."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes.client import ApiClient, Configuration

from core.errors import BackendError, BackendUnavailable
from core.sources.topology import fetch_kubernetes_items, from_kubernetes, from_kubernetes_api, rollout_changes
from tests.fixtures.net import free_port

LIST_FILE = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "k8s" / "boutique_list.json"
PATHS = {
    "/api/v1/nodes": "Node",
    "/api/v1/services": "Service",
    "/api/v1/pods": "Pod",
    "/api/v1/events": "Event",
    "/apis/apps/v1/deployments": "Deployment",
    "/apis/apps/v1/replicasets": "ReplicaSet",
}


def _handler(items: list[dict[str, Any]], requests: list[str], status: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            requests.append(self.path)
            kind = PATHS.get(url.path)
            if status != 200 or kind is None:
                body = {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "code": status,
                    "reason": "Forbidden",
                }
                self._send(status if status != 200 else 404, body)
                return
            q = parse_qs(url.query)
            limit = int(q.get("limit", ["500"])[0])
            start = int(q.get("continue", ["0"])[0])
            of_kind = [
                {k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items if i["kind"] == kind
            ]
            page = of_kind[start : start + limit]
            more = start + limit < len(of_kind)
            meta = {"resourceVersion": "185300", **({"continue": str(start + limit)} if more else {})}
            self._send(200, {"kind": f"{kind}List", "apiVersion": "v1", "metadata": meta, "items": page})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _serve(status: int = 200) -> Iterator[tuple[str, list[str]]]:
    items = json.loads(LIST_FILE.read_text())["items"]
    requests: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(items, requests, status))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def api_server() -> Iterator[tuple[str, list[str]]]:
    yield from _serve()


@pytest.fixture
def forbidding_api_server() -> Iterator[tuple[str, list[str]]]:
    yield from _serve(403)


def _client(url: str) -> ApiClient:
    cfg = Configuration(host=url)
    cfg.retries = 0
    return ApiClient(cfg)


def _graph(topo: Any) -> tuple[dict[str, Any], set[tuple[str, str, str]], dict[str, Any]]:
    return (
        {e.id: (e.kind, e.name, e.props) for e in topo.entities},
        {(r.src, r.dst, r.kind.value) for r in topo.relations},
        {e.dedup_key(): e.model_dump() for e in topo.events},
    )


def test_live_api_maps_exactly_like_the_kubectl_dump(api_server: tuple[str, list[str]]) -> None:
    url, requests = api_server
    with _client(url) as client:
        live = from_kubernetes_api(client, cluster="sim", page_size=2)
    dump = from_kubernetes(json.loads(LIST_FILE.read_text()), cluster="sim")
    assert live.errors == [] and live.warnings == []
    assert _graph(live) == _graph(dump)
    # pagination was followed (5 pods at 2 per page = 3 requests)
    assert sum(1 for r in requests if r.startswith("/api/v1/pods")) == 3


def test_rollouts_from_live_items_match_the_dump(api_server: tuple[str, list[str]]) -> None:
    url, _ = api_server
    with _client(url) as client:
        items = fetch_kubernetes_items(client)
    assert {i["kind"] for i in items} == set(PATHS.values())
    live = rollout_changes(items, cluster="sim")
    dump = rollout_changes(json.loads(LIST_FILE.read_text()), cluster="sim")
    assert live.errors == []
    assert [e.model_dump() for e in live.events] == [e.model_dump() for e in dump.events]


def test_forbidden_is_a_backend_error_naming_rbac(forbidding_api_server: tuple[str, list[str]]) -> None:
    url, _ = forbidding_api_server
    with _client(url) as client, pytest.raises(BackendError) as err:
        from_kubernetes_api(client)
    assert "HTTP 403" in str(err.value) and "RBAC" in str(err.value)


def test_unreachable_api_server_is_backend_unavailable() -> None:
    with _client(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(BackendUnavailable):
        from_kubernetes_api(client)
