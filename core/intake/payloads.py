"""Decoders for the two intake bodies that have no vendor format: Sherlog's own
log batch (`POST /ingest/logs`) and a topology document (`POST /ingest/topology`).

Log batch shapes:

* `{"events": [Event, ...]}` or a bare JSON array of Event objects;
* `{"lines": ["text" | {"body", "ts", "ingest_id", "severity", "attributes",
  "trace_id", "span_id"}, ...], "service": ..., "source": ..., "host": ...,
  "namespace": ..., "cluster": ..., "pod": ..., "node": ..., "severity": ...,
  "attributes": {...}}`: many lines of one stream, the stream's fields given once.

A body-level problem (not JSON, wrong top-level type, an unknown top-level
field) raises InvalidPayload; a bad item becomes an ItemError and the other
items are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import yaml

from core.errors import InvalidEvent, InvalidPayload
from core.model import Event, EventKind
from core.sources.common import (
    ItemError,
    ParsedBatch,
    Topology,
    decode_json,
    did_you_mean,
    type_name,
    unknown_key_message,
)
from core.sources.k8s import from_kubernetes
from core.sources.topology import from_compose, from_static

LOGS = "log batch"
_STREAM_ENTITY_KEYS = ("service", "host", "namespace", "cluster", "pod", "node")
_STREAM_KEYS = frozenset({"lines", "source", "severity", "attributes", *_STREAM_ENTITY_KEYS})
_LINE_KEYS = frozenset({"body", "line", "ts", "ingest_id", "severity", "attributes", "trace_id", "span_id"})
TopologyFormat = Literal["auto", "static", "compose", "kubernetes"]


@dataclass
class LogBatch:
    """Events decoded from a log batch; `indices[k]` is the item position of `batch.events[k]`
    so rejections reported later can name the item the client sent."""

    batch: ParsedBatch = field(default_factory=ParsedBatch)
    indices: list[int] = field(default_factory=list)
    path: str = "events"

    def add(self, index: int, event: Event) -> None:
        self.batch.events.append(event)
        self.indices.append(index)

    def reject(self, index: int, where: str, message: str) -> None:
        self.batch.errors.append(ItemError(index, where, message))


def _event_item(item: Any, index: int, out: LogBatch) -> None:
    here = f"{out.path}[{index}]"
    if not isinstance(item, Mapping):
        out.reject(index, here, f"expected an event object, got {type_name(item)}")
        return
    try:
        out.add(index, Event.parse(item))
    except InvalidEvent as e:
        out.reject(index, f"{here}.{e.field}" if e.field else here, e.message)


def _stream_template(doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    for key in (*_STREAM_ENTITY_KEYS, "source"):
        value = doc.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidPayload(f"{LOGS}: '{key}' must be a string, got {type_name(value)}")
    attrs = doc.get("attributes", {})
    if not isinstance(attrs, Mapping):
        raise InvalidPayload(f"{LOGS}: 'attributes' must be an object, got {type_name(attrs)}")
    entity = {k: doc[k] for k in _STREAM_ENTITY_KEYS if doc.get(k)}
    template: dict[str, Any] = {
        "source": doc.get("source") or "http",
        "kind": EventKind.LOG.value,
        "ts": now,
        "entity": entity,
        "attributes": dict(attrs),
    }
    if doc.get("severity") is not None:
        template["severity"] = doc["severity"]
    return template


def _line_item(item: Any, index: int, template: Mapping[str, Any], out: LogBatch) -> None:
    here = f"lines[{index}]"
    data = dict(template)
    if isinstance(item, str):
        data["body"] = item
    elif isinstance(item, Mapping):
        unknown = [k for k in item if k not in _LINE_KEYS]
        if unknown:
            out.reject(index, f"{here}.{unknown[0]}", unknown_key_message(str(unknown[0]), _LINE_KEYS))
            return
        if "body" in item and "line" in item:
            out.reject(index, here, "give the text as 'body' or 'line', not both")
            return
        for key, value in item.items():
            if key == "attributes":
                if not isinstance(value, Mapping):
                    out.reject(index, f"{here}.attributes", f"expected an object, got {type_name(value)}")
                    return
                data["attributes"] = {**template["attributes"], **value}
            else:
                data["body" if key == "line" else key] = value
        if not isinstance(data.get("body"), str):
            out.reject(
                index, f"{here}.body", f"expected the line's text as a string, got {type_name(data.get('body'))}"
            )
            return
    else:
        out.reject(index, here, f"expected a string or a line object, got {type_name(item)}")
        return
    try:
        out.add(index, Event.parse(data))
    except InvalidEvent as e:
        # entity.* problems come from the stream fields, the rest from the line
        out.reject(index, f"{here}.{e.field}" if e.field else here, e.message)


def parse_log_batch(body: bytes, *, now: datetime | None = None) -> LogBatch:
    """A `/ingest/logs` body → events plus per-item errors. Raises InvalidPayload when unusable."""
    doc = decode_json(body, LOGS)
    now = now or datetime.now(UTC)
    if isinstance(doc, list):
        out = LogBatch(path="")
        for i, item in enumerate(doc):
            _event_item(item, i, out)
        return out
    if not isinstance(doc, Mapping):
        raise InvalidPayload(
            f"{LOGS}: expected an object or an array of events, got {type_name(doc)}",
            hint='send {"events": [...]}, {"lines": [...], "service": "..."} or [event, ...]',
        )
    if "events" in doc:
        extra = [k for k in doc if k != "events"]
        if extra:
            raise InvalidPayload(f"{LOGS}: unknown top-level field '{extra[0]}' beside 'events'")
        events = doc["events"]
        if not isinstance(events, list):
            raise InvalidPayload(f"{LOGS}: 'events' must be an array, got {type_name(events)}")
        out = LogBatch(path="events")
        for i, item in enumerate(events):
            _event_item(item, i, out)
        return out
    if "lines" in doc:
        unknown = [k for k in doc if k not in _STREAM_KEYS]
        if unknown:
            # a typo such as 'servce' would file every line under no service: refuse the body
            raise InvalidPayload(f"{LOGS}: {unknown_key_message(str(unknown[0]), _STREAM_KEYS)}")
        lines = doc["lines"]
        if not isinstance(lines, list):
            raise InvalidPayload(f"{LOGS}: 'lines' must be an array, got {type_name(lines)}")
        template = _stream_template(doc, now)
        out = LogBatch(path="lines")
        for i, item in enumerate(lines):
            _line_item(item, i, template, out)
        return out
    keys = ", ".join(repr(str(k)) for k in list(doc)[:5]) or "none"
    guess = did_you_mean(str(next(iter(doc), "")), ("events", "lines"))
    raise InvalidPayload(
        f"{LOGS}: expected an 'events' or 'lines' array, got an object with keys {keys}{guess}",
        hint='send {"events": [...]}, {"lines": [...], "service": "..."} or [event, ...]',
    )


# --- topology ---------------------------------------------------------------------------------


def _load_document(body: bytes) -> Any:
    if not body.strip():
        raise InvalidPayload("topology: empty body", hint="send static YAML, a compose file or a kubectl List")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidPayload(
            f"topology: body is not UTF-8 text (invalid byte 0x{body[e.start]:02x} at byte {e.start})"
        ) from e
    try:
        # JSON is YAML, so `kubectl get -o json` dumps and JSON static topologies load here too
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InvalidPayload(f"topology: not valid YAML or JSON: {e}") from e


def detect_topology_format(doc: Any) -> TopologyFormat:
    """Which mapper a topology document needs, by its shape."""
    if isinstance(doc, list):
        return "kubernetes"
    if isinstance(doc, Mapping):
        if doc.get("kind") == "List" or isinstance(doc.get("items"), list):
            return "kubernetes"
        if isinstance(doc.get("services"), Mapping):
            return "compose"
        if isinstance(doc.get("services"), list):
            return "static"
    raise InvalidPayload(
        f"topology: not a format I know (got {type_name(doc)}"
        + (f" with keys {', '.join(repr(str(k)) for k in list(doc)[:5])}" if isinstance(doc, Mapping) else "")
        + ")",
        hint="send a Kubernetes List (kubectl get -o json), a compose file, or static YAML with a 'services' list",
    )


def parse_topology(body: bytes, *, fmt: TopologyFormat = "auto", cluster: str = "") -> Topology:
    """A `/ingest/topology` body → Topology, with the mapper chosen by `fmt` or by shape."""
    doc = _load_document(body)
    chosen = detect_topology_format(doc) if fmt == "auto" else fmt
    if chosen == "kubernetes":
        return from_kubernetes(doc, cluster=cluster)
    if chosen == "compose":
        if not isinstance(doc, Mapping):
            raise InvalidPayload(f"topology: a compose file must be a mapping, got {type_name(doc)}")
        return from_compose(doc, cluster=cluster)
    return from_static(doc)
