"""`sherlog chaos ...`: list scenarios, simulate one, generate history.

Registered through the ``sherlog.cli`` entry-point group as ``chaos``.
For now ``run`` writes the simulated telemetry to a directory; feeding it to
the ingestion API comes with the ingestion pipeline.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from chaos.faults import get_fault
from chaos.history import generate_history
from chaos.scenarios import DEFAULT_SCENARIO, list_scenarios, load_scenario
from chaos.simulate import SimConfig, SimulationResult, simulate
from chaos.spec import DEFAULT_ENVIRONMENT, load_environment
from core.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="Chaos scenarios: simulated incidents for demos and evaluation.")
console = Console()


@app.callback()
def _group() -> None:
    """Chaos scenarios: simulated incidents for demos and evaluation."""


def _out_dir(out: Path | None, prefix: str) -> Path:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        return out
    base = load_settings().data_dir / "chaos"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=base))


@app.command("list")
def list_cmd() -> None:
    """List the shipped scenarios."""
    t = Table(title="Chaos scenarios")
    for col in ("scenario", "fault kind", "target", "question"):
        t.add_column(col)
    for s in list_scenarios():
        name = f"{s.name} [dim](default)[/]" if s.name == DEFAULT_SCENARIO else s.name
        t.add_row(name, s.fault.kind.value, s.fault.target, s.question)
    console.print(t)


@app.command("run")
def run_cmd(
    scenario: str = typer.Argument(DEFAULT_SCENARIO, help="scenario name (see `list`) or a YAML path"),
    seed: int | None = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    out: Path | None = typer.Option(None, "--out", help="output directory (default: a new one under the data dir)"),
    step: float | None = typer.Option(None, "--step", help="metric resolution in seconds (default: the scenario's)"),
    target: str = typer.Option("sim", "--target", help="sim (simulated telemetry) | local (real demo app) | k8s"),
    service: str | None = typer.Option(None, "--service", help="local/k8s: aim the fault at this service"),
    sherlog_url: str | None = typer.Option(None, "--sherlog-url", help="local: Sherlog server (default: settings)"),
    workdir: Path | None = typer.Option(None, "--workdir", help="local: where the demo app, Prometheus and logs live"),
    namespace: str = typer.Option("default", "--namespace", help="k8s: namespace"),
    context: str | None = typer.Option(None, "--context", help="k8s: kubectl context"),
    dry_run: bool = typer.Option(False, "--dry-run", help="k8s: print the kubectl commands, run nothing"),
    kubectl_dry_run: bool = typer.Option(False, "--kubectl-dry-run", help="k8s: pass --dry-run=client to kubectl"),
    ingest: bool = typer.Option(
        True, "--ingest/--no-ingest", help="sim: feed the telemetry into Sherlog (fault window ending now)"
    ),
) -> None:
    """Inject a scenario. `sim` simulates it and writes topology.yaml, events.jsonl and truth.json;
    `local` injects the fault for real into a demo app watched by Prometheus + Alertmanager;
    `k8s` injects through kubectl."""
    if target == "local":
        from chaos.local.cli import run_local_command

        run_local_command(
            scenario,
            settings=load_settings(),
            sherlog_url=sherlog_url,
            workdir=workdir,
            service=service,
            console=console,
        )
        return
    if target == "k8s":
        from chaos.local.cli import run_k8s_command

        run_k8s_command(
            scenario,
            namespace=namespace,
            context=context,
            service=service,
            dry_run=dry_run,
            kubectl_dry_run=kubectl_dry_run,
            console=console,
        )
        return
    if target != "sim":
        raise typer.BadParameter(f"unknown target '{target}': use sim, local or k8s", param_hint="--target")
    sc = load_scenario(scenario)
    # injected into a live stack, the fault window ends now; written to files only, it keeps the
    # scenario's fixed start so the output is reproducible
    start = None
    if ingest:
        duration = timedelta(minutes=sc.fault.at_min + sc.window.after_min)
        start = (datetime.now(UTC) - duration).replace(second=0, microsecond=0)
    result = simulate(None, sc, seed, start=start, config=SimConfig(step_s=step))
    if ingest:
        _ingest(result)
    out_dir = _out_dir(out, f"{sc.name}-{result.seed}")
    paths = result.write(out_dir)
    truth = result.truth
    t = Table(title=f"{sc.name} (seed {result.seed}): {sc.title}")
    t.add_column("kind")
    t.add_column("events", justify="right")
    for kind, n in result.counts_by_kind().items():
        t.add_row(kind, str(n))
    t.add_row("[bold]total[/]", f"[bold]{len(result.events)}[/]")
    console.print(t)
    console.print(f"question:   {truth.question}")
    console.print(
        f"root cause: {truth.root_cause} ({truth.root_cause_kind}), {get_fault(truth.fault_kind).title}, "
        f"onset {truth.onset:%Y-%m-%d %H:%M:%S}Z"
    )
    console.print(f"window:     {truth.window_start:%H:%M:%S}Z - {truth.window_end:%H:%M:%S}Z")
    console.print(f"written to: {out_dir}")
    for p in paths.values():
        console.print(f"  {p.name}")


def _ingest(result: SimulationResult) -> None:
    """Feed a simulation through core's ingestion API (never straight into a store)."""
    from core.ingest import Ingestor
    from core.sources.topology import from_static
    from core.wiring import open_stack

    stack = open_stack(load_settings())
    try:
        with Ingestor(stack) as ingestor:
            ingestor.ingest_topology(from_static(result.topology))
            with console.status(f"ingesting {len(result.events):,} events ..."):
                report = ingestor.ingest_events(result.events)
    finally:
        stack.close()
    console.print(
        f"ingested: {report.accepted:,} accepted, {report.duplicates:,} duplicates, {len(report.rejected)} rejected"
    )
    console.print(f"now ask:    sherlog ask {result.truth.question!r}   (or `make chat`)")


@app.command("history")
def history_cmd(
    seed: int = typer.Option(0, "--seed", help="random seed"),
    days: int = typer.Option(30, "--days", min=1, help="how many days of history"),
    environment: str = typer.Option(DEFAULT_ENVIRONMENT, "--env", help="environment name or YAML path"),
    out: Path | None = typer.Option(None, "--out", help="output directory (default: a new one under the data dir)"),
) -> None:
    """Generate past incidents, deploys and alerts; write incidents.json and history_events.jsonl."""
    h = generate_history(load_environment(environment), seed=seed, days=days)
    out_dir = _out_dir(out, f"history-{seed}")
    h.write(out_dir)
    t = Table(title=f"History {h.start:%Y-%m-%d} - {h.end:%Y-%m-%d} ({h.environment}, seed {seed})")
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_row("incidents", str(len(h.incidents)))
    t.add_row("changes", str(len(h.changes)))
    t.add_row("alert notifications", str(len(h.alerts)))
    console.print(t)
    console.print(f"written to: {out_dir}")
