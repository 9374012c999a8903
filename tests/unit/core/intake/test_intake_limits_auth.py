"""Body limits, content decoding, media types and the bearer check."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from core.errors import InvalidPayload
from core.intake.auth import Unauthorized, check_bearer
from core.intake.limits import (
    BodyTooLarge,
    UnsupportedMediaType,
    check_media_type,
    declared_length,
    decode_content,
    read_limited,
)


class Chunks:
    """An async body that records how much of it was consumed."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size, self.served = n, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.n):
            self.served += 1
            yield b"x" * self.size


async def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    body = Chunks(50, 1024 * 1024)
    with pytest.raises(BodyTooLarge) as e:
        await read_limited(body.__aiter__(), 10 * 1024 * 1024, content_length=str(50 * 1024 * 1024))
    assert body.served == 0
    assert "52428800 bytes" in e.value.message and "10485760" in e.value.message


async def test_undeclared_body_is_cut_as_soon_as_it_passes_the_limit() -> None:
    body = Chunks(50, 1024 * 1024)
    with pytest.raises(BodyTooLarge):
        await read_limited(body.__aiter__(), 3 * 1024 * 1024)
    assert body.served == 4  # stopped at the first chunk past 3 MiB, not after 50


async def test_body_within_the_limit_is_returned_whole() -> None:
    body = Chunks(3, 10)
    assert await read_limited(body.__aiter__(), 30, content_length="30") == b"x" * 30


@pytest.mark.parametrize("header", ["abc", "-5", "1e3"])
def test_malformed_content_length(header: str) -> None:
    with pytest.raises(InvalidPayload, match="Content-Length"):
        declared_length(header)


def test_decode_content_gzip_deflate_raw_deflate_and_identity() -> None:
    data = b'{"events": []}' * 10
    assert decode_content(gzip.compress(data), "gzip", 1000) == data
    assert decode_content(zlib.compress(data), "deflate", 1000) == data
    raw = zlib.compressobj(wbits=-15)
    assert decode_content(raw.compress(data) + raw.flush(), "deflate", 1000) == data
    assert decode_content(data, None, 10) == data  # identity is not size-checked here: read_limited did
    assert decode_content(data, "identity", 10) == data


def test_decode_content_refuses_bombs_truncation_garbage_and_unknown_codings() -> None:
    with pytest.raises(BodyTooLarge, match="gzip-decoded body is too large"):
        decode_content(gzip.compress(b"\0" * 100_000), "gzip", 1000)
    with pytest.raises(InvalidPayload, match="truncated gzip"):
        decode_content(gzip.compress(b"abc" * 1000)[:-20], "gzip", 100_000)
    with pytest.raises(InvalidPayload, match="not valid gzip"):
        decode_content(b"plain text", "gzip", 1000)
    with pytest.raises(UnsupportedMediaType, match="'br'"):
        decode_content(b"x", "br", 1000)


def test_media_types() -> None:
    accepted = ("application/json", "+json")
    assert check_media_type("application/json; charset=utf-8", accepted, endpoint="/x") == "application/json"
    assert check_media_type("application/vnd.api+json", accepted, endpoint="/x") == "application/vnd.api+json"
    assert check_media_type(None, accepted, endpoint="/x") == ""
    with pytest.raises(UnsupportedMediaType, match="/x: Content-Type 'text/html' is not accepted"):
        check_media_type("text/html", accepted, endpoint="/x")


def test_bearer_check() -> None:
    token = SecretStr("t0ken")
    check_bearer(None, None)  # no token configured: open
    check_bearer("anything", SecretStr(""))
    check_bearer("Bearer t0ken", token)
    check_bearer("bearer   t0ken ", token)
    for header, needle in [
        (None, "missing bearer token"),
        ("", "missing bearer token"),
        ("Bearer", "malformed"),
        ("Basic dTpw", "malformed"),
        ("Bearer t0ke", "invalid bearer token"),
        ("Bearer t0ken2", "invalid bearer token"),
    ]:
        with pytest.raises(Unauthorized, match=needle):
            check_bearer(header, token)
