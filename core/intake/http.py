"""HTTP intake: the push endpoints logs, alerts, changes and topology arrive on.

| endpoint | body |
|---|---|
| `POST /ingest/logs` | `{"events": [...]}`, `[event, ...]` or `{"lines": [...], "service": ...}` (JSON) |
| `POST /loki/api/v1/push` | Loki push: JSON or snappy protobuf (Promtail, Alloy, Vector) |
| `POST /hooks/alertmanager` | Alertmanager webhook (version 4) |
| `POST /hooks/grafana` | Grafana unified-alerting webhook |
| `POST /hooks/change` | a change / Ansible run, an array of them, or `{"changes": [...]}` |
| `POST /ingest/topology` | static YAML/JSON, a compose file, or a kubectl List (`?format=`, `?cluster=`) |

Every endpoint: bearer token when `server.ingest_token` is set (401), body
capped at `server.max_body_bytes` while it streams in (413), gzip/deflate
Content-Encoding, Content-Type checked (415), a body that cannot be used at
all → 400 naming the problem, per-item problems listed with their index and
field. The answer is `{"accepted", "duplicates", "rejected", "errors",
"warnings"}`: 200 when something in the batch is stored (new or already
there), 422 when every item was rejected. Loki push answers 204 like Loki
when nothing was rejected.

`intake_router()` is mounted by `sherlog serve`; `create_intake_app()` builds a
standalone app (tests, `python -m core.intake.serve_standalone`). Its optional
`on_alerts` callback receives the alert events of each Alertmanager/Grafana
notification that was stored (new or already there), in a worker thread before
the response is sent: it must only note or queue work (a slow callback would
delay the sender), and its failure is logged, never turned into a failed request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from core.errors import BackendError, InputError, InvalidPayload, SherlogError
from core.intake.auth import Unauthorized, check_bearer
from core.intake.gate import IngestGate, IngestorLike, IngestorProvider, IngestReportLike
from core.intake.limits import (
    DECODED_BYTES_FACTOR,
    BodyTooLarge,
    UnsupportedMediaType,
    check_media_type,
    decode_content,
    read_limited,
)
from core.intake.payloads import LogBatch, TopologyFormat, parse_log_batch, parse_topology
from core.model import Event
from core.settings import ServerSettings, Settings
from core.sources.alerts import parse_alertmanager_webhook, parse_grafana_webhook
from core.sources.changes import parse_changes
from core.sources.common import ItemError, ParsedBatch
from core.sources.loki import decode_loki_push

if TYPE_CHECKING:
    from core.wiring import Stack

log = logging.getLogger("sherlog.intake")

# Errors listed in one response; the counts stay exact beyond it.
MAX_LISTED_ERRORS = 200
JSON_TYPES = ("application/json", "+json", "text/json", "text/plain")
LOKI_TYPES = ("application/json", "+json", "application/x-protobuf", "application/protobuf")
TOPOLOGY_TYPES = (
    "application/json",
    "+json",
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "+yaml",
    "text/plain",
)
_FORMATS: tuple[TopologyFormat, ...] = ("auto", "static", "compose", "kubernetes")


# --- responses --------------------------------------------------------------------------------


def _item(e: ItemError) -> dict[str, Any]:
    return {"index": e.index, "field": e.field, "message": e.message}


def error_body(message: str, *, hint: str | None = None) -> dict[str, Any]:
    """The JSON body of a 4xx/5xx: zero counts and one error naming the problem."""
    body: dict[str, Any] = {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 0,
        "errors": [{"index": None, "field": "(body)", "message": message}],
        "warnings": [],
        "detail": message,
    }
    if hint:
        body["hint"] = hint
    return body


def _error_response(e: SherlogError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(e, Unauthorized):
        status = 401
        headers["WWW-Authenticate"] = 'Bearer realm="sherlog-intake"'
    elif isinstance(e, BodyTooLarge):
        status = 413
    elif isinstance(e, UnsupportedMediaType):
        status = 415
    elif isinstance(e, InputError):
        status = 400
    elif isinstance(e, BackendError):
        # the client should retry: nothing of this batch is known to be stored
        status = 503
        headers["Retry-After"] = "5"
    else:
        status = 500
    return JSONResponse(error_body(e.message, hint=e.hint), status_code=status, headers=headers)


def _renamed(items: Sequence[ItemError], events: Sequence[Event], batch: LogBatch | None) -> list[ItemError]:
    """The Ingestor's rejections or warnings, renamed to the items the client sent."""
    out: list[ItemError] = []
    for r in items:
        k = r.index
        if batch is not None and k is not None and 0 <= k < len(batch.indices):
            orig = batch.indices[k]
            prefix = f"{batch.path}[{orig}]" if batch.path else f"[{orig}]"
            field = r.field if r.field.startswith(prefix) else f"{prefix}.{r.field}" if r.field else prefix
            out.append(ItemError(orig, field, r.message))
        else:
            what = f" (decoded event {k}: {events[k].body[:60]!r})" if k is not None and 0 <= k < len(events) else ""
            out.append(ItemError(None, r.field, r.message + what))
    return out


def summary_body(
    parsed: ParsedBatch, report: IngestReportLike | None, events: Sequence[Event], batch: LogBatch | None = None
) -> dict[str, Any]:
    """`{"accepted", "duplicates", "rejected", "errors", "warnings", "by_kind"}` for a processed batch."""
    errors = parsed.errors + (_renamed(report.rejected, events, batch) if report else [])
    warnings = parsed.warnings + (_renamed(report.warnings, events, batch) if report else [])
    body: dict[str, Any] = {
        "accepted": report.accepted if report else 0,
        "duplicates": report.duplicates if report else 0,
        "rejected": len(errors),
        "errors": [_item(e) for e in errors[:MAX_LISTED_ERRORS]],
        "warnings": [_item(w) for w in warnings[:MAX_LISTED_ERRORS]],
    }
    if len(errors) > MAX_LISTED_ERRORS:
        body["errors_not_listed"] = len(errors) - MAX_LISTED_ERRORS
    if report is not None and getattr(report, "by_kind", None):
        body["by_kind"] = dict(report.by_kind)
    return body


def summary_status(body: dict[str, Any]) -> int:
    """200 when something is stored (new or already there) or the batch was empty; 422 when all was rejected."""
    stored = body["accepted"] + body["duplicates"]
    return 422 if stored == 0 and body["rejected"] > 0 else 200


# --- the router -------------------------------------------------------------------------------


Handler = Callable[[Request], Awaitable[Response]]
AlertsCallback = Callable[[Sequence[Event]], None]


def _guarded(fn: Handler) -> Handler:
    """Turn Sherlog errors into their status codes and anything unexpected into a 500, never a crash."""

    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except SherlogError as e:
            if not isinstance(e, InputError):
                log.warning("intake %s failed: %s", request.url.path, e)
            return _error_response(e)
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception as e:  # a bug must cost one request, not the server
            log.exception("intake %s: unexpected error", request.url.path)
            return JSONResponse(error_body(f"internal error: {type(e).__name__}: {e}"), status_code=500)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _stored_events(events: Sequence[Event], report: IngestReportLike | None) -> list[Event]:
    """The events the Ingestor kept (new or duplicates): all but the ones it rejected by index."""
    if report is None:
        return []
    rejected = {r.index for r in report.rejected if r.index is not None}
    return [e for i, e in enumerate(events) if i not in rejected]


def _notify_alerts(callback: AlertsCallback, events: Sequence[Event]) -> None:
    # the events are already stored: a failing callback must not make the sender retry them
    try:
        callback(events)
    except Exception:
        log.exception("the on_alerts callback failed on %d alert event(s)", len(events))


def intake_router(
    ingestor_provider: IngestorProvider,
    settings: Settings | ServerSettings,
    *,
    on_alerts: AlertsCallback | None = None,
) -> APIRouter:
    """The intake endpoints as an APIRouter. `ingestor_provider()` returns the one Ingestor to use;
    it is called under the router's lock, at most one request at a time. `settings` may be the
    whole Settings or just its `server` part (token and body limit). `on_alerts(events)` is called
    (in a worker thread, before the 2xx is sent) with the stored alert events of every
    Alertmanager/Grafana notification; it must return quickly (note or queue work, no more)."""
    gate = IngestGate(ingestor_provider)
    server = settings.server if isinstance(settings, Settings) else settings
    limit = server.max_body_bytes
    decoded_limit = limit * DECODED_BYTES_FACTOR
    router = APIRouter(tags=["intake"])

    async def read_body(request: Request, accepted: Sequence[str], endpoint: str) -> bytes:
        # order matters: refuse strangers and wrong types before reading a byte of the body
        check_bearer(request.headers.get("authorization"), server.ingest_token)
        check_media_type(request.headers.get("content-type"), accepted, endpoint=endpoint)
        body = await read_limited(request.stream(), limit, content_length=request.headers.get("content-length"))
        return await run_in_threadpool(decode_content, body, request.headers.get("content-encoding"), decoded_limit)

    async def ingest(parsed: ParsedBatch, batch: LogBatch | None = None) -> dict[str, Any]:
        report = await run_in_threadpool(gate.events, parsed.events) if parsed.events else None
        return summary_body(parsed, report, parsed.events, batch)

    def respond(body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body, status_code=summary_status(body))

    @_guarded
    async def ingest_logs(request: Request) -> Response:
        """Log events in Sherlog's own JSON batch format."""
        body = await read_body(request, JSON_TYPES, "/ingest/logs")
        batch = await run_in_threadpool(parse_log_batch, body)
        return respond(await ingest(batch.batch, batch))

    @_guarded
    async def loki_push(request: Request) -> Response:
        """Loki's push API, so Promtail, Grafana Alloy and Vector can ship here unchanged."""
        body = await read_body(request, LOKI_TYPES, "/loki/api/v1/push")
        parsed = await run_in_threadpool(
            decode_loki_push, body, request.headers.get("content-type"), None, max_decoded_bytes=decoded_limit
        )
        result = await ingest(parsed)
        if result["rejected"] == 0:
            if parsed.warnings:
                log.info("loki push: %s", "; ".join(str(w) for w in parsed.warnings[:5]))
            return Response(status_code=204)
        return respond(result)

    def hook(parse: Callable[[bytes], ParsedBatch], endpoint: str, *, alerts: bool = False) -> Handler:
        async def handler(request: Request) -> Response:
            body = await read_body(request, JSON_TYPES, endpoint)
            parsed = await run_in_threadpool(parse, body)
            report = await run_in_threadpool(gate.events, parsed.events) if parsed.events else None
            result = summary_body(parsed, report, parsed.events)
            response = respond(result)
            stored = _stored_events(parsed.events, report) if alerts and on_alerts is not None else []
            if on_alerts is not None and stored and response.status_code < 300:
                # before responding, so a 2xx means the callback has seen the alerts (nothing lost
                # if the process stops right after)
                await run_in_threadpool(_notify_alerts, on_alerts, stored)
            return response

        handler.__name__ = "hook_" + endpoint.rsplit("/", 1)[-1]  # a distinct OpenAPI operation per hook
        return handler

    @_guarded
    async def ingest_topology(request: Request) -> Response:
        """Topology: static YAML/JSON, a compose file or a kubectl List; `?format=` forces one, `?cluster=` names it."""
        body = await read_body(request, TOPOLOGY_TYPES, "/ingest/topology")
        fmt = request.query_params.get("format", "auto")
        if fmt not in _FORMATS:
            raise InvalidPayload(f"topology: unknown format '{fmt}'; use one of {', '.join(_FORMATS)}")
        cluster = request.query_params.get("cluster", "")
        topo = await run_in_threadpool(parse_topology, body, fmt=cast(TopologyFormat, fmt), cluster=cluster)
        report = await run_in_threadpool(gate.topology, topo)
        parsed = ParsedBatch(errors=list(topo.errors), warnings=list(topo.warnings))
        result = summary_body(parsed, report, topo.events)
        result["entities"] = len(topo.entities)
        result["relations"] = len(topo.relations)
        return respond(result)

    router.add_api_route("/ingest/logs", ingest_logs, methods=["POST"], summary="Ingest log events")
    router.add_api_route("/loki/api/v1/push", loki_push, methods=["POST"], summary="Loki push (JSON or protobuf)")
    for path, parse, summary, alerts in (
        ("/hooks/alertmanager", parse_alertmanager_webhook, "Alertmanager webhook", True),
        ("/hooks/grafana", parse_grafana_webhook, "Grafana alerting webhook", True),
        ("/hooks/change", parse_changes, "Change / deploy / Ansible webhook", False),
    ):
        router.add_api_route(path, _guarded(hook(parse, path, alerts=alerts)), methods=["POST"], summary=summary)
    router.add_api_route("/ingest/topology", ingest_topology, methods=["POST"], summary="Ingest topology")
    return router


# --- standalone app ---------------------------------------------------------------------------


class _LazyIngestor:
    """Builds the stack and Ingestor on first use; closes what it opened."""

    def __init__(self, settings: Settings, stack: Stack | None) -> None:
        self._settings = settings
        self._stack = stack
        self._owns_stack = stack is None
        self._ingestor: IngestorLike | None = None
        self._lock = threading.Lock()

    def get(self) -> IngestorLike:
        with self._lock:
            if self._ingestor is None:
                from core.ingest.pipeline import Ingestor  # heavy: loads the miner and stores
                from core.wiring import open_stack

                if self._stack is None:
                    self._stack = open_stack(self._settings)
                self._ingestor = cast(IngestorLike, Ingestor(self._stack, tenant=self._settings.tenant))
            return self._ingestor

    def close(self) -> None:
        with self._lock:
            if self._ingestor is not None:
                try:
                    self._ingestor.flush()
                except SherlogError as e:
                    log.warning("final flush failed: %s", e)
            if self._owns_stack and self._stack is not None:
                self._stack.close()
            self._ingestor = None


def create_intake_app(settings: Settings, stack: Stack | None = None, *, warm: bool = False) -> FastAPI:
    """A FastAPI app with just the intake endpoints and `GET /health`.

    Without `stack`, the stack is opened from `settings` on first use and closed at shutdown.
    With `warm`, the Ingestor is built at startup, before the app answers anything.
    """
    lazy = _LazyIngestor(settings, stack)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm:
            await run_in_threadpool(lazy.get)
        yield
        await run_in_threadpool(lazy.close)

    app = FastAPI(title="Sherlog intake", lifespan=lifespan)
    app.include_router(intake_router(lazy.get, settings))

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
