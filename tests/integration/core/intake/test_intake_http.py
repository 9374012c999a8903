"""The HTTP intake against the real stack, served by uvicorn on loopback.

Good batches are stored (and resent batches are duplicates); every kind of bad
body gets a clear 4xx naming the problem; the server keeps serving and the good
events of a mixed batch are stored.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.graph.falkordb_server import EmbeddedFalkorDB
from core.sources.loki import PushEntry, PushStream, encode_push_request
from tests.integration.core.intake.intake_server import RunningIntake, intake_settings, running_intake

TOKEN = "s3cret-intake-token"
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory, falkordb_server: EmbeddedFalkorDB) -> Iterator[RunningIntake]:
    settings = intake_settings(tmp_path_factory.mktemp("intake"), falkordb_server, ingest_token=TOKEN)
    with running_intake(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(intake: RunningIntake) -> Iterator[httpx.Client]:
    with intake.client(TOKEN) as c:
        yield c


def _event(body: str, *, service: str = "checkout", ingest_id: str | None = None, **extra: object) -> dict:
    ev: dict = {
        "source": "test",
        "kind": "log",
        "ts": datetime.now(UTC).isoformat(),
        "entity": {"namespace": "shop", "service": service},
        "body": body,
    }
    if ingest_id:
        ev["ingest_id"] = ingest_id
    ev.update(extra)
    return ev


def _messages(intake: RunningIntake) -> list[str]:
    return [line.message for line in intake.stack.db.log_lines()]


def _assert_alive(http: httpx.Client) -> None:
    r = http.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


# --- /ingest/logs --------------------------------------------------------------------------------


def test_events_batch_is_stored_and_a_resend_is_all_duplicates(http: httpx.Client, intake: RunningIntake) -> None:
    events = [_event(f"payment {i} authorised for order {1000 + i}", ingest_id=f"ev-basic-{i}") for i in range(3)]
    r = http.post("/ingest/logs", json={"events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicates"], body["rejected"], body["errors"]) == (3, 0, 0, [])
    stored = _messages(intake)
    for ev in events:
        assert stored.count(ev["body"]) == 1

    again = http.post("/ingest/logs", json=events)  # the bare-array form
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 3)
    assert len(_messages(intake)) == len(stored)


def test_mixed_batch_keeps_good_events_and_names_each_bad_one(http: httpx.Client, intake: RunningIntake) -> None:
    good1 = _event("mixed batch good line one", ingest_id="mixed-1")
    good2 = _event("mixed batch good line two", ingest_id="mixed-2")
    batch = [
        good1,
        {**_event("bad ts"), "ts": "not a time"},
        _event("unknown field", colour="blue"),
        42,
        {**_event("wrong kind"), "kind": "logz"},
        good2,
        {**_event("entity typo"), "entity": {"servce": "x"}},
        _event("   "),  # a valid envelope the Ingestor refuses: a log event needs a line
    ]
    r = http.post("/ingest/logs", json={"events": batch})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (2, 6)
    by_index = {e["index"]: e for e in body["errors"]}
    assert set(by_index) == {1, 2, 3, 4, 6, 7}
    assert by_index[7]["field"] == "events[7].body" and "needs the log line" in by_index[7]["message"]
    assert by_index[1]["field"] == "events[1].ts"
    assert by_index[2]["field"] == "events[2].colour"
    assert "object" in by_index[3]["message"] and "number" in by_index[3]["message"]
    assert by_index[4]["field"] == "events[4].kind"
    assert by_index[6]["field"] == "events[6].entity.servce"
    stored = _messages(intake)
    assert good1["body"] in stored and good2["body"] in stored
    assert not any(m in stored for m in ("bad ts", "unknown field", "wrong kind", "entity typo"))


def test_lines_form_fills_the_stream_fields(http: httpx.Client, intake: RunningIntake) -> None:
    payload = {
        "service": "inventory",
        "namespace": "shop",
        "host": "web-7",
        "lines": [
            "ERROR stock reservation failed for sku 81",
            {"body": "stock level for sku 82 is 3", "ingest_id": "lines-form-2", "severity": "warning"},
            {"line": 7},
        ],
    }
    r = http.post("/ingest/logs", json=payload)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert body["errors"][0]["index"] == 2 and body["errors"][0]["field"] == "lines[2].body"
    rows = {row.message: row for row in intake.stack.db.log_lines()}
    assert rows["ERROR stock reservation failed for sku 81"].level == "error"  # read off the line
    assert rows["stock level for sku 82 is 3"].level == "warning"
    assert rows["stock level for sku 82 is 3"].host == "web-7"


def test_unknown_top_level_field_is_refused_with_a_suggestion(http: httpx.Client) -> None:
    r = http.post("/ingest/logs", json={"servce": "cart", "lines": ["hello"]})
    assert r.status_code == 400
    assert "servce" in r.json()["detail"] and "did you mean 'service'" in r.json()["detail"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'{"events": [{"source": "x", "kind": "log", "ts": "2024-01-01T00:00:00Z", "bo', "truncated JSON"),
        (b'{"events": [1, 2,, 3]}', "invalid JSON"),
        (bytes(range(256)) * 4, "not UTF-8"),
        (b"", "empty body"),
        (b"   \n ", "empty body"),
        (b'"just a string"', "got string"),
        (b'{"events": {"a": 1}}', "'events' must be an array"),
        (b'{"lines": "one line"}', "'lines' must be an array"),
        (b'{"foo": []}', "expected an 'events' or 'lines' array"),
    ],
)
def test_unusable_bodies_get_400_naming_the_problem(http: httpx.Client, content: bytes, needle: str) -> None:
    r = http.post("/ingest/logs", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert needle in body["detail"]
    assert body["accepted"] == 0 and body["errors"][0]["field"] == "(body)"


def test_a_batch_where_every_item_is_bad_is_422(http: httpx.Client) -> None:
    r = http.post("/ingest/logs", json={"events": [1, "two", {"kind": "log"}]})
    assert r.status_code == 422
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (0, 3)
    assert {e["index"] for e in body["errors"]} == {0, 1, 2}


def test_wrong_content_type_is_415(http: httpx.Client) -> None:
    r = http.post("/ingest/logs", content=b"<xml/>", headers={"Content-Type": "application/xml"})
    assert r.status_code == 415
    assert "application/xml" in r.json()["detail"]


def test_gzip_bodies_are_decoded_and_bad_or_bomb_gzip_refused(http: httpx.Client, intake: RunningIntake) -> None:
    payload = json.dumps({"events": [_event("gzipped line arrives", ingest_id="gz-1")]}).encode()
    r = http.post(
        "/ingest/logs",
        content=gzip.compress(payload),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert "gzipped line arrives" in _messages(intake)

    cut = http.post(
        "/ingest/logs",
        content=gzip.compress(payload)[:-12],
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert cut.status_code == 400 and "gzip" in cut.json()["detail"]

    limit = intake.settings.server.max_body_bytes
    bomb = zlib.compress(b" " * (limit * 9), 9)  # decodes past 8x the wire limit
    assert len(bomb) < limit
    r = http.post(
        "/ingest/logs", content=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "deflate"}
    )
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    r = http.post(
        "/ingest/logs", content=payload, headers={"Content-Type": "application/json", "Content-Encoding": "br"}
    )
    assert r.status_code == 415 and "br" in r.json()["detail"]


def test_50_mb_body_is_413_whether_declared_or_streamed(http: httpx.Client, intake: RunningIntake) -> None:
    size = 50 * 1024 * 1024
    limit = intake.settings.server.max_body_bytes
    assert limit < size
    r = http.post("/ingest/logs", content=b"[" + b" " * (size - 2) + b"]", headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert str(limit) in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        piece = b" " * (1024 * 1024)
        yield b"["
        for _ in range(50):
            yield piece
        yield b"]"

    try:
        r = http.post("/ingest/logs", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
    except httpx.WriteError:
        pass  # the server answered 413 and closed before the client finished sending: also a refusal
    _assert_alive(http)
    ok = http.post("/ingest/logs", json=[_event("after the 50 MB body", ingest_id="after-50mb")])
    assert ok.status_code == 200 and ok.json()["accepted"] == 1


def test_bearer_token_is_required_and_checked(intake: RunningIntake) -> None:
    body = {"events": [_event("needs a token", ingest_id="auth-1")]}
    with intake.client() as anon:
        r = anon.post("/ingest/logs", json=body)
        assert r.status_code == 401 and "missing bearer token" in r.json()["detail"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    with intake.client("wrong-token") as bad:
        r = bad.post("/ingest/logs", json=body)
        assert r.status_code == 401 and "invalid bearer token" in r.json()["detail"]
        r = bad.post("/ingest/logs", json=body, headers={"Authorization": f"Basic {TOKEN}"})
        assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    assert "needs a token" not in _messages(intake)


# --- Loki push -----------------------------------------------------------------------------------


def _ns(offset: int = 0) -> int:
    return time.time_ns() + offset


def test_loki_json_and_gzip_json_push_answer_204(http: httpx.Client, intake: RunningIntake) -> None:
    doc = {
        "streams": [
            {"stream": {"app": "cart", "namespace": "shop", "level": "error"}, "values": [[str(_ns()), "loki json a"]]},
            {"stream": {"app": "cart"}, "values": [[str(_ns(1)), "loki json b", {"trace_id": "abc123"}]]},
        ]
    }
    r = http.post("/loki/api/v1/push", json=doc)
    assert r.status_code == 204, r.text
    doc2 = {"streams": [{"stream": {"app": "cart"}, "values": [[str(_ns(2)), "loki gzip json"]]}]}
    r = http.post(
        "/loki/api/v1/push",
        content=gzip.compress(json.dumps(doc2).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 204, r.text
    stored = _messages(intake)
    assert {"loki json a", "loki json b", "loki gzip json"} <= set(stored)


def test_loki_snappy_protobuf_push_as_promtail_sends_it(http: httpx.Client, intake: RunningIntake) -> None:
    base = _ns()
    body = encode_push_request(
        [
            PushStream({"job": "shop/payments", "pod": "payments-7f9"}, [PushEntry(base, "pb line one")]),
            PushStream({"app": "payments"}, [PushEntry(base + 5, "pb line two", {"level": "warn"})]),
        ]
    )
    r = http.post("/loki/api/v1/push", content=body, headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 204, r.text
    assert {"pb line one", "pb line two"} <= set(_messages(intake))
    again = http.post("/loki/api/v1/push", content=body, headers={"Content-Type": "application/x-protobuf"})
    assert again.status_code == 204  # duplicates are not an error for Promtail


def test_loki_bad_bodies(http: httpx.Client, intake: RunningIntake) -> None:
    good = encode_push_request([PushStream({"app": "x"}, [PushEntry(_ns(), "never stored: cut short")])])
    r = http.post(
        "/loki/api/v1/push", content=good[: len(good) // 2], headers={"Content-Type": "application/x-protobuf"}
    )
    assert r.status_code == 400 and "loki push" in r.json()["detail"]
    r = http.post("/loki/api/v1/push", content=b"\x00\xff" * 100, headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    r = http.post("/loki/api/v1/push", json={"streams": "nope"})
    assert r.status_code == 400 and "'streams' must be an array" in r.json()["detail"]
    r = http.post("/loki/api/v1/push", content=b"x", headers={"Content-Type": "text/html"})
    assert r.status_code == 415
    mixed = {
        "streams": [
            {"stream": {"app": "x"}, "values": [[str(_ns()), "loki partial good"], [12, "bad ts"]]},
            {"stream": "not labels", "values": []},
        ]
    }
    r = http.post("/loki/api/v1/push", json=mixed)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert {e["field"] for e in body["errors"]} == {"streams[0].values[1][0]", "streams[1].stream"}
    assert "loki partial good" in _messages(intake)


# --- webhooks ------------------------------------------------------------------------------------


def _am_alert(name: str, status: str = "firing") -> dict:
    alert = {
        "status": status,
        "labels": {"alertname": name, "service": "checkout", "namespace": "shop", "severity": "critical"},
        "annotations": {"summary": f"{name} on checkout"},
        "startsAt": "2024-05-01T10:00:00Z",
        "endsAt": "2024-05-01T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": f"fp-{name}",
    }
    return alert


def test_alertmanager_and_grafana_webhooks(http: httpx.Client) -> None:
    notification = {
        "version": "4",
        "status": "firing",
        "receiver": "sherlog",
        "groupKey": "{}:{}",
        "alerts": [_am_alert("HighErrorRate"), {"labels": {}}],
    }
    r = http.post("/hooks/alertmanager", json=notification)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["field"] == "alerts[1].labels.alertname"
    assert http.post("/hooks/alertmanager", json=notification).json()["duplicates"] == 1

    grafana = {"orgId": 1, "title": "[FIRING:1]", "state": "alerting", "alerts": [_am_alert("GrafanaLatency")]}
    r = http.post("/hooks/grafana", json=grafana)
    assert r.status_code == 200 and r.json()["accepted"] == 1

    r = http.post("/hooks/alertmanager", json={"version": "3", "alerts": []})
    assert r.status_code == 400 and "version" in r.json()["detail"]
    r = http.post("/hooks/alertmanager", json={"alerts": "x"})
    assert r.status_code == 400 and "'alerts' must be an array" in r.json()["detail"]


def test_change_webhook_names_unknown_fields(http: httpx.Client) -> None:
    change = {
        "service": "checkout",
        "change_type": "deploy",
        "ts": "2024-05-01T09:55:00Z",
        "version": "v2",
        "id": "d-1",
    }
    r = http.post("/hooks/change", json=change)
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = http.post("/hooks/change", json=[{**change, "id": "d-2", "verison": "v3"}])
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["field"] == "[0].verison" and "did you mean 'version'" in err["message"]


# --- topology ------------------------------------------------------------------------------------


STATIC = """
cluster: prod
namespace: shop
nodes: [node-1]
services:
  - {name: frontend, depends_on: [checkout], runs_on: [node-1]}
  - {name: checkout, depends_on: [orders-db]}
  - {name: orders-db, kind: Database}
"""


def test_topology_static_compose_and_kubectl_list(http: httpx.Client, intake: RunningIntake) -> None:
    r = http.post("/ingest/topology", content=STATIC.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    assert r.json()["entities"] >= 4 and r.json()["relations"] >= 3
    rows = intake.stack.graph.query("MATCH (n {id: $id}) RETURN n.id AS id", {"id": "service:prod/shop/checkout"})
    assert rows == [{"id": "service:prod/shop/checkout"}]

    compose = (FIXTURES / "compose" / "sockshop-compose.yml").read_bytes()
    r = http.post("/ingest/topology?cluster=dev", content=compose, headers={"Content-Type": "text/yaml"})
    assert r.status_code == 200, r.text
    assert r.json()["entities"] > 5

    k8s = (FIXTURES / "k8s" / "boutique_list.json").read_bytes()
    r = http.post("/ingest/topology", content=k8s, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["entities"] > 10


def test_topology_bad_bodies(http: httpx.Client) -> None:
    r = http.post("/ingest/topology", content=b"services: [unclosed", headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and "YAML" in r.json()["detail"]
    r = http.post("/ingest/topology", content=b"just: text", headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and "not a format I know" in r.json()["detail"]
    r = http.post("/ingest/topology?format=helm", content=STATIC.encode(), headers={"Content-Type": "text/yaml"})
    assert r.status_code == 400 and "unknown format 'helm'" in r.json()["detail"]
    r = http.post("/ingest/topology", content=b"\xff\xfe\x00", headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]


def test_server_still_serves_after_every_bad_body(http: httpx.Client, intake: RunningIntake) -> None:
    garbage = [
        ("/ingest/logs", b"\x89PNG\r\n\x1a\n" + bytes(range(200))),
        ("/loki/api/v1/push", b"\x89PNG\r\n\x1a\n"),
        ("/hooks/alertmanager", b"{"),
        ("/hooks/grafana", b"[]"),
        ("/hooks/change", b"null"),
        ("/ingest/topology", b"- - - ["),
    ]
    for path, content in garbage:
        r = http.post(path, content=content, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        assert r.json()["detail"]
    _assert_alive(http)
    r = http.post("/ingest/logs", json={"events": [_event("still ingesting after garbage", ingest_id="alive-1")]})
    assert r.status_code == 200 and r.json()["accepted"] == 1
