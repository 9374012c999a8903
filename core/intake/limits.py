"""Body limits for the intake endpoints: read a request body while counting
bytes (never buffering more than the limit), undo gzip/deflate with a cap on
the decoded size, and check the Content-Type against what an endpoint takes.

The limit is enforced twice: a declared Content-Length over the limit is
refused before a byte is read, and a chunked (or lying) body is refused as
soon as the running count passes the limit, so a 50 MB upload never sits in
memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable

from core.errors import InputError, InvalidPayload

# A compressed body may expand this many times its wire limit before we stop:
# log batches compress 10-20x, a decompression bomb 1000x.
DECODED_BYTES_FACTOR = 8


class BodyTooLarge(InvalidPayload):
    """The request body (as sent, or once decompressed) is over the configured limit → 413."""

    def __init__(self, limit: int, *, what: str = "request body", seen: int | None = None) -> None:
        amount = f"{seen} bytes" if seen is not None else "more"
        super().__init__(
            f"{what} is too large: {amount}, the limit is {limit} bytes",
            hint="send smaller batches, or raise server.max_body_bytes (SHERLOG_SERVER__MAX_BODY_BYTES)",
        )
        self.limit = limit


class UnsupportedMediaType(InputError):
    """The Content-Type (or Content-Encoding) is not one the endpoint reads → 415."""


def declared_length(header: str | None) -> int | None:
    """Content-Length as an int; None when absent. Raises InvalidPayload when malformed."""
    if header is None or header.strip() == "":
        return None
    try:
        n = int(header.strip())
    except ValueError as e:
        raise InvalidPayload(f"Content-Length is not a number: {header!r}") from e
    if n < 0:
        raise InvalidPayload(f"Content-Length is negative: {n}")
    return n


async def read_limited(chunks: AsyncIterator[bytes], limit: int, *, content_length: str | None = None) -> bytes:
    """Collect a body from its chunks, raising BodyTooLarge as soon as it passes `limit` bytes."""
    declared = declared_length(content_length)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit, seen=declared)
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise BodyTooLarge(limit)
    return bytes(buf)


def decode_content(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo a gzip/deflate Content-Encoding, refusing output over `max_bytes`."""
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(
            f"unsupported Content-Encoding '{encoding}'", hint="send gzip, deflate or an uncompressed body"
        )
    # deflate is zlib-wrapped per RFC 9110, but some clients send raw deflate: try both
    attempts = [zlib.MAX_WBITS | 16] if enc != "deflate" else [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    last: zlib.error | None = None
    for wbits in attempts:
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(body, max_bytes + 1)
        except zlib.error as e:
            last = e
            continue
        if len(out) > max_bytes:
            raise BodyTooLarge(max_bytes, what=f"{enc}-decoded body")
        if not d.eof:
            raise InvalidPayload(f"truncated {enc} body: the compressed stream ends early")
        return out
    raise InvalidPayload(f"body is not valid {enc} data ({last})") from last


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json` ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_media_type(content_type: str | None, accepted: Iterable[str], *, endpoint: str) -> str:
    """The media type when the endpoint takes it (or none was sent); else UnsupportedMediaType.

    `accepted` entries match exactly, or as suffixes when they start with '+' (`+json`).
    """
    mt = media_type(content_type)
    if not mt:
        return mt  # no header: the decoder sniffs the body
    allowed = list(accepted)
    for a in allowed:
        if mt == a or (a.startswith("+") and mt.endswith(a)):
            return mt
    raise UnsupportedMediaType(
        f"{endpoint}: Content-Type '{mt}' is not accepted; send one of: {', '.join(allowed)}",
        hint="set the Content-Type header to match the body",
    )
