"""What every source adapter shares: the batch result types, per-item error
reporting, JSON decoding with precise messages, timestamps and the mapping
from telemetry labels (Prometheus, Loki, OTel) to an `EntityRef`.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import InvalidEvent, InvalidPayload
from core.model import Entity, EntityRef, Event, Relation


@dataclass(frozen=True)
class ItemError:
    """One bad item in a batch: its position, the field path and what is wrong.

    `index` is the item's position in the batch (None when the problem is not
    tied to one item); `field` is a path such as ``alerts[3].labels``.
    """

    index: int | None
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ParsedBatch:
    """Events parsed from a batch, the items that were rejected, and warnings
    about accepted items (e.g. unknown fields that were ignored)."""

    events: list[Event] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    warnings: list[ItemError] = field(default_factory=list)

    def extend(self, other: ParsedBatch) -> None:
        self.events.extend(other.events)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)

    def error_summary(self, limit: int = 5) -> str:
        """Human-readable list of the first `limit` errors (for HTTP 4xx bodies and CLI output)."""
        shown = "; ".join(str(e) for e in self.errors[:limit])
        more = len(self.errors) - limit
        return shown + (f"; and {more} more" if more > 0 else "")


@dataclass
class Topology:
    """Graph nodes and edges mapped from a topology source, plus the events it
    carried (Kubernetes events), the items that could not be mapped (`errors`)
    and notes about accepted input that was ignored (`warnings`)."""

    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    warnings: list[ItemError] = field(default_factory=list)

    def raise_for_errors(self, what: str = "topology") -> None:
        """Strict mode: raise InvalidPayload listing every problem, if any."""
        if self.errors:
            lines = "; ".join(str(e) for e in self.errors)
            raise InvalidPayload(f"{what}: {len(self.errors)} problem(s): {lines}")

    def entity(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)


class ItemProblem(Exception):
    """Raised inside an item mapper; the batch loop turns it into an ItemError."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def type_name(value: Any) -> str:
    """JSON-ish type name for error messages ("object", "array", "string", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def decode_json(body: bytes | bytearray | memoryview | str, what: str) -> Any:
    """Parse a JSON body, raising InvalidPayload that says where it broke."""
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        if not raw.strip():
            raise InvalidPayload(f"{what}: empty body", hint="send a JSON document")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidPayload(
                f"{what}: body is not UTF-8 text (invalid byte 0x{raw[e.start]:02x} at byte {e.start}); expected JSON",
                hint="is the body compressed? set Content-Encoding, or send plain JSON",
            ) from e
    else:
        text = body
        if not text.strip():
            raise InvalidPayload(f"{what}: empty body", hint="send a JSON document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        # "Unterminated string" means the string ran to the end of the body
        truncated = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        why = "truncated JSON" if truncated else "invalid JSON"
        raise InvalidPayload(
            f"{what}: {why} at line {e.lineno} column {e.colno} (char {e.pos}): {e.msg}",
            hint="check the body is complete, valid JSON",
        ) from e


def load_payload(payload: Any, what: str) -> Any:
    """Accept an already-decoded document or raw JSON bytes/text."""
    if isinstance(payload, bytes | bytearray | memoryview | str):
        return decode_json(payload, what)
    return payload


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close candidate exists, else ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_keys(obj: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    known_set = set(known)
    return [k for k in obj if k not in known_set]


def unknown_key_message(key: str, known: Iterable[str]) -> str:
    known_list = sorted(known)
    return f"unknown field '{key}'{did_you_mean(key, known_list)}; allowed: {', '.join(known_list)}"


# Alertmanager and Grafana send Go's zero time for "no end yet".
_GO_ZERO_YEAR = 1


def parse_time(value: Any, field: str, *, allow_zero: bool = False) -> datetime | None:
    """RFC 3339 text (any fractional precision) or epoch seconds → aware UTC datetime.

    Go's zero time (year 1) means "unset": None when `allow_zero`, else an error.
    Raises ItemProblem naming `field` for anything else.
    """
    if isinstance(value, bool) or value is None:
        raise ItemProblem(field, f"expected an RFC 3339 timestamp, got {type_name(value)}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ItemProblem(field, f"timestamp must be finite, got {value}")
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError) as e:
            raise ItemProblem(field, f"epoch seconds out of range: {value}") from e
    if not isinstance(value, str):
        raise ItemProblem(field, f"expected an RFC 3339 timestamp, got {type_name(value)}")
    text = value.strip()
    try:
        ts = datetime.fromisoformat(text)
    except ValueError as e:
        raise ItemProblem(field, f"not an RFC 3339 timestamp: {value!r}") from e
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    if ts.year == _GO_ZERO_YEAR:
        if allow_zero:
            return None
        raise ItemProblem(field, "timestamp is unset (Go zero time 0001-01-01)")
    return ts.astimezone(UTC)


def str_map(value: Any, field: str, *, required: bool = False) -> dict[str, str]:
    """A JSON object of string → string (labels, annotations)."""
    if value is None:
        if required:
            raise ItemProblem(field, "is required")
        return {}
    if not isinstance(value, Mapping):
        raise ItemProblem(field, f"expected an object of strings, got {type_name(value)}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise ItemProblem(f"{field}.{k}", f"expected a string, got {type_name(v)}")
        out[str(k)] = v
    return out


def opt_str(obj: Mapping[str, Any], key: str, field: str) -> str | None:
    """An optional string field; None/absent → None, anything else but a string → error."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemProblem(f"{field}.{key}", f"expected a string, got {type_name(value)}")
    return value


def make_event(data: dict[str, Any], field: str) -> Event:
    """Validate an Event; a failure becomes an ItemProblem naming the item."""
    try:
        return Event.parse(data)
    except InvalidEvent as e:
        raise ItemProblem(field, e.message) from e


# --- labels → entity -------------------------------------------------------------------------

# Checked in order; the first present wins. `container` comes before `job`
# because for kube-state-metrics/cAdvisor series `job` names the exporter, not
# the workload the series is about.
_SERVICE_KEYS = (
    "service",
    "service_name",
    "app_kubernetes_io_name",
    "app.kubernetes.io/name",
    "k8s_app",
    "app",
    "k8s_deployment_name",
    "container",
    "k8s_container_name",
    "container_name",
)
_POD_KEYS = ("pod", "k8s_pod_name", "pod_name", "kubernetes_pod_name")
_NODE_KEYS = ("node", "k8s_node_name", "kubernetes_node", "nodename")
_HOST_KEYS = ("host", "hostname", "host_name", "instance")
_NAMESPACE_KEYS = ("namespace", "k8s_namespace_name", "kubernetes_namespace")
_CLUSTER_KEYS = ("cluster", "k8s_cluster_name")
# Placeholder values that name nothing (Loki's default service_name, the pause container).
_NO_NAME = {"", "unknown_service", "unknown", "POD"}


def _first(labels: Mapping[str, str], keys: Sequence[str]) -> str | None:
    for k in keys:
        v = labels.get(k)
        if v is not None and v.strip() not in _NO_NAME:
            return v.strip()
    return None


def strip_port(instance: str) -> str:
    """`10.0.0.5:9100` → `10.0.0.5`, `[::1]:9090` → `::1`, `web-1` → `web-1`."""
    s = instance.strip()
    if s.startswith("["):
        return s[1:].split("]", 1)[0]
    host, sep, port = s.rpartition(":")
    if sep and port.isdigit() and host and ":" not in host:
        return host
    return s


def entity_from_labels(labels: Mapping[str, str], defaults: EntityRef | None = None) -> EntityRef:
    """Where a labelled series/stream/alert happened. Labels win over `defaults`.

    `job` names the service only when nothing more specific is present, and a
    Promtail-style `job="namespace/app"` yields `app`.
    """
    base = defaults.model_dump() if defaults else {}
    service = _first(labels, _SERVICE_KEYS)
    pod = _first(labels, _POD_KEYS)
    if service is None and pod is None:
        job = _first(labels, ("job",))
        if job:
            service = job.rsplit("/", 1)[-1] or None
    host = _first(labels, _HOST_KEYS)
    found = {
        "cluster": _first(labels, _CLUSTER_KEYS),
        "namespace": _first(labels, _NAMESPACE_KEYS),
        "service": service,
        "pod": pod,
        "node": _first(labels, _NODE_KEYS),
        "host": strip_port(host) if host else None,
    }
    merged = {k: found[k] if found[k] is not None else base.get(k) for k in found}
    return EntityRef(**merged)
