"""A minimal protobuf wire-format reader and writer.

Enough for Loki's push protocol (varints, length-delimited fields, fixed
32/64-bit fields skipped) without generated code or protoc. Offsets in errors
are absolute byte positions in the message being decoded, so a report says
exactly where a body is truncated or corrupt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
_MAX_VARINT_BYTES = 10


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message; `offset` is where it broke.

    `kind` is "truncated" (ran past the end) or "malformed" (impossible bytes).
    """

    def __init__(self, kind: str, offset: int, detail: str = "") -> None:
        self.kind = kind
        self.offset = offset
        self.detail = detail
        super().__init__(f"{kind} protobuf at byte {offset}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Field:
    """One decoded field: number, wire type, value (int for varint/fixed, bytes for LEN), start offset."""

    number: int
    wire_type: int
    value: int | bytes
    offset: int


def read_varint(buf: bytes, pos: int, base: int = 0) -> tuple[int, int]:
    """(value, next position). `base` is added to offsets in errors."""
    result = shift = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(buf):
            raise WireError("truncated", base + pos + i, "varint runs past the end")
        b = buf[pos + i]
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, pos + i + 1
        shift += 7
    raise WireError("malformed", base + pos, "varint longer than 10 bytes")


def iter_fields(buf: bytes, base: int = 0) -> Iterator[Field]:
    """Every top-level field of a message, in order. Unknown numbers are yielded too
    (callers skip what they do not know); groups are rejected."""
    pos = 0
    n = len(buf)
    while pos < n:
        start = pos
        key, pos = read_varint(buf, pos, base)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("malformed", base + start, "field number 0")
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos, base)
            yield Field(number, wire_type, value, base + start)
        elif wire_type == LEN:
            length, pos = read_varint(buf, pos, base)
            if pos + length > n:
                raise WireError("truncated", base + pos, f"field {number} declares {length} bytes, {n - pos} remain")
            yield Field(number, wire_type, bytes(buf[pos : pos + length]), base + pos)
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if pos + size > n:
                raise WireError("truncated", base + pos, f"fixed{size * 8} field {number}")
            yield Field(number, wire_type, int.from_bytes(buf[pos : pos + size], "little"), base + start)
            pos += size
        else:
            raise WireError("malformed", base + start, f"unsupported wire type {wire_type} for field {number}")


def as_int64(value: int) -> int:
    """Reinterpret an unsigned 64-bit varint as a signed int64 (negative numbers use 10 bytes)."""
    return value - (1 << 64) if value >= 1 << 63 else value


# --- writer (used to build real-shaped bodies in tests and tools) ------------------------------


def encode_varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # two's complement, as int64 fields are encoded
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3 | VARINT) + encode_varint(value)


def len_field(number: int, payload: bytes | str) -> bytes:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return encode_varint(number << 3 | LEN) + encode_varint(len(data)) + data
