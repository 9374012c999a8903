"""Alertmanager webhook, Alertmanager v2 API and Grafana webhook parsing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from core.errors import InvalidPayload
from core.model import EntityRef, EventKind, Severity
from core.sources.alerts import (
    label_fingerprint,
    parse_alertmanager_v2_alerts,
    parse_alertmanager_webhook,
    parse_grafana_webhook,
)

CRASHLOOP: dict[str, Any] = {
    "status": "firing",
    "labels": {
        "alertname": "KubePodCrashLooping",
        "cluster": "sim",
        "container": "server",
        "job": "kube-state-metrics",
        "namespace": "boutique",
        "pod": "cartservice-6d4c8f7b9-q8w2n",
        "reason": "CrashLoopBackOff",
        "severity": "warning",
    },
    "annotations": {
        "description": "Pod boutique/cartservice-6d4c8f7b9-q8w2n (server) is in waiting state "
        '(reason: "CrashLoopBackOff").',
        "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
        "summary": "Pod is crash looping.",
    },
    "startsAt": "2024-05-14T10:05:43.211Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason",
    "fingerprint": "5c4a7e8d9b0f1a23",
}
NODE_RESOLVED: dict[str, Any] = {
    "status": "resolved",
    "labels": {
        "alertname": "NodeFilesystemSpaceFillingUp",
        "device": "/dev/sda1",
        "instance": "10.128.0.12:9100",
        "job": "node-exporter",
        "severity": "critical",
    },
    "annotations": {"summary": "Filesystem is predicted to run out of space within the next 4 hours."},
    "startsAt": "2024-05-14T08:00:13Z",
    "endsAt": "2024-05-14T09:15:13.5Z",
    "generatorURL": "http://prometheus:9090/graph",
    "fingerprint": "0e1d2c3b4a596877",
}


def am_webhook(*alerts: Any) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="KubePodCrashLooping"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "sherlog",
        "groupLabels": {"alertname": "KubePodCrashLooping"},
        "commonLabels": {"alertname": "KubePodCrashLooping"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def test_alertmanager_webhook_maps_every_attribute() -> None:
    batch = parse_alertmanager_webhook(am_webhook(CRASHLOOP, NODE_RESOLVED))
    assert batch.errors == [] and batch.warnings == []
    crash, node = batch.events
    assert crash.kind is EventKind.ALERT and crash.source == "alertmanager"
    assert crash.severity is Severity.WARNING
    assert crash.entity == EntityRef(
        cluster="sim", namespace="boutique", service="server", pod="cartservice-6d4c8f7b9-q8w2n"
    )
    a = crash.attributes
    assert a["alertname"] == "KubePodCrashLooping" and a["status"] == "firing"
    assert a["fingerprint"] == "5c4a7e8d9b0f1a23"
    assert a["labels"] == CRASHLOOP["labels"] and a["annotations"] == CRASHLOOP["annotations"]
    assert a["runbook_url"].endswith("/kubepodcrashlooping")
    assert a["ends_at"] is None, "Go zero time means still firing"
    assert a["generator_url"].startswith("http://prometheus:9090/graph")
    assert a["receiver"] == "sherlog"
    assert crash.body == "[firing] KubePodCrashLooping: Pod is crash looping."
    assert crash.ingest_id == "5c4a7e8d9b0f1a23:firing:2024-05-14T10:05:43.211000+00:00"

    assert node.severity is Severity.CRITICAL
    assert node.entity.host == "10.128.0.12" and node.entity.service == "node-exporter"
    assert node.attributes["status"] == "resolved"
    assert node.ts.isoformat() == "2024-05-14T09:15:13.500000+00:00", "a resolution is dated by endsAt"


def test_firing_to_resolved_is_a_new_event_and_a_resend_is_a_duplicate() -> None:
    firing = parse_alertmanager_webhook(am_webhook(CRASHLOOP)).events[0]
    resent = parse_alertmanager_webhook(json.dumps(am_webhook(CRASHLOOP))).events[0]
    resolved_alert = {**CRASHLOOP, "status": "resolved", "endsAt": "2024-05-14T10:30:00Z"}
    resolved = parse_alertmanager_webhook(am_webhook(resolved_alert)).events[0]
    assert firing.dedup_key() == resent.dedup_key()
    assert resolved.dedup_key() != firing.dedup_key()


def test_one_bad_alert_does_not_drop_the_others() -> None:
    bad_status = {**CRASHLOOP, "status": "burning"}
    no_name = {**CRASHLOOP, "labels": {"severity": "page"}}
    wrong_labels = {**CRASHLOOP, "labels": ["alertname", "x"]}
    bad_time = {**CRASHLOOP, "startsAt": "yesterday"}
    non_string_label = {**CRASHLOOP, "labels": {"alertname": "X", "replicas": 3}}
    resolved_without_end = {**NODE_RESOLVED, "endsAt": "0001-01-01T00:00:00Z"}
    batch = parse_alertmanager_webhook(
        am_webhook(
            bad_status, CRASHLOOP, no_name, wrong_labels, "garbage", bad_time, non_string_label, resolved_without_end
        )
    )
    assert [e.attributes["alertname"] for e in batch.events] == ["KubePodCrashLooping"]
    errs = {e.index: str(e) for e in batch.errors}
    assert errs == {
        0: "alerts[0].status: must be 'firing' or 'resolved', got 'burning'",
        2: "alerts[2].labels.alertname: is required",
        3: "alerts[3].labels: expected an object of strings, got array",
        4: "alerts[4]: expected an alert object, got string",
        5: "alerts[5].startsAt: not an RFC 3339 timestamp: 'yesterday'",
        6: "alerts[6].labels.replicas: expected a string, got number",
        7: "alerts[7].endsAt: a resolved alert needs the time it ended",
    }


def test_unknown_fields_are_reported_but_the_alert_is_kept() -> None:
    alert = {**CRASHLOOP, "colour": "red"}
    payload = {**am_webhook(alert), "tenantHint": "x"}
    batch = parse_alertmanager_webhook(payload)
    assert len(batch.events) == 1
    assert sorted(str(w) for w in batch.warnings) == [
        "alerts[0].colour: unknown field ignored",
        "tenantHint: unknown field ignored",
    ]


def test_missing_fingerprint_is_derived_from_labels_stably() -> None:
    alert = {k: v for k, v in CRASHLOOP.items() if k != "fingerprint"}
    ev = parse_alertmanager_webhook(am_webhook(alert)).events[0]
    assert ev.attributes["fingerprint"] == label_fingerprint(CRASHLOOP["labels"])
    shuffled = dict(reversed(list(CRASHLOOP["labels"].items())))
    assert label_fingerprint(shuffled) == ev.attributes["fingerprint"]


def test_truncated_alerts_are_a_warning() -> None:
    batch = parse_alertmanager_webhook({**am_webhook(CRASHLOOP), "truncatedAlerts": 12})
    assert [str(w) for w in batch.warnings] == ["truncatedAlerts: the sender left out 12 alert(s) (max_alerts)"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"version": "4", "alerts": [{"status": "fir', "truncated JSON"),
        (b"\x00\x01\xfe\xff binary", "not UTF-8"),
        (b"", "empty body"),
        ([1, 2], "expected a JSON object, got array"),
        ({"version": "4", "alerts": "none"}, "'alerts' must be an array, got string"),
        ({"version": "4"}, "'alerts' must be an array, got null"),
        ({"version": "3", "alerts": []}, "unsupported payload version '3'"),
    ],
)
def test_whole_payload_problems_raise_invalid_payload(payload: Any, message: str) -> None:
    with pytest.raises(InvalidPayload) as err:
        parse_alertmanager_webhook(payload)
    assert message in str(err.value)
    assert str(err.value).startswith("alertmanager webhook")


def test_entity_defaults_fill_what_labels_lack() -> None:
    alert = {**NODE_RESOLVED, "labels": {"alertname": "HighLatency", "service": "checkout"}}
    ev = parse_alertmanager_webhook(am_webhook(alert), defaults=EntityRef(cluster="sim", namespace="boutique")).events[
        0
    ]
    assert ev.entity.primary_id() == "service:sim/boutique/checkout"


# --- v2 API -----------------------------------------------------------------------------------

V2_ITEM: dict[str, Any] = {
    "annotations": CRASHLOOP["annotations"],
    "endsAt": "2024-05-14T10:13:43.211Z",
    "fingerprint": "5c4a7e8d9b0f1a23",
    "receivers": [{"name": "sherlog"}],
    "startsAt": "2024-05-14T10:05:43.211Z",
    "status": {"inhibitedBy": [], "silencedBy": ["3f1c8e4a-silence"], "state": "suppressed"},
    "updatedAt": "2024-05-14T10:08:43.215Z",
    "generatorURL": CRASHLOOP["generatorURL"],
    "labels": CRASHLOOP["labels"],
}


def test_v2_alerts_are_firing_with_their_state() -> None:
    batch = parse_alertmanager_v2_alerts([V2_ITEM])
    assert batch.errors == [] and batch.warnings == []
    ev = batch.events[0]
    assert ev.attributes["status"] == "firing"
    assert ev.attributes["state"] == "suppressed"
    assert ev.attributes["silenced_by"] == ["3f1c8e4a-silence"]
    assert ev.attributes["receivers"] == ["sherlog"]
    # same alert seen through the webhook → same dedup key (pull and push do not double count)
    pushed = parse_alertmanager_webhook(am_webhook(CRASHLOOP)).events[0]
    assert ev.dedup_key() == pushed.dedup_key()


def test_v2_bad_items_are_reported_with_their_index() -> None:
    bad_state = copy.deepcopy(V2_ITEM)
    bad_state["status"]["state"] = "sleeping"
    no_status = {k: v for k, v in V2_ITEM.items() if k != "status"}
    batch = parse_alertmanager_v2_alerts([bad_state, V2_ITEM, no_status])
    assert len(batch.events) == 1
    assert [str(e) for e in batch.errors] == [
        "[0].status.state: must be one of active, suppressed, unprocessed, got 'sleeping'",
        "[2].status: expected an object with 'state', got null",
    ]
    with pytest.raises(InvalidPayload, match="expected a JSON array, got object"):
        parse_alertmanager_v2_alerts({"alerts": []})


# --- Grafana ----------------------------------------------------------------------------------

GRAFANA: dict[str, Any] = {
    "receiver": "sherlog",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High memory usage", "grafana_folder": "Shop", "service": "cart", "team": "blue"},
            "annotations": {
                "description": "The system has high memory usage",
                "runbook_url": "https://runbooks.example/memory",
                "summary": "cart memory above 90%",
            },
            "startsAt": "2024-05-14T10:01:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/alerting/grafana/1afz29v7z/view",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://grafana.example/alerting/silence/new?matcher=alertname%3DHigh+memory+usage",
            "dashboardURL": "https://grafana.example/d/shop",
            "panelURL": "https://grafana.example/d/shop?viewPanel=4",
            "values": {"B": 94.23943737541908, "C": 1},
            "valueString": "[ var='B' labels={service=cart} value=94.23943737541908 ]",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "High CPU usage", "service": "checkout"},
            "annotations": {},
            "startsAt": "2024-05-14T09:56:03Z",
            "endsAt": "2024-05-14T10:06:03Z",
            "fingerprint": "bc97ff14869b13e3",
            "values": None,
            "valueString": "",
        },
    ],
    "groupLabels": {"alertname": "High memory usage"},
    "commonLabels": {"team": "blue"},
    "commonAnnotations": {},
    "externalURL": "https://grafana.example/",
    "version": "1",
    "groupKey": '{}/{team="blue"}:{alertname="High memory usage"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] High memory usage (blue)",
    "state": "alerting",
    "message": "**Firing**\n\nValue: B=94.2",
}


def test_grafana_webhook_keeps_its_urls_and_values() -> None:
    batch = parse_grafana_webhook(GRAFANA)
    assert batch.errors == [] and batch.warnings == []
    mem, cpu = batch.events
    assert mem.source == "grafana" and mem.entity.service == "cart"
    assert mem.ts.isoformat() == "2024-05-14T08:01:03.157076+00:00"
    assert mem.attributes["values"] == {"B": 94.23943737541908, "C": 1}
    assert mem.attributes["value_string"].startswith("[ var='B'")
    assert mem.attributes["dashboard_url"] == "https://grafana.example/d/shop"
    assert mem.attributes["panel_url"].endswith("viewPanel=4")
    assert mem.attributes["silence_url"].startswith("https://grafana.example/alerting/silence")
    assert mem.attributes["runbook_url"] == "https://runbooks.example/memory"
    assert mem.attributes["org_id"] == 1
    assert mem.severity is Severity.INFO, "no severity label → info"
    assert cpu.attributes["status"] == "resolved" and cpu.body == "[resolved] High CPU usage"


def test_grafana_bad_item_survives_with_the_rest() -> None:
    payload = copy.deepcopy(GRAFANA)
    payload["alerts"].insert(1, {"status": "firing", "labels": {"alertname": "x"}, "startsAt": 12.5e20})
    batch = parse_grafana_webhook(payload)
    assert len(batch.events) == 2
    assert [(e.index, e.field) for e in batch.errors] == [(1, "alerts[1].startsAt")]
    assert "out of range" in batch.errors[0].message
