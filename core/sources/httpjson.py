"""GET a JSON document from a monitoring backend with httpx, turning every
transport failure into Sherlog's typed backend errors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from core.errors import BackendError, BackendTimeout, BackendUnavailable

DEFAULT_TIMEOUT_S = 10.0

QueryParams = Mapping[str, str | int | float | Sequence[str]]


def get_json(
    client: httpx.Client,
    url: str,
    *,
    backend: str,
    params: QueryParams | None = None,
    json_5xx: bool = False,
) -> tuple[int, Any]:
    """(status code, decoded JSON body). Non-JSON bodies and transport errors raise.

    4xx bodies are returned, because APIs such as Prometheus explain bad
    queries in them and the caller turns that into an input error. 5xx raise
    BackendUnavailable unless `json_5xx` and the body is JSON (Prometheus says
    "timeout" in a 503 body).
    """
    try:
        resp = client.get(url, params=params)  # type: ignore[arg-type]
    except httpx.TimeoutException as e:
        raise BackendTimeout(
            f"{backend} at {url} did not answer in time ({type(e).__name__})",
            backend=backend,
            hint="check the server is healthy, or raise the timeout",
        ) from e
    except httpx.TransportError as e:
        raise BackendUnavailable(
            f"cannot reach {backend} at {url}: {e or type(e).__name__}",
            backend=backend,
            hint=f"is {backend} running and is the URL right?",
        ) from e
    try:
        body = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        if resp.status_code >= 500:
            raise BackendUnavailable(
                f"{backend} at {url} failed with HTTP {resp.status_code}: {resp.text[:300]}", backend=backend
            ) from e
        raise BackendError(
            f"{backend} at {url} answered HTTP {resp.status_code} with a non-JSON body: {resp.text[:200]!r}",
            backend=backend,
            hint=f"is the URL really a {backend} server?",
        ) from e
    if resp.status_code >= 500 and not json_5xx:
        raise BackendUnavailable(
            f"{backend} at {url} failed with HTTP {resp.status_code}: {resp.text[:300]}", backend=backend
        )
    return resp.status_code, body
