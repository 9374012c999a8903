"""Change webhook and Ansible run parsing."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import InvalidPayload
from core.model import EntityRef, EventKind, Severity
from core.sources.changes import parse_changes

DEPLOY = {
    "service": "checkout",
    "change_type": "deploy",
    "ts": "2024-05-14T09:41:17Z",
    "version": "v2.4.1",
    "previous_version": "v2.4.0",
    "author": "ci-bot",
    "description": "checkout v2.4.1: new payment retry policy",
    "id": "gh-actions-run-88123",
    "cluster": "sim",
    "namespace": "boutique",
    "link": "https://ci.example/runs/88123",
}
ANSIBLE = {
    "playbook": "site.yml",
    "play": "db servers",
    "host": "db-host-1",
    "stats": {"ok": 21, "changed": 3, "failures": 1, "unreachable": 0, "skipped": 4, "rescued": 0, "ignored": 0},
    "ts": 1715679000,
    "author": "ops",
    "id": "awx-job-4411",
}


def test_deploy_change_maps_to_a_change_event() -> None:
    batch = parse_changes(DEPLOY)
    assert batch.errors == []
    (ev,) = batch.events
    assert ev.kind is EventKind.CHANGE and ev.source == "change-webhook"
    assert ev.entity == EntityRef(cluster="sim", namespace="boutique", service="checkout")
    assert ev.entity.primary_id() == "service:sim/boutique/checkout"
    assert ev.ingest_id == "gh-actions-run-88123"
    assert ev.attributes["change_type"] == "deploy"
    assert (ev.attributes["version"], ev.attributes["previous_version"]) == ("v2.4.1", "v2.4.0")
    assert ev.attributes["author"] == "ci-bot" and ev.attributes["link"] == "https://ci.example/runs/88123"
    assert ev.body == DEPLOY["description"]


def test_entity_may_be_a_graph_id_and_body_is_generated_when_no_description() -> None:
    item = {"entity": "service:prod/shop/cart", "change_type": "config", "ts": "2024-05-14T09:00:00+02:00"}
    (ev,) = parse_changes([item]).events
    assert ev.entity == EntityRef(cluster="prod", namespace="shop", service="cart")
    assert ev.ts.isoformat() == "2024-05-14T07:00:00+00:00"
    assert ev.body == "config service:prod/shop/cart"
    (node_ev,) = parse_changes({"entity": "node:prod/node-3", "change_type": "scale", "ts": 0}).events
    assert node_ev.entity == EntityRef(cluster="prod", node="node-3")


def test_rollback_is_a_warning_and_version_body() -> None:
    item = {"service": "frontend", "change_type": "rollback", "ts": "2024-05-14T09:58:41Z", "version": "v0.10.0"}
    item["previous_version"] = "v0.10.1-rc1"
    (ev,) = parse_changes({"changes": [item]}).events
    assert ev.severity is Severity.WARNING
    assert ev.body == "rollback frontend v0.10.0 (was v0.10.1-rc1)"


def test_ansible_run_with_failures_is_an_error_change_on_the_host() -> None:
    (ev,) = parse_changes(ANSIBLE).events
    assert ev.source == "ansible" and ev.kind is EventKind.CHANGE
    assert ev.entity.host == "db-host-1" and ev.entity.primary_id() == "host:db-host-1"
    assert ev.severity is Severity.ERROR
    assert ev.attributes["change_type"] == "ansible"
    assert ev.attributes["changed"] == 3 and ev.attributes["failures"] == 1 and ev.attributes["playbook"] == "site.yml"
    assert "ok=21 changed=3 unreachable=0 failed=1" in ev.body
    clean = {**ANSIBLE, "stats": {"ok": 5, "changed": 0}}
    assert parse_changes(clean).events[0].severity is Severity.INFO


def test_bad_items_are_named_and_good_ones_survive() -> None:
    items: list[Any] = [
        {**DEPLOY, "servce": "x"},
        DEPLOY,
        {**DEPLOY, "change_type": "hotfix"},
        {k: v for k, v in DEPLOY.items() if k != "ts"},
        {"change_type": "deploy", "ts": "2024-05-14T09:41:17Z"},
        {**ANSIBLE, "stats": {"ok": "many"}},
        {**ANSIBLE, "stats": {"ok": 1, "chnaged": 2}},
        "deploy checkout",
        {**DEPLOY, "ts": "last tuesday"},
    ]
    batch = parse_changes(items)
    assert len(batch.events) == 1 and batch.events[0].ingest_id == "gh-actions-run-88123"
    errs = {e.index: (e.field, e.message) for e in batch.errors}
    assert set(errs) == {0, 2, 3, 4, 5, 6, 7, 8}
    assert errs[0][0] == "[0].servce"
    assert errs[0][1].startswith("unknown field 'servce' (did you mean 'service'?); allowed: ")
    assert errs[2][0] == "[2].change_type" and "'deploy'" in errs[2][1] and "'feature_flag'" in errs[2][1]
    assert errs[3] == ("[3].ts", "is required")
    assert errs[4] == ("[4]", "Value error, either 'service' or 'entity' must name what changed")
    assert errs[5][0] == "[5].stats.ok" and "integer" in errs[5][1]
    assert errs[6][0] == "[6].stats.chnaged" and "(did you mean 'changed'?)" in errs[6][1]
    assert errs[7] == ("[7]", "expected a change object, got string")
    assert errs[8][0] == "[8].ts"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"service": "checkout", "change_ty', "truncated JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (42, "expected an object or an array, got number"),
        ({"changes": {"service": "x"}}, "'changes' must be an array, got object"),
        ({"changes": [], "source": "ci"}, "unknown top-level field 'source'"),
    ],
)
def test_whole_body_problems(payload: Any, message: str) -> None:
    with pytest.raises(InvalidPayload) as err:
        parse_changes(payload)
    assert message in str(err.value)


def test_empty_list_is_an_empty_batch() -> None:
    batch = parse_changes(b"[]")
    assert batch.events == [] and batch.errors == []
