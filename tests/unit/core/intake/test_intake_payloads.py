"""Sherlog's own log batch shapes and topology format detection."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.errors import InvalidPayload
from core.intake.payloads import detect_topology_format, parse_log_batch, parse_topology
from core.model import Severity

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_events_form_keeps_item_indices_of_the_good_events() -> None:
    ev = {"source": "t", "kind": "log", "ts": "2024-05-01T10:00:00Z", "body": "hello"}
    out = parse_log_batch(_body({"events": [ev, {"kind": "log"}, ev | {"body": "again"}]}))
    assert [e.body for e in out.batch.events] == ["hello", "again"]
    assert out.indices == [0, 2]
    (err,) = out.batch.errors
    assert err.index == 1 and err.field.startswith("events[1].")


def test_bare_array_form_uses_bare_indices() -> None:
    out = parse_log_batch(_body([{"source": "t", "kind": "log", "ts": 0, "body": "x", "extra": 1}]))
    assert out.batch.errors[0].field == "[0].extra"


def test_lines_form_applies_stream_fields_and_line_overrides() -> None:
    doc = {
        "service": "cart",
        "namespace": "shop",
        "source": "fluent",
        "severity": "warn",
        "attributes": {"env": "prod"},
        "lines": [
            "plain line",
            {"line": "with ts", "ts": "2024-05-01T11:59:00Z", "attributes": {"k": 1}, "ingest_id": "id-2"},
            {"body": "override sev", "severity": "error"},
        ],
    }
    out = parse_log_batch(_body(doc), now=NOW)
    a, b, c = out.batch.events
    assert (a.body, a.ts, a.source, a.severity) == ("plain line", NOW, "fluent", Severity.WARNING)
    assert a.entity.service == "cart" and a.entity.namespace == "shop"
    assert b.ts == datetime(2024, 5, 1, 11, 59, tzinfo=UTC) and b.ingest_id == "id-2"
    assert b.attributes == {"env": "prod", "k": 1}
    assert c.severity == Severity.ERROR
    assert not out.batch.errors


@pytest.mark.parametrize(
    ("item", "field", "needle"),
    [
        ({"body": "x", "colour": "red"}, "lines[0].colour", "unknown field 'colour'"),
        ({"body": "x", "line": "y"}, "lines[0]", "not both"),
        ({"ts": "2024-01-01T00:00:00Z"}, "lines[0].body", "got null"),
        ({"body": "x", "attributes": []}, "lines[0].attributes", "expected an object"),
        ({"body": "x", "ts": "yesterday"}, "lines[0].ts", "invalid event"),
        (3.5, "lines[0]", "got number"),
    ],
)
def test_bad_lines_are_item_errors(item: object, field: str, needle: str) -> None:
    out = parse_log_batch(_body({"service": "s", "lines": [item, "good"]}))
    assert [e.body for e in out.batch.events] == ["good"] and out.indices == [1]
    (err,) = out.batch.errors
    assert (err.index, err.field) == (0, field)
    assert needle in err.message


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"events": [], "service": "x"}, "unknown top-level field 'service' beside 'events'"),
        ({"lines": [], "servce": "x"}, "did you mean 'service'"),
        ({"lines": [], "service": 5}, "'service' must be a string, got number"),
        ({"lines": [], "attributes": "a=b"}, "'attributes' must be an object"),
        ({"evnts": []}, "did you mean 'events'"),
        (7, "got number"),
    ],
)
def test_unusable_batches_raise(doc: object, needle: str) -> None:
    with pytest.raises(InvalidPayload, match=needle.replace("(", r"\(")):
        parse_log_batch(_body(doc))


def test_topology_format_detection() -> None:
    assert detect_topology_format({"kind": "List", "items": []}) == "kubernetes"
    assert detect_topology_format([{"kind": "Pod"}]) == "kubernetes"
    assert detect_topology_format({"services": {"web": {"image": "nginx"}}}) == "compose"
    assert detect_topology_format({"services": [{"name": "web"}]}) == "static"
    with pytest.raises(InvalidPayload, match=r"not a format I know.*'nodes'"):
        detect_topology_format({"nodes": []})


def test_topology_parse_errors_name_the_problem() -> None:
    with pytest.raises(InvalidPayload, match="empty body"):
        parse_topology(b"  ")
    with pytest.raises(InvalidPayload, match="not valid YAML"):
        parse_topology(b"services: [a, {b")
    with pytest.raises(InvalidPayload, match="compose file must be a mapping"):
        parse_topology(b"[1, 2]", fmt="compose")
    topo = parse_topology(b"services: [{name: web, depends_on: [db]}, {name: db, kind: Database}]")
    assert {e.name for e in topo.entities} >= {"web", "db"}
