"""`sherlog serve`: one FastAPI app for Slack's HTTP endpoint, the intake endpoints, health,
readiness and metrics; Socket Mode and the Discord client start with it when configured.

Routes: `POST /slack/events` (slack-bolt; mounted when a signing secret is set), the intake
router (`/ingest/logs`, `/loki/api/v1/push`, `/hooks/alertmanager`, `/hooks/grafana`,
`/hooks/change`, `/ingest/topology`), `GET /health` (liveness), `GET /ready` (each store
reachable, else 503 with the detail), `GET /metrics` (Prometheus), `GET /investigations` and
`GET /investigations/{id}` (what Sherlog investigated on its own when alerts fired).

Also started with the app and stopped with it: the alert investigator (firing alerts from the
two alert hooks are investigated in the background and the answers posted to
`slack.alerts_channel` / `discord.alerts_channel`, see bot.investigate) and, when a report
destination is configured, the weekly report scheduler (reports.scheduler).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from bot.investigate import AlertInvestigator, AlertPoster, InvestigationConfig, investigation_json
from bot.metrics import BotMetrics
from bot.services import BotServices
from core.db.investigations import MAX_LIST
from core.errors import NotFound, PortInUse
from core.intake.auth import Unauthorized, check_bearer
from core.model import Event
from core.settings import Settings
from core.wiring import Stack, open_stack

log = logging.getLogger(__name__)

INTAKE_PREFIXES = ("/ingest/", "/loki/", "/hooks/")


@dataclass
class Runtime:
    """Everything one server process runs, started and stopped by the app's lifespan."""

    settings: Settings
    stack: Stack
    services: BotServices
    own_stack: bool
    slack_app: App | None = None
    socket_mode: Any = None
    discord: Any = None
    discord_task: asyncio.Task[None] | None = None
    investigation_config: InvestigationConfig = field(default_factory=InvestigationConfig)
    investigator: AlertInvestigator | None = None
    scheduler: Any = None
    started: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def slack_configured(self) -> bool:
        return self.settings.slack.bot_token is not None

    async def start(self) -> None:
        s = self.settings
        if self.slack_configured:
            from bot.slack_app import build_slack_app

            if s.slack.signing_secret is None and s.slack.app_token is None:
                log.warning(
                    "Slack bot token set but neither SHERLOG_SLACK__SIGNING_SECRET (HTTP) nor "
                    "SHERLOG_SLACK__APP_TOKEN (Socket Mode): Slack cannot reach Sherlog"
                )
            # auth.test runs here: a bad token stops the server with a clear error
            self.slack_app = await run_in_threadpool(build_slack_app, self.services)
            if s.slack.app_token is not None:
                from bot.socket_mode import SlackSocketMode

                self.socket_mode = SlackSocketMode(self.slack_app, s)
                await run_in_threadpool(self.socket_mode.start)
        if s.discord.token is not None:
            from bot.discord_bot import SherlogDiscord

            self.discord = SherlogDiscord(self.services)
            self.discord_task = asyncio.create_task(self.discord.start(s.discord.token.get_secret_value()))
            self.discord_task.add_done_callback(self._discord_done)
        investigator = AlertInvestigator(
            self.services.db,
            self.services.ask_alert,
            posters=self._alert_posters(asyncio.get_running_loop()),
            config=self.investigation_config,
        )
        await run_in_threadpool(investigator.start)
        self.investigator = investigator
        await self._start_scheduler()
        self.started = True

    def _alert_posters(self, loop: asyncio.AbstractEventLoop) -> list[AlertPoster]:
        """Where answers to firing alerts go: the configured alerts channels whose adapter is on."""
        s = self.settings
        posters: list[AlertPoster] = []
        if s.slack.alerts_channel:
            if s.slack.bot_token is None:
                log.warning("SHERLOG_SLACK__ALERTS_CHANNEL is set without SHERLOG_SLACK__BOT_TOKEN: not posting there")
            else:
                from bot.alert_post import SlackAlertPoster

                posters.append(SlackAlertPoster(self.services, s.slack.alerts_channel))
        if s.discord.alerts_channel:
            if self.discord is None:
                log.warning("SHERLOG_DISCORD__ALERTS_CHANNEL is set without SHERLOG_DISCORD__TOKEN: not posting there")
            else:
                from bot.alert_post import DiscordAlertPoster

                posters.append(DiscordAlertPoster(self.discord, loop, s.discord.alerts_channel, self.services))
        if posters:
            log.info("answers to firing alerts go to %s", ", ".join(p.destination for p in posters))
        else:
            log.info("no alerts channel configured: answers to firing alerts are only recorded (GET /investigations)")
        return posters

    async def _start_scheduler(self) -> None:
        r = self.settings.report
        if not (r.slack_channel or r.discord_channel):
            log.info(
                "weekly reports are not scheduled: no destination "
                "(set SHERLOG_REPORT__SLACK_CHANNEL or SHERLOG_REPORT__DISCORD_CHANNEL)"
            )
            return
        from reports.scheduler import start_scheduler

        self.scheduler = await run_in_threadpool(start_scheduler, self.settings, self.stack)
        log.info("weekly report scheduled (%s, %s)", r.cron, self.settings.timezone)

    def on_alerts(self, events: Sequence[Event]) -> None:
        """The intake's callback for stored alert events: record and queue investigations (quick)."""
        if self.investigator is None:
            log.warning("%d alert event(s) arrived before the investigator started; not investigated", len(events))
            return
        self.investigator.submit(events)

    def _discord_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.errors.append(f"discord: {exc}")
            log.error("the Discord client stopped: %r", exc)

    async def stop(self) -> None:
        # the investigator first: a running investigation may still post through the adapters
        if self.investigator is not None:
            await run_in_threadpool(self.investigator.stop)
        if self.scheduler is not None:
            from reports.scheduler import stop_scheduler

            await run_in_threadpool(stop_scheduler, self.scheduler)
        if self.socket_mode is not None:
            await run_in_threadpool(self.socket_mode.close)
        if self.discord is not None:
            try:
                await self.discord.close()
            except Exception:
                log.debug("error closing the Discord client", exc_info=True)
        if self.discord_task is not None and not self.discord_task.done():
            self.discord_task.cancel()
        if self.own_stack:
            self.stack.close()

    def adapters(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slack_http": self.slack_app is not None and self.settings.slack.signing_secret is not None,
            "slack_socket_mode": bool(self.socket_mode is not None and self.socket_mode.connected),
            "discord": bool(self.discord is not None and self.discord.is_ready()),
        }
        if self.errors:
            out["errors"] = list(self.errors)
        return out


def _default_ingestor_provider(stack: Stack) -> Callable[[], Any]:
    holder: dict[str, Any] = {}

    def provide() -> Any:
        if "ingestor" not in holder:
            from core.ingest.pipeline import Ingestor

            holder["ingestor"] = Ingestor(stack)
        return holder["ingestor"]

    return provide


def create_app(
    settings: Settings,
    *,
    stack: Stack | None = None,
    services: BotServices | None = None,
    ingestor_provider: Callable[[], Any] | None = None,
    investigations: InvestigationConfig | None = None,
) -> FastAPI:
    """The `sherlog serve` app. Pass `stack`/`services` to share ones you built (tests, embedding);
    `investigations` tunes alert investigations (workers, queue, cooldown, window)."""
    own_stack = stack is None
    stack = stack or open_stack(settings)
    metrics = services.metrics if services is not None else BotMetrics()
    services = services or BotServices.from_stack(stack, metrics=metrics)
    runtime = Runtime(
        settings=settings,
        stack=stack,
        services=services,
        own_stack=own_stack,
        investigation_config=investigations or InvestigationConfig(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="Sherlog", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        metrics.http_requests.labels(request.method, template, str(response.status_code)).inc()
        if template.startswith(INTAKE_PREFIXES):
            metrics.ingest_requests.labels(template, str(response.status_code)).inc()
            length = request.headers.get("content-length")
            if length and length.isdigit():
                metrics.ingest_bytes.labels(template).inc(int(length))
        return response

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> JSONResponse:
        """Readiness: every store reachable (503 with each store's detail otherwise)."""
        statuses = runtime.stack.statuses()
        stores = [
            {"name": s.name, "backend": s.backend, "running": s.running, "location": s.location, "detail": s.detail}
            for s in statuses
        ]
        ok = all(s.running for s in statuses)
        body = {"ready": ok, "stores": stores, "adapters": runtime.adapters()}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    def _reader_refusal(request: Request) -> JSONResponse | None:
        # investigations quote telemetry (log lines, alerts): with an intake token set, reading them needs it too
        try:
            check_bearer(request.headers.get("authorization"), settings.server.ingest_token)
        except Unauthorized as e:
            return JSONResponse(
                {"error": e.message, "hint": e.hint}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return None

    @app.get("/investigations")
    def list_investigations(
        request: Request, limit: int = Query(20, ge=1, le=MAX_LIST, description="newest first, at most this many")
    ) -> JSONResponse:
        """What Sherlog investigated on its own when alerts fired, newest first."""
        refusal = _reader_refusal(request)
        if refusal is not None:
            return refusal
        records = runtime.services.db.list_investigations(limit=limit)
        return JSONResponse({"investigations": [investigation_json(r) for r in records]})

    @app.get("/investigations/{investigation_id}")
    def get_investigation(request: Request, investigation_id: int) -> JSONResponse:
        """One investigation: its trigger, question, status, answer or error, and where it was posted."""
        refusal = _reader_refusal(request)
        if refusal is not None:
            return refusal
        try:
            record = runtime.services.db.get_investigation(investigation_id)
        except NotFound as e:
            return JSONResponse({"error": e.message, "hint": e.hint}, status_code=404)
        return JSONResponse(investigation_json(record))

    secret = settings.slack.signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret is not None else None

    @app.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        """Slack's Events API, slash commands and interactivity (one Request URL for all three)."""
        bolt = runtime.slack_app
        if bolt is None or verifier is None:
            return JSONResponse(
                {
                    "error": "Slack HTTP mode is not configured on this server",
                    "hint": "set SHERLOG_SLACK__BOT_TOKEN and SHERLOG_SLACK__SIGNING_SECRET, or use Socket Mode",
                },
                status_code=404,
            )
        body = await request.body()
        try:
            bolt_request = to_bolt_request(request, body)
        except Exception:  # bolt's parser trips on non-JSON bodies and JSON that is not an object
            # bolt parses the body before it checks the signature; answer a stranger 401, Slack 400
            if not verifier.is_valid_request(body, dict(request.headers)):
                return JSONResponse({"error": "invalid request signature"}, status_code=401)
            return JSONResponse(
                {"error": "malformed Slack payload: expected a JSON object or a form body"}, status_code=400
            )
        try:
            # dispatch runs off the event loop: it blocks until the listener acks (at once, by
            # design), after verifying the signature and timestamp
            bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        except Exception:
            log.exception("slack-bolt failed on a request")
            return JSONResponse({"error": "Sherlog could not handle this Slack payload"}, status_code=400)
        return to_starlette_response(bolt_response)

    from core.intake.http import intake_router  # the ingestion issue's router

    app.include_router(
        intake_router(ingestor_provider or _default_ingestor_provider(stack), settings, on_alerts=runtime.on_alerts)
    )
    return app


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUse naming the address when something already listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise PortInUse(
                f"cannot listen on {host}:{port}: {e.strerror or e}",
                backend="server",
                hint="stop the other program or pick another port (--port or SHERLOG_SERVER__PORT)",
            ) from e


def serve(settings: Settings, *, log_level: str = "info") -> None:
    """Run the app with uvicorn on settings.server.host:port until interrupted."""
    import uvicorn

    host, port = settings.server.host, settings.server.port
    check_port_free(host, port)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level.lower())
