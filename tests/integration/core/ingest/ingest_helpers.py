"""Event builders and store counters shared by the ingestion tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.wiring import Stack

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
ENTITY = {"cluster": "prod", "namespace": "shop", "service": "checkout"}
CHECKOUT = "service:prod/shop/checkout"


def log(i: int, body: str, *, service: str = "checkout", level: str = "info", ingest: bool = True) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "source": "test",
        "kind": "log",
        "ts": (T0 + timedelta(seconds=i)).isoformat(),
        "entity": {**ENTITY, "service": service},
        "severity": level,
        "body": body,
    }
    if ingest:
        ev["ingest_id"] = f"log/{service}/{i}"
    return ev


def metric(i: int, name: str, value: Any, *, service: str = "checkout") -> dict[str, Any]:
    return {
        "source": "test",
        "kind": "metric",
        "ts": (T0 + timedelta(seconds=15 * i)).isoformat(),
        "entity": {**ENTITY, "service": service},
        "attributes": {"metric": name, "value": value},
    }


def alert(
    status: str, *, at: datetime, fingerprint: str = "fp1", alertname: str = "KubePodCrashLooping"
) -> dict[str, Any]:
    starts = T0
    return {
        "source": "alertmanager",
        "kind": "alert",
        "ts": at.isoformat(),
        "entity": {**ENTITY, "pod": "checkout-7d4f-x2"},
        "severity": "warning",
        "body": f"[{status}] {alertname}",
        "attributes": {
            "alertname": alertname,
            "status": status,
            "fingerprint": fingerprint,
            "labels": {"alertname": alertname, "severity": "warning", "namespace": "shop", "pod": "checkout-7d4f-x2"},
            "annotations": {
                "summary": "Pod is crash looping.",
                "runbook_url": f"https://runbooks.example/{alertname.lower()}",
            },
            "starts_at": starts.timestamp(),
            "ends_at": at.timestamp() if status == "resolved" else None,
        },
        "ingest_id": f"{fingerprint}:{status}:{starts.isoformat()}",
    }


def change(i: int) -> dict[str, Any]:
    return {
        "source": "deploys",
        "kind": "change",
        "ts": (T0 + timedelta(minutes=i)).isoformat(),
        "entity": ENTITY,
        "body": f"deploy checkout v1.{i}",
        "attributes": {
            "change_type": "deploy",
            "version": f"v1.{i}",
            "previous_version": f"v1.{i - 1}",
            "author": "ci",
        },
        "ingest_id": f"change/{i}",
    }


def k8s_event(i: int) -> dict[str, Any]:
    return {
        "source": "kubernetes",
        "kind": "k8s_event",
        "ts": (T0 + timedelta(minutes=i)).isoformat(),
        "entity": {**ENTITY, "pod": "checkout-7d4f-x2", "node": "node-2"},
        "severity": "warning",
        "body": "Back-off restarting failed container",
        "attributes": {"reason": "BackOff", "object": "Pod/checkout-7d4f-x2"},
    }


def note(i: int) -> dict[str, Any]:
    return {
        "source": "chat",
        "kind": "incident_note",
        "ts": (T0 + timedelta(minutes=i)).isoformat(),
        "entity": ENTITY,
        "body": f"rolled back checkout, note {i}",
    }


def mixed_batch() -> list[dict[str, Any]]:
    """Every event kind, logs of three shapes, one with a secret in it."""
    items: list[dict[str, Any]] = []
    for i in range(60):
        shape = i % 3
        if shape == 0:
            items.append(log(i, f"GET /api/cart/{i} 200 in {10 + i} ms"))
        elif shape == 1:
            items.append(log(i, f"payment {1000 + i} authorised for user u{i}"))
        else:
            items.append(log(i, f"db connection failed: password=s3cret{i} host=10.0.0.{i}", level="error"))
    items += [metric(i, "latency_p99_ms", 120.0 + i) for i in range(10)]
    items += [alert("firing", at=T0 + timedelta(minutes=1)), change(1), k8s_event(2), note(3)]
    return items


def store_counts(stack: Stack) -> dict[str, int]:
    """Rows per table, nodes and edges in the graph, documents in the vector index."""
    counts = {f"db.{k}": v for k, v in stack.db.counts().items()}
    counts["graph.nodes"] = stack.graph.count_nodes()
    counts["graph.edges"] = stack.graph.count_edges()
    counts["vectors"] = stack.vectors.count()
    return counts
