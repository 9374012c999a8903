"""Loki push protocol (`POST /loki/api/v1/push`) → Events kind=log, so Promtail,
Grafana Alloy, Vector or Fluent Bit can ship to Sherlog unchanged.

Two encodings, as Loki itself accepts them:

* JSON: `{"streams": [{"stream": {labels}, "values": [["<ns epoch>", "line"
  (, {structured metadata})], ...]}]}`, optionally gzip/deflate
  Content-Encoding.
* Protobuf (`application/x-protobuf`), snappy *block* compressed (what
  Promtail and Alloy send): PushRequest{streams=1} StreamAdapter{labels=1
  (`{app="x", pod="y"}`), entries=2, hash=3} EntryAdapter{timestamp=1
  (google.protobuf.Timestamp), line=2, structuredMetadata=3
  (LabelPairAdapter{name=1, value=2})}. Decoded by `core.sources.protowire`.

A body whose framing is broken (truncated protobuf, bad snappy, bad gzip,
invalid JSON) is rejected whole with InvalidPayload saying where; a bad
stream or entry inside a well-formed body becomes an ItemError and the rest
of the batch is kept.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cramjam

from core.errors import InvalidPayload
from core.model import EntityRef, Event, EventKind, Severity
from core.sources.common import (
    ItemError,
    ItemProblem,
    ParsedBatch,
    decode_json,
    entity_from_labels,
    make_event,
    str_map,
    type_name,
)
from core.sources.protowire import LEN, VARINT, WireError, as_int64, iter_fields, len_field, read_varint, varint_field

WHAT = "loki push"
DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024
_LEVEL_KEYS = ("level", "detected_level", "severity", "lvl", "log_level")
_TRACE_KEYS = ("trace_id", "traceID", "traceid", "traceId")


# --- label strings ----------------------------------------------------------------------------


def parse_label_string(text: str) -> dict[str, str]:
    """Prometheus label-set text `{app="x", pod="y"}` → dict. Raises ValueError naming the position."""
    s = text.strip()
    n = len(s)
    if not s.startswith("{"):
        raise ValueError(f"label set must start with '{{', got {s[:20]!r}")
    pos = 1
    labels: dict[str, str] = {}

    def skip_ws(p: int) -> int:
        while p < n and s[p] in " \t\r\n":
            p += 1
        return p

    pos = skip_ws(pos)
    if pos < n and s[pos] == "}":
        if skip_ws(pos + 1) != n:
            raise ValueError(f"unexpected text after '}}' at char {pos + 1}")
        return labels
    while True:
        pos = skip_ws(pos)
        start = pos
        while pos < n and (s[pos].isalnum() or s[pos] in "_.") and s[pos].isascii():
            pos += 1
        name = s[start:pos]
        if not name or name[0].isdigit():
            raise ValueError(f"expected a label name at char {start}")
        pos = skip_ws(pos)
        if pos >= n or s[pos] != "=":
            raise ValueError(f"expected '=' after label '{name}' at char {pos}")
        pos = skip_ws(pos + 1)
        if pos >= n or s[pos] != '"':
            raise ValueError(f"expected '\"' to open the value of '{name}' at char {pos}")
        pos += 1
        value: list[str] = []
        while True:
            if pos >= n:
                raise ValueError(f"unterminated value of label '{name}'")
            c = s[pos]
            if c == "\\" and pos + 1 < n:
                nxt = s[pos + 1]
                value.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                pos += 2
                continue
            if c == '"':
                pos += 1
                break
            value.append(c)
            pos += 1
        labels[name] = "".join(value)
        pos = skip_ws(pos)
        if pos < n and s[pos] == ",":
            pos = skip_ws(pos + 1)
            if pos < n and s[pos] == "}":  # trailing comma
                pos += 1
                break
            continue
        if pos < n and s[pos] == "}":
            pos += 1
            break
        raise ValueError(f"expected ',' or '}}' at char {pos}")
    if skip_ws(pos) != n:
        raise ValueError(f"unexpected text after '}}' at char {pos}")
    return labels


def format_label_string(labels: Mapping[str, str]) -> str:
    """dict → `{a="1", b="x\\"y"}` (the form Promtail sends)."""
    esc = {k: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k, v in labels.items()}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in esc.items()) + "}"


# --- body decoding ----------------------------------------------------------------------------


def _decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "x-gzip", "deflate"):
        raise InvalidPayload(f"{WHAT}: unsupported Content-Encoding '{encoding}' (use gzip, deflate or none)")
    # gzip: wbits 16+MAX; deflate: zlib-wrapped (RFC 9110), with raw deflate as the fallback some clients send
    attempts = [zlib.MAX_WBITS | 16] if enc != "deflate" else [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    last: zlib.error | None = None
    for wbits in attempts:
        try:
            d = zlib.decompressobj(wbits)
            out = d.decompress(body, max_bytes + 1)
            if len(out) > max_bytes:
                raise InvalidPayload(f"{WHAT}: body expands beyond {max_bytes} bytes when decompressed")
            if not d.eof:
                raise InvalidPayload(f"{WHAT}: truncated {enc} body (stream ends early)")
            return out
        except zlib.error as e:
            last = e
    raise InvalidPayload(f"{WHAT}: body is not valid {enc} data ({last})") from last


def _snappy(body: bytes, max_bytes: int) -> bytes:
    # the block format starts with the uncompressed length as a varint: check it before allocating
    try:
        declared, _ = read_varint(body, 0)
    except WireError as e:
        raise InvalidPayload(
            f"{WHAT}: body is not snappy block-compressed data (no length header)",
            hint="protobuf pushes must be snappy block-compressed, as Promtail sends them",
        ) from e
    if declared > max_bytes:
        raise InvalidPayload(f"{WHAT}: snappy body declares {declared} bytes, more than the {max_bytes} allowed")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as e:
        raise InvalidPayload(
            f"{WHAT}: body is not valid snappy block-compressed data ({e})",
            hint="protobuf pushes must be snappy block-compressed (not framed), as Promtail sends them",
        ) from e


def _is_json(body: bytes, content_type: str | None) -> bool:
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if "json" in ct:
        return True
    if "protobuf" in ct:
        return False
    return body.lstrip()[:1] == b"{"


def decode_loki_push(
    body: bytes,
    content_type: str | None = None,
    content_encoding: str | None = None,
    *,
    defaults: EntityRef | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> ParsedBatch:
    """A Loki push body → log Events. JSON or snappy-protobuf, chosen by Content-Type
    (sniffed when absent); gzip/deflate Content-Encoding is undone first."""
    if not body:
        raise InvalidPayload(f"{WHAT}: empty body")
    raw = _decompress(bytes(body), content_encoding, max_decoded_bytes)
    if _is_json(raw, content_type):
        return _from_json(decode_json(raw, WHAT), defaults)
    return _from_protobuf(_snappy(raw, max_decoded_bytes), defaults)


# --- JSON -------------------------------------------------------------------------------------


def _json_entry(value: Any, here: str) -> tuple[int, str, dict[str, str]]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise ItemProblem(here, f'expected ["<ns epoch>", "line"] or with structured metadata, got {type_name(value)}')
    ts_raw, line = value[0], value[1]
    if not isinstance(ts_raw, str) or not ts_raw.strip().isdigit():
        raise ItemProblem(f"{here}[0]", f"timestamp must be a string of epoch nanoseconds, got {ts_raw!r}")
    if not isinstance(line, str):
        raise ItemProblem(f"{here}[1]", f"log line must be a string, got {type_name(line)}")
    meta = str_map(value[2], f"{here}[2]") if len(value) == 3 else {}
    return int(ts_raw), line, meta


def _from_json(doc: Any, defaults: EntityRef | None) -> ParsedBatch:
    if not isinstance(doc, Mapping):
        raise InvalidPayload(f"{WHAT}: expected a JSON object with 'streams', got {type_name(doc)}")
    streams = doc.get("streams")
    if not isinstance(streams, list):
        raise InvalidPayload(f"{WHAT}: 'streams' must be an array, got {type_name(streams)}")
    batch = ParsedBatch()
    for key in doc:
        if key != "streams":
            batch.warnings.append(ItemError(None, key, "unknown field ignored"))
    for i, stream in enumerate(streams):
        here = f"streams[{i}]"
        try:
            if not isinstance(stream, Mapping):
                raise ItemProblem(here, f"expected a stream object, got {type_name(stream)}")
            labels = str_map(stream.get("stream"), f"{here}.stream", required=True)
            for key in stream:
                if key not in ("stream", "values"):
                    batch.warnings.append(ItemError(i, f"{here}.{key}", "unknown field ignored"))
            values = stream.get("values")
            if not isinstance(values, list):
                raise ItemProblem(f"{here}.values", f"expected an array of entries, got {type_name(values)}")
        except ItemProblem as e:
            batch.errors.append(ItemError(i, e.field, e.message))
            continue
        entity = entity_from_labels(labels, defaults)
        for j, value in enumerate(values):
            where = f"{here}.values[{j}]"
            try:
                ts, line, meta = _json_entry(value, where)
                batch.events.append(_log_event(labels, entity, ts, line, meta, where))
            except ItemProblem as e:
                batch.errors.append(ItemError(i, e.field, e.message))
    return batch


# --- protobuf ---------------------------------------------------------------------------------


def _text(value: int | bytes, where: str) -> str:
    if not isinstance(value, bytes):
        raise ItemProblem(where, "expected a length-delimited string field")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ItemProblem(where, f"not UTF-8 (invalid byte 0x{value[e.start]:02x} at offset {e.start})") from e


def _ns_to_datetime(ns: int, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(microsecond=(ns % 1_000_000_000) // 1000)
    except (OverflowError, OSError, ValueError) as e:
        raise ItemProblem(where, f"timestamp out of range: {ns} ns") from e


def _pb_timestamp(buf: bytes, base: int, where: str) -> int:
    seconds = nanos = 0
    for f in iter_fields(buf, base):
        if f.number == 1 and f.wire_type == VARINT:
            seconds = as_int64(int(f.value))
        elif f.number == 2 and f.wire_type == VARINT:
            nanos = as_int64(int(f.value))
    if not 0 <= nanos < 1_000_000_000:
        raise ItemProblem(where, f"timestamp nanos out of range: {nanos}")
    return seconds * 1_000_000_000 + nanos


def _pb_entry(buf: bytes, base: int, where: str) -> tuple[int, str, dict[str, str]]:
    ts: int | None = None
    line = ""
    meta: dict[str, str] = {}
    for f in iter_fields(buf, base):
        if f.wire_type != LEN:
            continue  # unknown scalar fields are skipped, as protobuf readers must
        assert isinstance(f.value, bytes)
        if f.number == 1:
            ts = _pb_timestamp(f.value, f.offset, f"{where}.timestamp")
        elif f.number == 2:
            line = _text(f.value, f"{where}.line")
        elif f.number == 3:
            name = value = ""
            for p in iter_fields(f.value, f.offset):
                if p.number == 1:
                    name = _text(p.value, f"{where}.structuredMetadata.name")
                elif p.number == 2:
                    value = _text(p.value, f"{where}.structuredMetadata.value")
            if not name:
                raise ItemProblem(f"{where}.structuredMetadata", "label pair without a name")
            meta[name] = value
    if ts is None:
        raise ItemProblem(f"{where}.timestamp", "is required")
    return ts, line, meta


def _from_protobuf(buf: bytes, defaults: EntityRef | None) -> ParsedBatch:
    batch = ParsedBatch()
    try:
        streams = [f for f in iter_fields(buf) if f.number == 1]
        for i, sf in enumerate(streams):
            here = f"streams[{i}]"
            if sf.wire_type != LEN:
                batch.errors.append(ItemError(i, here, "stream must be a length-delimited message"))
                continue
            assert isinstance(sf.value, bytes)
            fields = list(iter_fields(sf.value, sf.offset))
            try:
                label_text = next((_text(f.value, f"{here}.labels") for f in fields if f.number == 1), None)
                if label_text is None:
                    raise ItemProblem(f"{here}.labels", "is required")
                try:
                    labels = parse_label_string(label_text)
                except ValueError as e:
                    raise ItemProblem(f"{here}.labels", f"{e} in {label_text[:80]!r}") from e
            except ItemProblem as e:
                batch.errors.append(ItemError(i, e.field, e.message))
                continue
            entity = entity_from_labels(labels, defaults)
            entries = [f for f in fields if f.number == 2 and f.wire_type == LEN]
            for j, ef in enumerate(entries):
                where = f"{here}.entries[{j}]"
                try:
                    assert isinstance(ef.value, bytes)
                    ts, line, meta = _pb_entry(ef.value, ef.offset, where)
                    batch.events.append(_log_event(labels, entity, ts, line, meta, where))
                except ItemProblem as e:
                    batch.errors.append(ItemError(i, e.field, e.message))
    except WireError as e:
        raise InvalidPayload(
            f"{WHAT}: {e}", hint="the body is cut short or is not a Loki PushRequest; resend the whole batch"
        ) from e
    return batch


# --- events -----------------------------------------------------------------------------------


def _log_event(
    labels: dict[str, str], entity: EntityRef, ts_ns: int, line: str, meta: dict[str, str], where: str
) -> Event:
    level = next((src[k] for src in (meta, labels) for k in _LEVEL_KEYS if src.get(k)), None)
    trace = next((meta[k] for k in _TRACE_KEYS if meta.get(k)), None)
    # Events keep microseconds; the exact nanoseconds keep two lines a few ns apart distinct
    attributes: dict[str, Any] = {"labels": labels, "ts_ns": ts_ns}
    if meta:
        attributes["structured_metadata"] = meta
    return make_event(
        {
            "source": "loki-push",
            "kind": EventKind.LOG,
            "ts": _ns_to_datetime(ts_ns, where),
            "entity": entity,
            "severity": Severity.parse(level) if level else Severity.INFO,
            "body": line,
            "attributes": attributes,
            "trace_id": trace,
        },
        where,
    )


# --- encoder (tests, tools) -------------------------------------------------------------------


@dataclass
class PushEntry:
    """One log line to encode: epoch nanoseconds, text, structured metadata."""

    ts_ns: int
    line: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class PushStream:
    """A labelled stream of entries to encode."""

    labels: dict[str, str]
    entries: list[PushEntry]


def encode_push_request(streams: Sequence[PushStream], *, compress: bool = True) -> bytes:
    """Build a Loki PushRequest protobuf body (snappy block-compressed unless `compress=False`)."""
    out = bytearray()
    for s in streams:
        msg = bytearray(len_field(1, format_label_string(s.labels)))
        for e in s.entries:
            ts = varint_field(1, e.ts_ns // 1_000_000_000) + varint_field(2, e.ts_ns % 1_000_000_000)
            entry = len_field(1, ts) + len_field(2, e.line)
            for k, v in e.metadata.items():
                entry += len_field(3, len_field(1, k) + len_field(2, v))
            msg += len_field(2, entry)
        out += len_field(1, bytes(msg))
    body = bytes(out)
    return bytes(cramjam.snappy.compress_raw(body)) if compress else body
