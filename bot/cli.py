"""`sherlog serve` and `sherlog chat`, registered on the root CLI through the `sherlog.cli`
entry-point group (core never imports bot)."""

from __future__ import annotations

import sys

import typer

from core.settings import load_settings


def register(app: typer.Typer) -> None:
    """Add `serve` and `chat` to the root Typer app."""
    app.command(
        help="Serve Slack (HTTP endpoint and/or Socket Mode), Discord, the intake endpoints, "
        "/health, /ready and /metrics. Binds 127.0.0.1:8765 unless configured otherwise."
    )(serve)
    app.command(help="Chat with Sherlog in the terminal: questions and /incident verbs, as in Slack.")(chat)


def serve(
    host: str | None = typer.Option(None, "--host", help="address to bind (default: SHERLOG_SERVER__HOST, 127.0.0.1)"),
    port: int | None = typer.Option(None, "--port", help="port (default: SHERLOG_SERVER__PORT, 8765)"),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level"),
) -> None:
    from bot.server import serve as run_server

    settings = load_settings()
    changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if changes:
        server = settings.server.model_validate({**settings.server.model_dump(), **changes})
        settings = settings.model_copy(update={"server": server})
    if settings.server.host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"warning: binding {settings.server.host} exposes Sherlog beyond this machine; "
            "set SHERLOG_SERVER__INGEST_TOKEN and put TLS in front",
            err=True,
        )
    run_server(settings, log_level=log_level)


def chat(
    user: str = typer.Option("@you", "--user", help="your name in incident timelines"),
) -> None:
    from bot.console import ConsoleChat
    from bot.services import BotServices
    from core.wiring import open_stack

    settings = load_settings()
    stack = open_stack(settings)
    try:
        ConsoleChat(BotServices.from_stack(stack), user=user, out=sys.stdout).run()
    finally:
        stack.close()
