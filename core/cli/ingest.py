"""`sherlog ingest ...`: load files into the stores through the one ingestion API (core.ingest).

Every command prints a result table and lists every rejected item with its line (or index) and
field; the exit code is 1 when anything was rejected, 0 otherwise (2 for errors that stop the
whole run, such as an unreadable file).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from core.cli.output import console, console_err
from core.errors import InputError, InvalidPayload
from core.model import EntityRef, EventKind
from core.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="Load events, topology, runbooks, metrics and alerts into Sherlog.")

# Events are handed to the pipeline in chunks this size (also the progress granularity).
_CHUNK = 5_000
# Show a progress bar from this input size on; smaller files finish before it would render.
_PROGRESS_MIN_BYTES = 4 * 1024 * 1024


@app.callback()
def _group() -> None:
    """Load events, topology, runbooks, metrics and alerts into Sherlog."""


def _defaults(cluster: str | None, namespace: str | None) -> EntityRef | None:
    return EntityRef(cluster=cluster, namespace=namespace) if (cluster or namespace) else None


def _open_ingestor(tenant: str, defaults: EntityRef | None) -> Any:
    from core.ingest import Ingestor  # lazy: keeps `sherlog --help` fast
    from core.wiring import open_stack

    stack = open_stack(load_settings())
    return Ingestor(stack, tenant=tenant, defaults=defaults)


def _progress(what: str) -> Progress:
    return Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console_err,
        transient=True,
    )


def _print_report(report: Any, *, title: str, where: Callable[[int | None], str] | None = None) -> None:
    """The summary table, then one row per rejected item (and per warning)."""
    t = Table(title=title, show_header=False)
    t.add_column("what")
    t.add_column("n", justify="right")
    t.add_row("accepted", f"{report.accepted:,}")
    t.add_row("duplicates", f"{report.duplicates:,}")
    t.add_row("rejected", f"[red]{len(report.rejected):,}[/]" if report.rejected else "0")
    if report.new_templates:
        t.add_row("new log templates", f"{report.new_templates:,}")
    if report.embedded:
        t.add_row("texts embedded", f"{report.embedded:,}")
    for kind, n in sorted(report.by_kind.items()):
        t.add_row(f"  {kind}", f"{n:,}")
    console.print(t)
    locate = where or (lambda i: "-" if i is None else str(i))
    for name, items, style in (("rejected", report.rejected, "red"), ("warnings", report.warnings, "yellow")):
        if not items:
            continue
        rt = Table(title=name, title_style=style)
        rt.add_column("line" if where else "index", justify="right")
        rt.add_column("field")
        rt.add_column("problem")
        for e in items:
            rt.add_row(locate(e.index), e.field, e.message)
        console.print(rt)


def _finish(ingestor: Any, report: Any, *, title: str, where: Callable[[int | None], str] | None = None) -> None:
    try:
        ingestor.flush()
    finally:
        ingestor.stack.close()
    _print_report(report, title=title, where=where)
    if report.rejected:
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------- events


def _json_lines(f: IO[str]) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, decoded object or None, JSON error or None) per non-blank line."""
    for n, line in enumerate(f, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            yield n, json.loads(text), None
        except json.JSONDecodeError as e:
            yield n, None, f"not valid JSON at column {e.colno}: {e.msg}"


@app.command("events")
def events(
    file: str = typer.Argument(..., help="JSON Lines file, one Event per line; '-' reads stdin"),
    tenant: str = typer.Option("default", help="tenant for events that do not name one"),
    cluster: str | None = typer.Option(None, help="cluster for events that do not name one"),
    namespace: str | None = typer.Option(None, help="namespace for service/pod events that do not name one"),
) -> None:
    """Ingest canonical Events (see docs: Event envelope), one JSON object per line."""
    from core.ingest import IngestReport

    if file == "-":
        stream: IO[str] = sys.stdin
        size = 0
        name = "stdin"
    else:
        path = Path(file)
        if not path.is_file():
            raise InputError(f"events file not found: {path}", hint="pass a JSON Lines file, or '-' for stdin")
        try:
            stream = path.open(encoding="utf-8", errors="surrogateescape")
        except OSError as e:
            raise InputError(f"cannot read {path}: {e.strerror}") from e
        size = path.stat().st_size
        name = path.name
    ingestor = _open_ingestor(tenant, _defaults(cluster, namespace))
    report = IngestReport()
    line_of: list[int] = []  # item index -> line number

    def send(batch: list[Any], lines: list[int]) -> None:
        line_of.extend(lines)
        report.merge(ingestor.ingest_events(batch, start_index=len(line_of) - len(lines)))

    big = size >= _PROGRESS_MIN_BYTES
    progress_cm: AbstractContextManager[Any] = _progress(f"ingesting {name}") if big else nullcontext()
    try:
        with progress_cm as progress, stream:
            task = progress.add_task("ingest", total=size) if progress is not None else None
            batch: list[Any] = []
            lines: list[int] = []
            for n, obj, err in _json_lines(stream):
                if err is not None:
                    line_of.append(n)
                    report.reject(len(line_of) - 1, "(json)", err)
                    continue
                batch.append(obj)
                lines.append(n)
                if len(batch) >= _CHUNK:
                    send(batch, lines)
                    batch, lines = [], []
                    if progress is not None and task is not None and stream is not sys.stdin:
                        progress.update(task, completed=stream.tell())
            if batch:
                send(batch, lines)
    except BaseException:
        ingestor.stack.close()
        raise

    def where(i: int | None) -> str:
        return str(line_of[i]) if i is not None and 0 <= i < len(line_of) else "-"

    _finish(ingestor, report, title=f"ingest events {name}", where=where)


# ------------------------------------------------------------------------------------- topology


@app.command("topology")
def topology(
    file: Path = typer.Argument(..., help="static topology YAML, docker-compose file, or `kubectl get -o json` dump"),
    cluster: str = typer.Option("", help="cluster name for compose / Kubernetes files"),
    tenant: str = typer.Option("default"),
) -> None:
    """Ingest services, nodes and their dependencies (and Kubernetes events from a dump)."""
    from core.sources.topology import load_topology_file

    topo = load_topology_file(file, cluster=cluster)
    ingestor = _open_ingestor(tenant, None)
    try:
        report = ingestor.ingest_topology(topo)
    except BaseException:
        ingestor.stack.close()
        raise
    _finish(ingestor, report, title=f"ingest topology {file.name}")


# ------------------------------------------------------------------------------------- runbooks


@app.command("runbooks")
def runbooks(
    directory: Path = typer.Argument(..., help="directory of markdown runbooks (searched recursively)"),
    base_url: str | None = typer.Option(None, "--base-url", help="URL prefix; a runbook's link is <base-url>/<slug>"),
    tenant: str = typer.Option("default"),
) -> None:
    """Ingest runbooks: chunks by heading, alert-name aliases, embedded for search; links alerts."""
    if not directory.is_dir():
        raise InputError(f"runbook directory not found: {directory}")
    ingestor = _open_ingestor(tenant, None)
    try:
        with console_err.status(f"ingesting runbooks from {directory} (embedding chunks)…"):
            report = ingestor.ingest_runbooks(directory, base_url=base_url)
    except BaseException:
        ingestor.stack.close()
        raise
    _finish(ingestor, report, title=f"ingest runbooks {directory}")


# ---------------------------------------------------------------------------------- metrics CSV


def _prefix(entity_prefix: str) -> tuple[str | None, str | None]:
    parts = [p for p in entity_prefix.strip("/").split("/") if p]
    if len(parts) > 2:
        raise InputError(f"--entity-prefix {entity_prefix!r} must be CLUSTER or CLUSTER/NAMESPACE")
    return (parts[0] if parts else None, parts[1] if len(parts) > 1 else None)


def metric_csv_events(path: Path, *, cluster: str | None, namespace: str | None) -> Iterator[dict[str, Any]]:
    """Metric events from a `time` + `<service>_<metric>` CSV; empty cells are missing samples (skipped)."""
    from core.metrics.cases import read_metric_csv
    from core.metrics.names import parse_columns

    frame = read_metric_csv(path)
    names = parse_columns(frame.columns, source=str(path))
    for row, t in enumerate(frame.times):
        ts = datetime.fromtimestamp(float(t), tz=UTC)
        for j, column in enumerate(frame.columns):
            value = float(frame.values[row, j])
            if math.isnan(value):
                continue
            name = names[column]
            yield {
                "source": f"csv:{path.name}",
                "kind": EventKind.METRIC.value,
                "ts": ts,
                "entity": {"cluster": cluster, "namespace": namespace, "service": name.service},
                "attributes": {"metric": name.metric, "value": value},
                "ingest_id": f"csv:{path.name}:{column}:{float(t)!r}",
            }


@app.command("metrics-csv")
def metrics_csv(
    file: Path = typer.Argument(..., help="CSV with a `time` column (epoch s) and `<service>_<metric>` columns"),
    entity_prefix: str = typer.Option("", "--entity-prefix", help="CLUSTER or CLUSTER/NAMESPACE of the services"),
    tenant: str = typer.Option("default"),
) -> None:
    """Ingest a metrics table (RCD / Sock Shop style) as metric events."""
    from core.ingest import IngestReport

    cluster, namespace = _prefix(entity_prefix)
    items = list(metric_csv_events(file, cluster=cluster, namespace=namespace))
    ingestor = _open_ingestor(tenant, None)
    report = IngestReport()
    try:
        with _progress(f"ingesting {file.name}") as progress:
            task = progress.add_task("ingest", total=len(items))
            for start in range(0, len(items), _CHUNK):
                report.merge(ingestor.ingest_events(items[start : start + _CHUNK], start_index=start))
                progress.update(task, completed=min(start + _CHUNK, len(items)))
    except BaseException:
        ingestor.stack.close()
        raise
    _finish(ingestor, report, title=f"ingest metrics {file.name}")


# --------------------------------------------------------------------------------------- alerts


def parse_alert_file(doc: Any) -> Any:
    """Pick the mapper by shape: a JSON array is `/api/v2/alerts`, an object with Grafana's
    fields (`orgId`, `state`, `title`) a Grafana webhook, any other object an Alertmanager one."""
    from core.sources.alerts import (
        parse_alertmanager_v2_alerts,
        parse_alertmanager_webhook,
        parse_grafana_webhook,
    )

    if isinstance(doc, list):
        return parse_alertmanager_v2_alerts(doc)
    if isinstance(doc, dict) and any(k in doc for k in ("orgId", "state", "title")):
        return parse_grafana_webhook(doc)
    return parse_alertmanager_webhook(doc)


@app.command("alerts")
def alerts(
    file: Path = typer.Argument(..., help="Alertmanager or Grafana webhook JSON, or an /api/v2/alerts array"),
    tenant: str = typer.Option("default"),
    cluster: str | None = typer.Option(None, help="cluster for alerts whose labels do not name one"),
) -> None:
    """Ingest alert notifications (firing and resolved) and link them to entities and runbooks."""
    from core.sources.common import decode_json

    try:
        raw = file.read_bytes()
    except OSError as e:
        raise InvalidPayload(f"cannot read {file}: {e.strerror}") from e
    batch = parse_alert_file(decode_json(raw, str(file)))
    ingestor = _open_ingestor(tenant, _defaults(cluster, None))
    try:
        # mapper rejections name the alert's position in the file (alerts[i])
        report = ingestor.ingest_parsed(batch)
    except BaseException:
        ingestor.stack.close()
        raise
    _finish(ingestor, report, title=f"ingest alerts {file.name}")
