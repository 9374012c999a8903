"""Alerts: one node per fingerprint following firing → resolved, every transition kept as an event
record, FIRED_ON the entity, RELATED_RUNBOOK to the runbook named after the alert."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from ingest_helpers import CHECKOUT, T0, alert

from core.ingest import Ingestor
from core.sources.alerts import parse_alertmanager_webhook
from core.wiring import Stack

RUNBOOKS = Path("runbooks/prometheus-operator-runbooks/content/runbooks")


@pytest.fixture
def two_runbooks(shared_data: Path, tmp_path: Path) -> Path:
    """A directory holding (links to) two real runbooks."""
    d = tmp_path / "rb" / "kubernetes"
    d.mkdir(parents=True)
    for name in ("KubePodCrashLooping.md", "KubePodNotReady.md"):
        (d / name).symlink_to(shared_data / RUNBOOKS / "kubernetes" / name)
    return tmp_path / "rb"


def _webhook(status: str, ends: str) -> dict:
    return {
        "version": "4",
        "status": status,
        "receiver": "sherlog",
        "groupKey": '{}:{alertname="KubePodCrashLooping"}',
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "KubePodCrashLooping",
                    "severity": "warning",
                    "cluster": "prod",
                    "namespace": "shop",
                    "pod": "checkout-7d4f-x2",
                    "container": "checkout",
                },
                "annotations": {
                    "summary": "Pod is crash looping.",
                    "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
                },
                "startsAt": "2025-03-03T12:00:00Z",
                "endsAt": ends,
                "fingerprint": "a1b2c3d4e5f60718",
            }
        ],
    }


def test_firing_then_resolved_is_one_alert_with_two_records(ingestor: Ingestor, stack: Stack) -> None:
    firing = parse_alertmanager_webhook(_webhook("firing", "0001-01-01T00:00:00Z"))
    resolved = parse_alertmanager_webhook(_webhook("resolved", "2025-03-03T12:20:00Z"))
    assert firing.errors == [] and resolved.errors == []
    assert ingestor.ingest_events(firing.events).accepted == 1
    node = stack.graph.query("MATCH (a:Alert) RETURN a.status AS status, a.ends_at AS ends")
    assert node == [{"status": "firing", "ends": None}]
    assert ingestor.ingest_events(resolved.events).accepted == 1
    # a resend of the firing notification is a duplicate and cannot undo the resolution
    assert ingestor.ingest_events(firing.events).duplicates == 1
    rows = stack.graph.query(
        "MATCH (a:Alert)-[:FIRED_ON]->(e) RETURN a.id AS id, a.status AS status, a.alertname AS name, "
        "a.starts_at AS starts, a.ends_at AS ends, a.runbook_url AS url, a.labels_json AS labels, e.id AS entity"
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == "alert:a1b2c3d4e5f60718" and row["status"] == "resolved"
    assert row["starts"] == T0.timestamp() and row["ends"] == (T0 + timedelta(minutes=20)).timestamp()
    assert row["url"].endswith("/kubepodcrashlooping") and '"pod": "checkout-7d4f-x2"' in row["labels"]
    assert row["entity"] == CHECKOUT
    records = stack.db.event_records(kinds=["alert"])
    assert [r.attributes["status"] for r in records] == ["firing", "resolved"]
    # the pod named by the labels hangs off its service
    assert stack.graph.query("MATCH (p:Pod)-[:PART_OF]->(s:Service) RETURN p.id AS p, s.id AS s") == [
        {"p": "pod:prod/shop/checkout-7d4f-x2", "s": CHECKOUT}
    ]


def test_an_older_notification_never_overwrites_a_newer_one(ingestor: Ingestor, stack: Stack) -> None:
    resolved = alert("resolved", at=T0 + timedelta(minutes=30))
    stale = {**alert("firing", at=T0 + timedelta(minutes=5)), "ingest_id": "late-resend"}
    ingestor.ingest_events([resolved])
    ingestor.ingest_events([stale])
    assert stack.graph.query("MATCH (a:Alert) RETURN a.status AS s") == [{"s": "resolved"}]
    assert len(stack.db.event_records(kinds=["alert"])) == 2


def test_alert_links_to_runbook_by_alias_before_and_after(ingestor: Ingestor, stack: Stack, two_runbooks: Path) -> None:
    # alert first: linked when the runbooks arrive
    ingestor.ingest_events([alert("firing", at=T0, fingerprint="early")])
    report = ingestor.ingest_runbooks(two_runbooks)
    assert report.rejected == [] and report.by_kind["Runbook"] == 2
    links = stack.graph.query("MATCH (a:Alert)-[:RELATED_RUNBOOK]->(r:Runbook) RETURN a.id AS a, r.id AS r")
    assert links == [{"a": "alert:early", "r": "runbook:kubernetes/kubepodcrashlooping"}]
    # runbooks first: linked as the alert arrives
    ingestor.ingest_events([alert("firing", at=T0, fingerprint="late", alertname="KubePodNotReady")])
    links = stack.graph.query(
        "MATCH (a:Alert {id: 'alert:late'})-[:RELATED_RUNBOOK]->(r:Runbook) RETURN r.id AS r, r.title AS t"
    )
    assert links == [{"r": "runbook:kubernetes/kubepodnotready", "t": "KubePodNotReady"}]
    # an alert with no runbook gets no link
    ingestor.ingest_events([alert("firing", at=T0, fingerprint="none", alertname="SomethingLocal")])
    assert stack.graph.query("MATCH (a:Alert {id: 'alert:none'})-[r]->(:Runbook) RETURN count(r) AS n") == [{"n": 0}]
