"""`sherlog demo` (and `make demo`): a newcomer's first five minutes with Sherlog.

Starts the embedded stack, loads the simulated "boutique" environment, its runbooks and
30 days of history, injects the default scenario so that its fault started ~30 minutes
ago, ingests the telemetry through core's ingestion API, then asks
"@sherlog why is checkout failing?" through the console chat adapter and shows the
answer as it would appear in Slack, next to the injected ground truth.

The demo needs an empty stack: it refuses to touch one holding data unless given
`--reset`. `make demo` runs it on a data dir of its own (./.sherlog-demo, port 6480), so
it never touches your real data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bot.conversation import Mention
from bot.render import slack as slack_render
from bot.render.terminal import slack_preview
from bot.services import BotServices
from chaos.history import generate_history
from chaos.scenarios import DEFAULT_SCENARIO, load_scenario
from chaos.simulate import simulate
from chaos.spec import load_environment
from core.errors import InputError
from core.ingest import Ingestor
from core.knowledge.schema import short_name
from core.model import Answer
from core.settings import Settings, load_settings
from core.sources.topology import from_static
from core.wiring import Stack, open_stack

RUNBOOK_DIR = Path(__file__).parent / "runbooks"
DEMO_QUESTION = "@sherlog why is checkout failing?"


@dataclass
class DemoResult:
    """What the demo did and what Sherlog answered."""

    answer: Answer
    truth_root_cause: str
    fault_kind: str
    events: int
    seconds: float

    @property
    def correct(self) -> bool:
        top = self.answer.root_causes[0].entity if self.answer.root_causes else ""
        return short_name(top) == self.truth_root_cause


def _has_data(stack: Stack) -> bool:
    return stack.graph.count_nodes() > 0 or bool(stack.db.counts().get("incidents"))


def _wipe(stack: Stack) -> None:
    stack.graph.delete_all()
    stack.vectors.delete_all()
    stack.db.delete_all()
    templates = stack.settings.data_dir / "templates.json"
    templates.unlink(missing_ok=True)


def run_demo(
    settings: Settings, *, scenario: str = DEFAULT_SCENARIO, reset: bool = False, console: Console | None = None
) -> DemoResult:
    """Load, inject, ingest, ask. Raises InputError on a non-empty stack without `reset`."""
    console = console or Console()
    t0 = time.monotonic()
    sc = load_scenario(scenario)
    env = load_environment(sc.environment)
    # the fault's window ends now, so "last hour" questions see it like a live incident
    duration = timedelta(minutes=sc.fault.at_min + sc.window.after_min)
    start = (datetime.now(UTC) - duration).replace(second=0, microsecond=0)

    stack = open_stack(settings)
    try:
        if _has_data(stack):
            if not reset:
                raise InputError(
                    f"the stack in {settings.data_dir} already holds data; the demo needs an empty one",
                    hint="run `make demo` (it uses ./.sherlog-demo), or `sherlog demo --reset` to wipe this stack",
                )
            _wipe(stack)
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), console=console, transient=False,
        )  # fmt: skip
        events = 0
        with progress, Ingestor(stack) as ingestor:
            step = progress.add_task("topology", total=5, detail="")
            topo = ingestor.ingest_topology(from_static(env.topology()))
            progress.update(step, advance=1, description="runbooks", detail=f"{topo.accepted} entities")
            rb = ingestor.ingest_runbooks(RUNBOOK_DIR)
            progress.update(step, advance=1, description="30 days of history", detail=f"{rb.accepted} runbooks")
            history = generate_history(env, end=start)
            ingestor.ingest_incidents([i.to_dict() for i in history.incidents])
            hist = ingestor.ingest_events(history.events)
            events += hist.accepted
            progress.update(
                step, advance=1, description=f"inject {sc.name}", detail=f"{len(history.incidents)} incidents"
            )
            sim = simulate(env, sc, start=start)
            progress.update(step, advance=1, description="ingest telemetry", detail=f"{len(sim.events):,} events")
            live = ingestor.ingest_events(sim.events)
            events += live.accepted
            if live.rejected:
                console.print(f"[yellow]{len(live.rejected)} simulated events were rejected: {live.rejected[:3]}[/]")
            progress.update(step, advance=1, description="ready", detail=f"{events:,} events ingested")

        services = BotServices.from_stack(stack)
        conversation = services.conversation("console")
        mention = Mention(platform="console", channel="demo", thread=f"demo-{int(time.time())}", user="@you",
                          text=DEMO_QUESTION)  # fmt: skip
        console.print(f"\n[bold]@you[/]  {DEMO_QUESTION}")
        answer = conversation.answer(mention)
        answer_id = conversation.record(mention, mention.thread, answer)
        message = slack_render.render_answer(answer, answer_id)
        console.print(slack_preview(message["blocks"], subtitle="as posted in Slack, in the thread"))
        return DemoResult(
            answer=answer,
            truth_root_cause=sim.truth.root_cause,
            fault_kind=sim.truth.fault_kind,
            events=events,
            seconds=time.monotonic() - t0,
        )
    finally:
        stack.close()


def demo(
    scenario: str = typer.Option(DEFAULT_SCENARIO, "--scenario", help="scenario to inject (see `sherlog chaos list`)"),
    reset: bool = typer.Option(False, "--reset", help="wipe the stack first if it holds data"),
) -> None:
    """Inject a synthetic incident into the embedded stack and show Sherlog's answer, as in Slack."""
    console = Console()
    result = run_demo(load_settings(), scenario=scenario, reset=reset, console=console)
    top = result.answer.root_causes[0] if result.answer.root_causes else None
    verdict = "[green]✓ matches[/]" if result.correct else "[red]✗ does not match[/]"
    console.print(
        f"\ninjected: [bold]{result.truth_root_cause}[/] ({result.fault_kind}) — "
        f"Sherlog's top cause: [bold]{short_name(top.entity) if top else 'none'}[/] {verdict}  "
        f"[grey62]({result.events:,} events, {result.seconds:.0f} s)[/]"
    )
    console.print(
        "\nKeep going: [bold]make chat[/] (or `sherlog chat` with the same settings) — try "
        "[italic]what changed there?[/], [italic]/incident declare checkout failing sev2[/], "
        "[italic]/incident rca[/]."
    )
    if not result.correct:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `sherlog demo` to the root CLI (entry point `sherlog.cli`)."""
    app.command("demo", help="Inject a synthetic incident and show Sherlog's answer as it would appear in Slack.")(demo)
