"""The `sherlog` command line: Typer app assembled from one module per area.

Core commands live in core/cli/*. Commands owned by outer packages (serve,
chat, chaos, report, ...) are registered through the `sherlog.cli` entry-point
group in pyproject.toml, so `core` never imports `bot`, `chaos` or `reports`.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

# Offline by construction: set before litellm/deepeval/huggingface are imported anywhere.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# two cores: multi-threaded BLAS made one query embedding take 0.3-1.5 s instead of 13 ms
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer

from core.cli import ask, ingest, logs, rca, ship, stack
from core.cli.output import console_err
from core.errors import SherlogError

app = typer.Typer(
    name="sherlog",
    no_args_is_help=True,
    rich_markup_mode="rich",
    help=(
        "Sherlog: a local-first AI SRE assistant.\n\n"
        "Start the embedded stack with [bold]sherlog up[/], check it with [bold]sherlog status[/]. "
        "Settings come from SHERLOG_* environment variables or sherlog.toml (see README)."
    ),
)
stack.register(app)
ask.register(app)
ship.register(app)
app.add_typer(ingest.app, name="ingest", help="Ingest events, topology, runbooks, metrics CSV or alert files.")
app.add_typer(logs.app, name="logs", help="Parse and mine logs (template mining, Loghub format).")
app.add_typer(rca.app, name="rca", help="Root-cause ranking on benchmark cases.")


def _register_plugins() -> None:
    for ep in entry_points(group="sherlog.cli"):
        sub = ep.load()
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=ep.name)
        else:  # a callable registering commands on the root app
            sub(app)


def main() -> None:
    """Entry point: run the CLI, turning Sherlog errors into one clear line and exit code 2."""
    _register_plugins()
    try:
        # standalone_mode=False lets us render SherlogError ourselves; click then
        # *returns* the exit code of typer.Exit instead of exiting.
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except SherlogError as e:
        console_err.print(f"[bold red]error:[/] {e.message}")
        if e.hint:
            console_err.print(f"[yellow]hint:[/] {e.hint}")
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        console_err.print("aborted")
        sys.exit(1)
    except Exception as e:
        # usage errors (unknown command, bad option): typer vendors its own click, so match
        # the ClickException protocol rather than a class
        show, code = getattr(e, "show", None), getattr(e, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise


if __name__ == "__main__":
    main()
