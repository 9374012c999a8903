"""Bearer-token check for the intake endpoints.

When `server.ingest_token` is set every intake request must carry
`Authorization: Bearer <token>`; the comparison is constant-time so the
response time does not leak how much of a guess was right.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from core.errors import InputError


class Unauthorized(InputError):
    """The request lacks the bearer token the server requires, or carries a wrong one → 401."""


def check_bearer(authorization: str | None, token: SecretStr | None) -> None:
    """Pass when no token is configured or `authorization` is `Bearer <token>`; else Unauthorized."""
    if token is None or token.get_secret_value() == "":
        return
    if not authorization:
        raise Unauthorized(
            "missing bearer token: this server requires 'Authorization: Bearer <token>'",
            hint="pass the token configured as server.ingest_token (SHERLOG_SERVER__INGEST_TOKEN)",
        )
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized(
            "malformed Authorization header: expected 'Bearer <token>'",
            hint="use the Bearer scheme; Basic auth is not supported",
        )
    expected = token.get_secret_value().encode()
    if not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthorized("invalid bearer token", hint="check the token matches server.ingest_token")
