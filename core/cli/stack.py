"""`sherlog up | down | status | reset`: the embedded stack's lifecycle."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from core.cli.output import console
from core.settings import load_settings


def register(app: typer.Typer) -> None:
    """Add the stack commands to the root app."""
    app.command(help="Start the embedded stack (FalkorDB, schema, database migrations); reuses a running one.")(up)
    app.command(help="Stop the embedded FalkorDB cleanly. Data stays in the data dir.")(down)
    app.command(help="Show each store: running?, where, how many entities/docs/rows. Revives a dead FalkorDB.")(status)
    app.command(help="Delete ALL data in every store (graph, vectors, database). Needs --yes.")(reset)


def _status_table(stack_statuses: list, title: str) -> Table:
    t = Table(title=title)
    for col in ("store", "backend", "running", "where", "counts", "detail"):
        t.add_column(col)
    for s in stack_statuses:
        counts = ", ".join(f"{k}={v:,}" for k, v in s.counts.items()) or "-"
        t.add_row(s.name, s.backend, "[green]yes[/]" if s.running else "[red]no[/]", s.location, counts, s.detail)
    return t


def up() -> None:
    from core.wiring import open_stack  # lazy: keeps `sherlog --help` fast

    settings = load_settings()
    stack = open_stack(settings)
    try:
        stack.graph.ensure_schema()
        statuses = stack.statuses()
    finally:
        stack.close()
    info = stack.server_info
    if info is not None:
        verb = "started" if info.started_now else "already running"
        console.print(f"embedded FalkorDB {verb} on {info.host}:{info.port} (pid {info.pid})")
    console.print(_status_table(statuses, f"Sherlog stack — data dir {settings.data_dir}"))
    if not all(s.running for s in statuses):
        raise typer.Exit(1)


def down() -> None:
    from core.graph import embedded_server

    settings = load_settings()
    if not settings.graph.embedded:
        console.print("graph backend is external; nothing to stop")
        return
    stopped = embedded_server(settings).stop()
    console.print("embedded FalkorDB stopped" if stopped else "embedded FalkorDB was not running")


def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    from core.wiring import open_stack

    settings = load_settings()
    stack = open_stack(settings)
    try:
        statuses = stack.statuses()
    finally:
        stack.close()
    info = stack.server_info
    if as_json:
        payload = {
            "data_dir": str(settings.data_dir),
            "falkordb_restarted": bool(info and info.started_now),
            "stores": [s.__dict__ for s in statuses],
        }
        typer.echo(json.dumps(payload, default=str, indent=2))
    else:
        if info is not None and info.started_now:
            console.print(f"[yellow]embedded FalkorDB was not running: restarted it (pid {info.pid})[/]")
        console.print(_status_table(statuses, f"Sherlog stack — data dir {settings.data_dir}"))
    if not all(s.running for s in statuses):
        raise typer.Exit(1)


def reset(yes: bool = typer.Option(False, "--yes", help="confirm: really delete everything")) -> None:
    if not yes:
        console.print("[red]refusing:[/] `sherlog reset` deletes every entity, document and row. Re-run with --yes.")
        raise typer.Exit(2)
    from core.wiring import open_stack

    settings = load_settings()
    stack = open_stack(settings)
    try:
        stack.graph.delete_all()
        stack.vectors.delete_all()
        stack.db.delete_all()
        statuses = stack.statuses()
    finally:
        stack.close()
    console.print(_status_table(statuses, "after reset"))
