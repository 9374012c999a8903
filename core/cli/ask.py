"""`sherlog ask "why is checkout failing?" [--since 1h] [--until ...] [--json] [--thread ID]`."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from core.cli.output import console
from core.errors import InputError
from core.model import Answer, Question
from core.settings import load_settings


def register(app: typer.Typer) -> None:
    """Add `ask` to the root app."""
    app.command(help='Ask Sherlog a question about your systems, e.g. "why is checkout failing?".')(ask)


def _parse_time(value: str, *, now: datetime, flag: str) -> datetime:
    from core.engine.timewin import parse_duration, parse_point, zone

    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    point = parse_point(value, now, zone(load_settings().timezone))
    if point is None:
        raise InputError(
            f"{flag} {value!r} is neither a duration nor a time",
            hint=f"use e.g. {flag} 1h, {flag} 14:05 or {flag} 2026-11-17T09:00:00Z",
        )
    return point


def ask(
    question: str = typer.Argument(..., help="the question, in plain words"),
    since: str | None = typer.Option(None, "--since", help="start of the window: a duration back (1h, 30m) or a time"),
    until: str | None = typer.Option(None, "--until", help="end of the window: a duration back or a time"),
    as_json: bool = typer.Option(False, "--json", help="print the Answer as JSON"),
    thread: str | None = typer.Option(None, "--thread", help="thread id: follow-up questions remember this thread"),
    plain: bool = typer.Option(False, "--plain", help="plain text instead of Rich tables"),
) -> None:
    """Answer one question from the knowledge graph, metrics, logs, alerts and changes."""
    if not question.strip():
        raise InputError("the question is empty", hint='e.g. sherlog ask "why is checkout failing?"')
    from core.engine import Engine  # lazy: keeps `sherlog --help` fast
    from core.engine.render_text import render
    from core.wiring import open_stack

    now = datetime.now(UTC)
    q = Question(
        text=question,
        channel="cli" if thread else None,
        thread=thread,
        since=_parse_time(since, now=now, flag="--since") if since else None,
        until=_parse_time(until, now=now, flag="--until") if until else None,
    )
    settings = load_settings()
    stack = open_stack(settings)
    try:
        answer = Engine(stack, settings).ask(q, platform="cli", now=now)
    finally:
        stack.close()
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
    elif plain:
        typer.echo(render(answer, markdown=False))
    else:
        console.print(rich_answer(answer))


def rich_answer(answer: Answer) -> Group:
    """The answer as Rich renderables: summary panel, cause table, evidence, runbooks, steps, caveats."""
    parts: list = [Panel(Text(answer.summary), title=f"Sherlog — {answer.intent}", border_style="cyan")]
    if answer.root_causes:
        t = Table(title="Root causes", show_lines=True)
        t.add_column("#", justify="right")
        t.add_column("entity")
        t.add_column("confidence", justify="right")
        t.add_column("why")
        for i, rc in enumerate(answer.root_causes, 1):
            name = rc.entity.rsplit("/", 1)[-1].split(":", 1)[-1]
            kind = f"\n[dim]{rc.fault_kind.replace('_', ' ')}[/]" if rc.fault_kind else ""
            t.add_row(str(i), f"[bold]{escape(name)}[/]{kind}", f"{rc.confidence:.0%}", escape(rc.why))
        parts.append(t)
    if len(answer.causal_path) > 1:
        parts.append(Text("path: " + " → ".join(answer.causal_path), style="bold"))
    if answer.evidence:
        t = Table(title="Evidence")
        t.add_column("id", style="dim", no_wrap=True)
        t.add_column("time", no_wrap=True)
        t.add_column("what")
        for e in answer.evidence[:12]:
            when = f"{e.ts:%H:%M:%S}" if e.ts else ""
            link = f"\n[link={e.link}]{escape(e.link)}[/link]" if e.link else ""
            t.add_row(e.id, when, escape(e.text) + link)
        parts.append(t)
    if answer.runbooks:
        parts.append(
            Text("runbooks: " + "; ".join(f"{r.title}" + (f" <{r.url}>" if r.url else "") for r in answer.runbooks))
        )
    if answer.similar_incidents:
        parts.append(Text("similar incidents: " + "; ".join(s.title for s in answer.similar_incidents)))
    if answer.next_steps:
        parts.append(
            Panel(Text("\n".join(f"{i}. {s}" for i, s in enumerate(answer.next_steps, 1))), title="next steps")
        )
    if answer.caveats:
        parts.append(Panel(Text("\n".join(f"• {c}" for c in answer.caveats)), title="caveats", border_style="yellow"))
    tokens = (
        f" · {answer.cost.prompt_tokens}+{answer.cost.completion_tokens} tokens ({answer.cost.llm_model})"
        if answer.cost.prompt_tokens or answer.cost.completion_tokens
        else ""
    )
    parts.append(
        Text(f"answered in {answer.cost.latency_ms:.0f} ms · {answer.narrated_by} narration{tokens}", style="dim")
    )
    return Group(*parts)
