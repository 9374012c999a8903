"""`make bench` entry: ``python -m eval.bench.run [NAME ...] [--repeats N] [--out DIR]``.

Each bench is one entry in :data:`BENCHES`: a function that measures and returns JSON-ready
results, and one that prints them. Results also go to ``<out>/<name>.json`` (default
``bench-results/``, git-ignored). To add a bench, add an entry; no other change is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.status import Status

from core.errors import SherlogError
from eval.bench import ask, ingest, logs

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Bench:
    """A named benchmark: ``measure(repeats, progress)`` returns results, ``render`` prints them."""

    measure: Callable[[int, Callable[[str], None]], dict[str, Any]]
    render: Callable[[dict[str, Any], Console], None]
    help: str


BENCHES: dict[str, Bench] = {
    "logs": Bench(
        measure=lambda repeats, progress: logs.run_bench(repeats=repeats, progress=progress),
        render=logs.render,
        help="template mining vs drain3 on Loghub 2k (GA + lines/s, content and raw)",
    ),
    "ask": Bench(
        measure=lambda repeats, progress: ask.run(repeats=repeats, progress=progress),
        render=ask.render,
        help="ask latency, 5,200 entities / 1M log lines, vs a naive SQL LIKE grep",
    ),
    "ingest": Bench(
        measure=lambda repeats, progress: ingest.run(progress=progress),
        render=ingest.render,
        help="end-to-end log ingestion lines/s vs the relational store's own bulk insert",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benches to run (default: all of {', '.join(BENCHES)})")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per measurement (best counts)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results", help="directory for <name>.json")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    console = Console()
    err = Console(stderr=True)
    failed = 0
    for name in args.names or list(BENCHES):
        bench = BENCHES[name]
        err.print(f"[bold]bench {name}[/]: {bench.help}")
        try:
            with err.status(f"{name} ...") as status:

                def progress(msg: str, status: Status = status, name: str = name) -> None:
                    status.update(f"{name}: {msg}")

                results = bench.measure(args.repeats, progress)
        except SherlogError as e:
            err.print(f"[bold red]bench {name} failed:[/] {e}")
            failed += 1
            continue
        bench.render(results, console)
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        err.print(f"results written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
