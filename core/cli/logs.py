"""`sherlog logs ...` commands."""

from __future__ import annotations

import csv
import sys
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from core.cli.output import console_err
from core.errors import InputError
from core.logs.miner import TemplateMiner
from core.logs.state import load_miner, save_miner

app = typer.Typer(no_args_is_help=True, help="logs commands")


@app.callback()
def _group() -> None:
    """Parse and mine logs (template mining, Loghub format)."""
    # A callback keeps `logs` a command group even while it has a single command.


# Show a progress bar from this input size on; smaller files finish before it would render.
_PROGRESS_MIN_BYTES = 8 * 1024 * 1024
_PROGRESS_EVERY = 20_000


def _lines(f: IO[str]) -> Iterator[str]:
    for line in f:
        yield line.rstrip("\r\n")


def _mine_file(miner: TemplateMiner, path: Path, *, content_only: bool) -> tuple[array[int], int]:
    """Template id per line (as returned at the time) and the number of new templates."""
    add = miner.add if content_only else miner.add_line
    ids: array[int] = array("q")
    new = 0
    size = path.stat().st_size
    with path.open(encoding="utf-8", errors="replace", newline="\n") as f:
        if size < _PROGRESS_MIN_BYTES:
            for line in _lines(f):
                r = add(line)
                ids.append(r.template_id)
                new += r.is_new
            return ids, new
        with Progress(
            TextColumn("mining {task.fields[name]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console_err,
            transient=True,
        ) as progress:
            task = progress.add_task("mine", total=size, name=path.name)
            done = 0
            for line in _lines(f):
                r = add(line)
                ids.append(r.template_id)
                new += r.is_new
                done += len(line) + 1
                if len(ids) % _PROGRESS_EVERY == 0:
                    progress.update(task, completed=min(done, size))
            progress.update(task, completed=size)
    return ids, new


def _write_csv(miner: TemplateMiner, ids: array[int], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["LineId", "EventId", "EventTemplate"])
    final: dict[int, tuple[str, str]] = {}
    for line_no, tid in enumerate(ids, start=1):
        row = final.get(tid)
        if row is None:
            t = miner.get(tid)  # ids of templates merged later resolve to the survivor
            row = final[tid] = (f"E{t.id}", t.text)
        writer.writerow((line_no, *row))


@app.command("mine")
def mine(
    input: Path = typer.Option(..., "--input", "-i", help="log file, one line per message"),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write: LineId,EventId,EventTemplate"),
    content_only: bool = typer.Option(
        False, "--content-only", help="lines are bare messages; without it each line's header is detected and dropped"
    ),
    state: Path | None = typer.Option(
        None, "--state", help="miner state JSON: loaded when present, saved after the run (stable template ids)"
    ),
) -> None:
    """Group log lines into templates (Loghub format: `<*>` marks variables), one CSV row per input line."""
    if not input.is_file():
        raise InputError(f"input file not found: {input}", hint="pass --input PATH to an existing log file")
    miner = load_miner(state) if state is not None else TemplateMiner()
    before = len(miner.templates)
    ids, new = _mine_file(miner, input, content_only=content_only)
    try:
        with output.open("w", encoding="utf-8", newline="") as out:
            _write_csv(miner, ids, out)
    except OSError as e:
        raise InputError(f"cannot write {output}: {e.strerror}") from e
    if state is not None:
        save_miner(miner, state)
    console_err.print(
        f"{len(ids)} lines → {len(miner.templates)} templates ({new} new, {before} loaded) → {output}",
        highlight=False,
    )
    sys.stderr.flush()
