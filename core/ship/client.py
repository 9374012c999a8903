"""The shipper's side of `POST /ingest/logs`: send one batch, sort the answer.

| answer | meaning for the shipper |
|---|---|
| 2xx | delivered; per-item rejections are reported, not retried |
| 408, 429, 5xx, no connection, timeout | `ServerUnavailable`: retry later (spool meanwhile) |
| 413 | `BatchTooLarge`: split the batch and send the halves |
| 400, 422 | `BatchRefused`: the server will never take this body; report and move on |
| 401, 403, 404, 405, 415 | `ConfigError`: wrong token or URL; stop and say so |
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.errors import BackendUnavailable, ConfigError, InvalidPayload

LOGS_PATH = "/ingest/logs"
# gzip pays off above a few KB; the intake decodes gzip/deflate
COMPRESS_MIN_BYTES = 8 * 1024


class ServerUnavailable(BackendUnavailable):
    """The server did not take the batch this time; it may later."""


class BatchTooLarge(InvalidPayload):
    """The server's body limit is smaller than this batch."""


class BatchRefused(InvalidPayload):
    """The server refused the batch as unusable; resending it cannot help."""

    def __init__(self, message: str, *, rejected: int = 0, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.rejected = rejected
        self.errors = errors or []


@dataclass
class SendResult:
    """What the server said about one delivered batch."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _detail(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.text[:300] or resp.reason_phrase
    if isinstance(doc, dict):
        return str(doc.get("detail") or doc.get("errors") or doc)[:300]
    return str(doc)[:300]


class IntakeClient:
    """Posts log batches to a Sherlog server's intake."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Content-Type": "application/json", "User-Agent": "sherlog-ship"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            transport=transport,
        )

    def send(self, payload: bytes) -> SendResult:
        """POST one batch (compact JSON `{"events": [...]}`); raises as the table in the module doc says."""
        headers: dict[str, str] = {}
        body = payload
        if len(payload) >= COMPRESS_MIN_BYTES:
            body = gzip.compress(payload, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            resp = self._http.post(LOGS_PATH, content=body, headers=headers)
        except httpx.TransportError as e:
            raise ServerUnavailable(
                f"cannot reach {self.base_url}: {type(e).__name__}: {e}", backend="sherlog-intake"
            ) from e
        code = resp.status_code
        if 200 <= code < 300:
            return self._result(resp)
        if code in (408, 429) or code >= 500:
            raise ServerUnavailable(f"{self.base_url} answered {code}: {_detail(resp)}", backend="sherlog-intake")
        if code == 413:
            raise BatchTooLarge(f"{self.base_url} refused a {len(body)}-byte batch as too large: {_detail(resp)}")
        if code in (400, 422):
            res = self._result(resp)
            raise BatchRefused(
                f"{self.base_url} refused the batch ({code}): {_detail(resp)}", rejected=res.rejected, errors=res.errors
            )
        hint = {
            401: "pass --token (or set SHERLOG_SERVER__INGEST_TOKEN) to the server's ingest token",
            403: "the token is not allowed to ingest",
            404: f"is {self.base_url} a Sherlog server? it has no {LOGS_PATH}",
            405: f"is {self.base_url} a Sherlog server? {LOGS_PATH} does not take POST there",
        }.get(code, "check --server points at a Sherlog intake")
        raise ConfigError(f"{self.base_url}{LOGS_PATH} answered {code}: {_detail(resp)}", hint=hint)

    @staticmethod
    def _result(resp: httpx.Response) -> SendResult:
        if resp.status_code == 204 or not resp.content:
            return SendResult()
        try:
            doc = json.loads(resp.content)
        except ValueError:
            return SendResult()
        if not isinstance(doc, dict):
            return SendResult()
        errors = doc.get("errors") if isinstance(doc.get("errors"), list) else []
        return SendResult(
            accepted=int(doc.get("accepted") or 0),
            duplicates=int(doc.get("duplicates") or 0),
            rejected=int(doc.get("rejected") or 0),
            errors=list(errors or []),
        )

    def close(self) -> None:
        self._http.close()
