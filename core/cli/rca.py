"""`sherlog rca ...` commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from core.cli.output import console
from core.errors import InputError
from core.metrics.cases import MetricCase, load_case_dir, load_split_case
from core.rca.metric_ranker import Ranking, rank_case

app = typer.Typer(no_args_is_help=True, help="rca commands")


@app.callback()
def _group() -> None:
    """Root-cause ranking on benchmark cases."""
    # an explicit callback keeps `rca` a command group even while it has a single subcommand


def _load(
    case: Path | None,
    normal: Path | None,
    anomalous: Path | None,
    graph: Path | None,
    logs: Path | None,
    changes: Path | None,
) -> MetricCase:
    if case is not None and (normal is not None or anomalous is not None):
        raise InputError("give either --case DIR or --normal/--anomalous, not both")
    if case is not None:
        return load_case_dir(case, graph=graph, logs=logs, changes=changes)
    if normal is None or anomalous is None:
        missing = "--anomalous" if normal is not None else "--normal" if anomalous is not None else "--case"
        raise InputError(
            f"missing {missing}",
            hint="use --case DIR (data.csv + inject_time.txt) or --normal normal.csv --anomalous anomalous.csv",
        )
    return load_split_case(normal, anomalous, graph=graph, logs=logs, changes=changes)


def _table(ranking: Ranking, top: int, source: str) -> Table:
    t = Table(title=f"Root-cause candidates — {source}")
    t.add_column("#", justify="right")
    t.add_column("service")
    t.add_column("score", justify="right")
    t.add_column("confidence", justify="right")
    t.add_column("strongest series")
    t.add_column("robust z", justify="right")
    t.add_column("onset", justify="right")
    for i, c in enumerate(ranking.top(top), 1):
        ev = c.evidence[0] if c.evidence else None
        onset = "-" if c.onset_time is None else f"{c.onset_time - ranking.inject_time:+.0f} s"
        t.add_row(
            str(i),
            c.service,
            f"{c.score:.4g}",
            f"{c.confidence:.0%}",
            ev.column if ev else "-",
            f"{ev.peak_z:+.1f}" if ev else "-",
            onset,
        )
    return t


@app.command("metrics")
def metrics(
    case: Path | None = typer.Option(
        None, "--case", help="case directory: data.csv + inject_time.txt (or normal.csv + anomalous.csv)"
    ),
    normal: Path | None = typer.Option(None, "--normal", help="CSV of the normal (baseline) period"),
    anomalous: Path | None = typer.Option(
        None, "--anomalous", help="CSV of the anomalous period; its first timestamp is taken as the inject time"
    ),
    graph: Path | None = typer.Option(None, "--graph", help="call graph CSV (source,target); default DIR/graph.csv"),
    logs: Path | None = typer.Option(None, "--logs", help="logs CSV (time,service,message); default DIR/logs.csv"),
    changes: Path | None = typer.Option(
        None, "--changes", help="changes CSV (time,service,description); default DIR/changes.csv"
    ),
    top: int = typer.Option(5, "--top", min=1, help="how many candidates to show"),
    as_json: bool = typer.Option(False, "--json", help='print {"ranking": [...], "scores": [...], ...}'),
) -> None:
    """Rank services as root-cause candidates from metric anomalies around the inject time.

    Columns are `time` (epoch seconds) plus `<service>_<metric>` series. The baseline is the
    period before the inject time (or normal.csv); the ranking is deterministic.
    """
    loaded = _load(case, normal, anomalous, graph, logs, changes)
    ranking = rank_case(loaded)
    if as_json:
        # plain print: Rich would wrap long lines and break the JSON for machines
        print(json.dumps(ranking.to_json(top)))
        return
    console.print(_table(ranking, top, str(case) if case else str(anomalous)))
    if ranking.causes:
        best = ranking.causes[0]
        console.print(f"[bold]{best.service}[/] ({best.confidence:.0%}): {best.why}", highlight=False)
    for note in ranking.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
