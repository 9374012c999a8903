"""The hand-rolled protobuf wire reader/writer, checked against google.protobuf's encoder."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2, timestamp_pb2, wrappers_pb2

from core.sources.protowire import (
    FIXED64,
    LEN,
    VARINT,
    WireError,
    as_int64,
    encode_varint,
    iter_fields,
    len_field,
    read_varint,
    varint_field,
)


@pytest.mark.parametrize("value", [1, 127, 128, 300, 2**32, 2**63 - 1, 2**64 - 1])
def test_varints_match_googles_encoding(value: int) -> None:
    assert varint_field(1, value) == wrappers_pb2.UInt64Value(value=value).SerializeToString()
    assert read_varint(encode_varint(value), 0) == (value, len(encode_varint(value)))


def test_zero_varint_round_trips() -> None:
    assert encode_varint(0) == b"\x00" and read_varint(b"\x00", 0) == (0, 1)


def test_negative_int64_uses_ten_bytes_like_google() -> None:
    ref = timestamp_pb2.Timestamp(seconds=-5).SerializeToString()
    assert varint_field(1, -5) == ref and len(encode_varint(-5)) == 10
    (f,) = iter_fields(ref)
    assert as_int64(int(f.value)) == -5


def test_fields_of_a_real_message_including_unknown_wire_types() -> None:
    # Value{number_value=1.5} is a fixed64 field; ListValue nests length-delimited messages
    raw = struct_pb2.Value(number_value=1.5).SerializeToString() + len_field(7, "tail") + varint_field(9, 3)
    fields = list(iter_fields(raw))
    assert [(f.number, f.wire_type) for f in fields] == [(2, FIXED64), (7, LEN), (9, VARINT)]
    assert fields[1].value == b"tail"
    assert fields[1].offset == 11, "offset of the payload within the buffer"


@pytest.mark.parametrize(
    ("raw", "kind", "offset"),
    [
        (b"\x0a\x05abc", "truncated", 2),  # declares 5 bytes, 3 remain
        (b"\x08\x80", "truncated", 2),  # varint runs past the end
        (b"\x09\x00\x00", "truncated", 1),  # fixed64 with 2 bytes
        (b"\x0b", "malformed", 0),  # wire type 3 (group)
        (b"\x00\x01", "malformed", 0),  # field number 0
        (b"\x08" + b"\xff" * 11, "malformed", 1),  # varint too long
    ],
)
def test_broken_messages_name_kind_and_byte(raw: bytes, kind: str, offset: int) -> None:
    with pytest.raises(WireError) as err:
        list(iter_fields(raw))
    assert (err.value.kind, err.value.offset) == (kind, offset)
    assert str(err.value).startswith(f"{kind} protobuf at byte {offset}")


def test_offsets_are_absolute_in_nested_messages() -> None:
    inner = b"\x0a\x09abc"  # truncated inside
    outer = len_field(1, inner)
    (f,) = iter_fields(outer)
    assert isinstance(f.value, bytes)
    with pytest.raises(WireError) as err:
        list(iter_fields(f.value, f.offset))
    assert err.value.offset == 2 + 2  # outer key+length, then inner key+length
