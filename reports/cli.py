"""`sherlog report weekly` and `sherlog scheduler`.

Registered through the `sherlog.cli` entry-point group (pyproject.toml):

    report = "reports.cli:app"                    # sub-app: sherlog report weekly ...
    scheduler = "reports.cli:register_scheduler"  # adds `sherlog scheduler` to the root app
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.settings import load_settings

if TYPE_CHECKING:
    from reports.run import RunResult

app = typer.Typer(no_args_is_help=True, help="Reliability reports.")
console = Console()
console_err = Console(stderr=True)


@app.callback()
def _group() -> None:
    """Reliability reports."""


def _summary_table(result: RunResult) -> Table:
    from reports.markdown import fmt_duration, fmt_pct

    r = result.report
    cur = r.current
    t = Table(title=f"Weekly reliability report {r.week.label} — {r.week.describe()}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("incidents", f"{cur.total} (" + ", ".join(f"SEV{s} {n}" for s, n in cur.by_severity.items()) + ")")
    t.add_row("MTTA median / p90", f"{fmt_duration(cur.mtta.median)} / {fmt_duration(cur.mtta.p90)}")
    t.add_row("MTTR median / p90", f"{fmt_duration(cur.mttr.median)} / {fmt_duration(cur.mttr.p90)}")
    t.add_row("open at week end", str(len(cur.open_at_end)))
    t.add_row("firing alerts", str(cur.alerts.total))
    t.add_row("changes / failure rate", f"{cur.changes.changes} / {fmt_pct(cur.changes.failure_rate)}")
    for s in r.slos:
        t.add_row(f"SLO {s.name}", f"{fmt_pct(s.achieved, 3)}, budget left {fmt_pct(s.budget.remaining)}")
    return t


@app.command("weekly")
def weekly(
    week: str | None = typer.Option(
        None, "--week", help="ISO week, e.g. 2026-W47 (default: the last complete week in the configured timezone)"
    ),
    out: Path | None = typer.Option(None, "--out", help="output directory (default: <data dir>/reports/<week>)"),
    post: bool = typer.Option(False, "--post", help="post to the configured Slack/Discord channels (once per week)"),
    force: bool = typer.Option(False, "--force", help="with --post: post again even if this week was posted"),
) -> None:
    """Write the weekly reliability report (markdown + 3 PNG charts); optionally post it to chat."""
    from core.wiring import open_stack  # lazy: keeps `sherlog --help` fast
    from reports.run import run_weekly

    if force and not post:
        console_err.print("[red]--force only makes sense with --post[/]")
        raise typer.Exit(2)
    settings = load_settings()
    stack = open_stack(settings, start=False)  # the report reads the relational store only
    try:
        result = run_weekly(settings, stack, week=week, out_dir=out, post=post, force=force)
    finally:
        stack.close()
    console.print(_summary_table(result))
    for c in result.report.caveats:
        console.print(f"[yellow]caveat:[/] {escape(c)}")
    console.print(f"report: {result.files.markdown}")
    for p in result.files.charts.all():
        console.print(f"chart:  {p}")
    failed = False
    for o in result.outcomes:
        colour = {"posted": "green", "recorded": "green", "skipped": "yellow"}.get(o.status, "red")
        where = escape(o.destination or "(no chat destination)")
        console.print(f"[{colour}]{o.status}[/] {where} {escape(o.detail)}")
        for w in o.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}")
        failed |= o.status == "failed"
    if failed:
        raise typer.Exit(1)


def scheduler() -> None:
    """Run the report scheduler in the foreground until Ctrl-C (`sherlog serve` runs it too)."""
    from core.wiring import open_stack
    from reports.scheduler import JOB_ID, start_scheduler, stop_scheduler

    settings = load_settings()
    stack = open_stack(settings, start=False)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sched = start_scheduler(settings, stack)
    try:
        job = sched.get_job(JOB_ID)
        when = job.next_run_time if job is not None else None
        console.print(
            f"weekly report scheduled ({settings.report.cron!r}, {settings.timezone}); "
            f"next run: {when:%Y-%m-%d %H:%M %Z}"
            if when
            else "weekly report job has no next run"
        )
        console.print("press Ctrl-C to stop")
        while not stop.wait(1.0):
            pass
    finally:
        stop_scheduler(sched)
        stack.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("scheduler stopped")


def register_scheduler(root: typer.Typer) -> None:
    """Entry point: add `sherlog scheduler` to the root app."""
    root.command("scheduler", help="Run the weekly-report scheduler in the foreground until Ctrl-C.")(scheduler)
