"""Loki push decoding: JSON (plain and gzip) and snappy protobuf, cross-checked
against Google's protobuf runtime encoding the same messages."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import cramjam
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

from core.errors import InvalidPayload
from core.model import EntityRef, EventKind, Severity
from core.sources.loki import (
    PushEntry,
    PushStream,
    decode_loki_push,
    encode_push_request,
    format_label_string,
    parse_label_string,
)

T0 = 1_715_680_933_123_456_789  # 2024-05-14T10:02:13.123456789Z

# --- a real protobuf runtime building Loki's push messages ------------------------------------------


def _loki_classes() -> dict[str, Any]:
    """Loki's push.proto messages, described to google.protobuf at test time (no protoc)."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="sherlog_test_push.proto",
        package="logproto",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )

    def msg(name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    msg("PushRequest", [("streams", 1, F.TYPE_MESSAGE, rep, ".logproto.StreamAdapter")])
    msg(
        "StreamAdapter",
        [
            ("labels", 1, F.TYPE_STRING, opt, ""),
            ("entries", 2, F.TYPE_MESSAGE, rep, ".logproto.EntryAdapter"),
            ("hash", 3, F.TYPE_UINT64, opt, ""),
        ],
    )
    msg(
        "EntryAdapter",
        [
            ("timestamp", 1, F.TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
            ("line", 2, F.TYPE_STRING, opt, ""),
            ("structuredMetadata", 3, F.TYPE_MESSAGE, rep, ".logproto.LabelPairAdapter"),
        ],
    )
    msg("LabelPairAdapter", [("name", 1, F.TYPE_STRING, opt, ""), ("value", 2, F.TYPE_STRING, opt, "")])
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(fdp)
    return {
        n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"logproto.{n}"))
        for n in ("PushRequest", "StreamAdapter", "EntryAdapter")
    }


PB = _loki_classes()


def google_push_body() -> bytes:
    """What Promtail sends, serialized by Google's protobuf runtime, snappy block-compressed."""
    req = PB["PushRequest"]()
    s = req.streams.add()
    s.labels = '{app="cartservice", container="server", namespace="boutique", pod="cartservice-6d4c8f7b9-q8w2n"}'
    s.hash = 0xDEADBEEFCAFEF00D  # Loki's label hash; readers ignore it
    e = s.entries.add()
    e.timestamp.seconds, e.timestamp.nanos = divmod(T0, 1_000_000_000)
    e.line = 'level=error msg="GetCart failed" err="redis: connection refused"'
    md = e.structuredMetadata.add()
    md.name, md.value = "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"
    e2 = s.entries.add()
    e2.timestamp.seconds, e2.timestamp.nanos = divmod(T0 + 1_000, 1_000_000_000)
    e2.line = 'level=info msg="retrying"'
    s2 = req.streams.add()
    s2.labels = '{service_name="frontend", level="warn", node="node-1"}'
    e3 = s2.entries.add()
    e3.timestamp.seconds = T0 // 1_000_000_000 + 5
    e3.line = "slow response from checkout: 2.3s"
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def test_protobuf_from_googles_runtime_decodes() -> None:
    batch = decode_loki_push(google_push_body(), "application/x-protobuf")
    assert batch.errors == []
    err, retry, slow = batch.events
    assert err.kind is EventKind.LOG and err.source == "loki-push"
    assert err.entity == EntityRef(namespace="boutique", service="cartservice", pod="cartservice-6d4c8f7b9-q8w2n")
    assert err.ts.isoformat() == "2024-05-14T10:02:13.123456+00:00"
    assert err.attributes["ts_ns"] == T0
    assert err.body.startswith("level=error msg=")
    assert err.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert err.attributes["structured_metadata"] == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert retry.attributes["ts_ns"] == T0 + 1_000 and retry.dedup_key() != err.dedup_key()
    assert slow.entity == EntityRef(service="frontend", node="node-1")
    assert slow.severity is Severity.WARNING, "level label → severity"


def test_our_encoder_is_read_back_by_googles_runtime() -> None:
    streams = [
        PushStream(
            {"app": "x", "pod": 'we"ird\\pod'},
            [PushEntry(T0, "héllo ✓", {"trace_id": "abc"}), PushEntry(-1_000_000_000, "before 1970")],
        )
    ]
    raw = encode_push_request(streams, compress=False)
    req = PB["PushRequest"]()
    req.ParseFromString(raw)
    assert parse_label_string(req.streams[0].labels) == {"app": "x", "pod": 'we"ird\\pod'}
    e0, e1 = req.streams[0].entries
    assert (e0.timestamp.seconds, e0.timestamp.nanos, e0.line) == (T0 // 10**9, T0 % 10**9, "héllo ✓")
    assert e0.structuredMetadata[0].name == "trace_id"
    assert e1.timestamp.seconds == -1
    # and our decoder reads its own bytes identically
    events = decode_loki_push(encode_push_request(streams), "application/x-protobuf").events
    assert [e.body for e in events] == ["héllo ✓", "before 1970"]
    assert events[1].ts.year == 1969


def test_json_push_plain_and_gzip() -> None:
    doc = {
        "streams": [
            {
                "stream": {"job": "boutique/checkoutservice", "namespace": "boutique", "level": "error"},
                "values": [
                    [str(T0), "payment failed: card declined"],
                    [str(T0 + 1), "payment failed: timeout", {"trace_id": "t1", "span_id": "s1"}],
                ],
            }
        ]
    }
    body = json.dumps(doc).encode()
    for raw, enc in ((body, None), (gzip.compress(body), "gzip"), (zlib.compress(body), "deflate")):
        batch = decode_loki_push(raw, "application/json", enc)
        assert batch.errors == []
        assert [e.body for e in batch.events] == ["payment failed: card declined", "payment failed: timeout"]
        assert batch.events[0].entity == EntityRef(namespace="boutique", service="checkoutservice")
        assert batch.events[0].severity is Severity.ERROR
        assert batch.events[1].trace_id == "t1"
    # no Content-Type: sniffed
    assert len(decode_loki_push(body).events) == 2


def test_json_bad_streams_and_entries_are_named_and_good_ones_kept() -> None:
    doc = {
        "streams": [
            {"stream": {"app": "a"}, "values": [[str(T0), "ok 1"], [T0, "numeric ts"], [str(T0), 42], ["x", "y"]]},
            {"stream": ["app", "b"], "values": [[str(T0), "lost with its bad stream"]]},
            {"stream": {"app": "c"}, "values": "nope"},
            "garbage",
            {"stream": {"app": "d"}, "values": [[str(T0), "ok 2", {"k": 1}], [str(T0), "ok 3", {"k": "v"}], [str(T0)]]},
            {"stream": {"app": "e"}, "values": [[str(T0), "x" * 1_000_001]], "tenant": "t"},
        ],
        "extra": True,
    }
    batch = decode_loki_push(json.dumps(doc).encode(), "application/json")
    assert [e.body for e in batch.events] == ["ok 1", "ok 3"]
    assert [(e.index, e.field) for e in batch.errors] == [
        (0, "streams[0].values[1][0]"),
        (0, "streams[0].values[2][1]"),
        (0, "streams[0].values[3][0]"),
        (1, "streams[1].stream"),
        (2, "streams[2].values"),
        (3, "streams[3]"),
        (4, "streams[4].values[0][2].k"),
        (4, "streams[4].values[2]"),
        (5, "streams[5].values[0]"),
    ]
    assert "epoch nanoseconds" in batch.errors[0].message
    assert "at most 1000000 characters" in batch.errors[-1].message
    assert [str(w) for w in batch.warnings] == [
        "extra: unknown field ignored",
        "streams[5].tenant: unknown field ignored",
    ]


def test_protobuf_bad_labels_and_bad_utf8_are_item_errors() -> None:
    good = PushStream({"app": "ok"}, [PushEntry(T0, "fine")])
    raw = bytearray(encode_push_request([good], compress=False))
    # a stream whose labels are not a label set, and one whose line is not UTF-8
    from core.sources.protowire import len_field, varint_field

    ts = len_field(1, varint_field(1, T0 // 10**9))
    bad_labels = len_field(1, len_field(1, "app=ok") + len_field(2, ts + len_field(2, "lost")))
    bad_line = len_field(1, len_field(1, '{app="b"}') + len_field(2, ts + len_field(2, b"\xff\xfe")))
    no_ts = len_field(1, len_field(1, '{app="c"}') + len_field(2, len_field(2, "when?")))
    body = bytes(cramjam.snappy.compress_raw(bytes(raw) + bad_labels + bad_line + no_ts))
    batch = decode_loki_push(body, "application/x-protobuf")
    assert [e.body for e in batch.events] == ["fine"]
    assert [str(e) for e in batch.errors] == [
        "streams[1].labels: label set must start with '{', got 'app=ok' in 'app=ok'",
        "streams[2].entries[0].line: not UTF-8 (invalid byte 0xff at offset 0)",
        "streams[3].entries[0].timestamp: is required",
    ]


def test_truncated_protobuf_names_the_byte() -> None:
    raw = encode_push_request([PushStream({"app": "a"}, [PushEntry(T0, "x" * 50)])], compress=False)
    cut = raw[: len(raw) - 10]
    with pytest.raises(InvalidPayload) as err:
        decode_loki_push(bytes(cramjam.snappy.compress_raw(cut)), "application/x-protobuf")
    assert str(err.value).startswith("loki push: truncated protobuf at byte ")
    assert "declares" in str(err.value)


@pytest.mark.parametrize(
    ("body", "ctype", "encoding", "message"),
    [
        (b"\x00\x01\x02 definitely not snappy \xff" * 3, "application/x-protobuf", None, "not valid snappy"),
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "application/x-protobuf", None, "not snappy"),
        (b'{"streams": [{"stream": {"app": "a"}, "values": [["1', "application/json", None, "truncated JSON"),
        (b"\x89PNG\r\n\x1a\n", "application/json", None, "not UTF-8"),
        (gzip.compress(b'{"streams": []}')[:-12], "application/json", "gzip", "truncated gzip"),
        (b"plain text", "application/json", "gzip", "not valid gzip"),
        (b'{"streams": []}', "application/json", "br", "unsupported Content-Encoding 'br'"),
        (b'{"streams": {}}', "application/json", None, "'streams' must be an array, got object"),
        (b"[]", "application/json", None, "expected a JSON object"),
        (b"", "application/json", None, "empty body"),
    ],
)
def test_broken_bodies_are_rejected_whole_with_a_clear_message(
    body: bytes, ctype: str, encoding: str | None, message: str
) -> None:
    with pytest.raises(InvalidPayload) as err:
        decode_loki_push(body, ctype, encoding)
    assert message in str(err.value)
    assert str(err.value).startswith("loki push: ")


def test_garbage_that_happens_to_be_valid_snappy_is_malformed_protobuf() -> None:
    body = bytes(cramjam.snappy.compress_raw(b"\x0f\x0f\x0f\x0f"))  # field 1, wire type 7
    with pytest.raises(InvalidPayload, match="malformed protobuf at byte 0"):
        decode_loki_push(body, "application/x-protobuf")


def test_snappy_length_bomb_is_refused_before_decompressing() -> None:
    body = b"\x80\x80\x80\x80\x10" + b"\x00" * 8  # declares 4 GiB
    with pytest.raises(InvalidPayload, match="declares 4294967296 bytes"):
        decode_loki_push(body, "application/x-protobuf")


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("{}", {}),
        ('{app="x"}', {"app": "x"}),
        ('{ app = "x" , pod="y\\"z\\\\" ,}', {"app": "x", "pod": 'y"z\\'}),
        ('{msg="a\\nb"}', {"msg": "a\nb"}),
    ],
)
def test_label_string_parsing(text: str, labels: dict[str, str]) -> None:
    assert parse_label_string(text) == labels
    assert parse_label_string(format_label_string(labels)) == labels


@pytest.mark.parametrize(
    "bad", ["app=x", '{app="x"', '{app="x" pod="y"}', '{1app="x"}', '{app="x"} trailing', "{app=x}"]
)
def test_bad_label_strings(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_label_string(bad)
