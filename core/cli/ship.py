"""`sherlog ship`: tail log files and/or the systemd journal into a Sherlog server.

    sherlog ship --file /var/log/app.log /var/log/worker.log --server http://sherlog:8765
    sherlog ship --journald --unit nginx.service --batch-lines 200 --batch-seconds 2
    sherlog ship --file app.log --once        # ship what is there now and exit

The cursor and the spool live in `<data dir>/ship/<name>/`; a restarted
shipper resumes from there without losing or repeating lines. Exit codes:
0 shipped, 1 the server rejected some lines (kept in rejected.jsonl), 2 bad
usage or configuration, 3 `--once` left batches spooled (server unreachable).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import typer

from core.errors import InputError, SherlogError

EXIT_REJECTED = 1
EXIT_SPOOLED = 3


def default_state_name(keys: list[str]) -> str:
    """A stable state-dir name for a set of sources (same files → same cursor)."""
    if keys == ["journald"]:
        return "journald"
    digest = hashlib.sha1("\n".join(sorted(keys)).encode()).hexdigest()[:12]
    return f"files-{digest}" if all(k.startswith("file:") for k in keys) else f"mixed-{digest}"


def ship(
    file: list[Path] = typer.Option(
        [], "--file", "-f", help="log file to tail (repeat, or list more paths after it)", show_default=False
    ),
    paths: list[Path] = typer.Argument(None, help="more log files to tail", show_default=False),
    journald: bool = typer.Option(False, "--journald", help="follow the systemd journal (journalctl)"),
    unit: list[str] = typer.Option([], "--unit", "-u", help="journal: only this systemd unit (repeatable)"),
    since: str | None = typer.Option(
        None, "--since", help="journal, first run only: start here (journalctl --since), else only new entries"
    ),
    journal_dir: Path | None = typer.Option(None, "--journal-dir", help="journal: read journal files in this dir"),
    server: str | None = typer.Option(None, "--server", help="Sherlog server URL [default: from server.host/port]"),
    token: str | None = typer.Option(
        None, "--token", help="bearer token [default: server.ingest_token]", show_default=False
    ),
    service: str | None = typer.Option(None, "--service", help="service name for file lines [default: file stem]"),
    batch_lines: int = typer.Option(500, "--batch-lines", min=1, max=100_000, help="send after this many lines"),
    batch_seconds: float = typer.Option(1.0, "--batch-seconds", min=0.0, help="…or this long after its first line"),
    once: bool = typer.Option(False, "--once", help="ship what is there now, drain the spool, exit"),
    name: str | None = typer.Option(None, "--name", help="state name under <data dir>/ship/ [default: from sources]"),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="cursor + spool directory (overrides --name)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only errors on stderr"),
) -> None:
    """Ship log lines to a Sherlog server: batched, resumable, spooled to disk while it is down."""
    from core.settings import load_settings
    from core.ship.client import IntakeClient
    from core.ship.journald import JOURNAL_KEY, JournalSource
    from core.ship.shipper import LineSource, ShipConfig, Shipper, ShipState
    from core.ship.tail import FileTailer

    all_files = list(dict.fromkeys(p.expanduser().absolute() for p in [*file, *(paths or [])]))
    if not all_files and not journald:
        raise InputError("nothing to ship: give --file PATH... and/or --journald", hint="see `sherlog ship --help`")
    for p in all_files:
        if p.exists() and not p.is_file():
            raise InputError(f"--file {p}: not a regular file")
        if once and not p.exists():
            # following, a missing file is waited for; for a one-shot run it is most likely a typo
            raise InputError(f"--file {p}: no such file", hint="without --once the shipper waits for it to appear")
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # one INFO line per request from httpx would drown what the shipper says
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings()
    url = server or f"http://{settings.server.host}:{settings.server.port}"
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--server {url!r}: expected an http:// or https:// URL")
    secret = token or (settings.server.ingest_token.get_secret_value() if settings.server.ingest_token else None)

    keys = [f"file:{p}" for p in all_files] + ([JOURNAL_KEY] if journald else [])
    sdir = state_dir or settings.data_dir / "ship" / (name or default_state_name(keys))
    state = ShipState(sdir)
    sources: list[LineSource] = []
    shipper: Shipper | None = None
    try:
        host = socket.gethostname()
        for p in all_files:
            sources.append(FileTailer(p, state.saved.get(f"file:{p}"), service=service, host=host))
        if journald:
            sources.append(
                JournalSource(
                    state.saved.get(JOURNAL_KEY),
                    follow=not once,
                    units=unit,
                    since=since,
                    directory=str(journal_dir) if journal_dir else None,
                )
            )
        config = ShipConfig(batch_lines=batch_lines, batch_seconds=batch_seconds)
        shipper = Shipper(sources, IntakeClient(url, token=secret), state, config)

        def _stop(signum: int, _frame: FrameType | None) -> None:
            assert shipper is not None
            shipper.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if not quiet:
            typer.echo(f"shipping {', '.join(keys)} → {url} (state: {sdir})")
        stats = shipper.run(once=once)
    finally:
        if shipper is not None:
            shipper.close()
        else:
            for src in sources:
                src.close()
        state.close()
    if not quiet:
        # one plain line, never wrapped: scripts and tests read it
        typer.echo(
            f"read {stats.read} line(s): accepted {stats.accepted}, duplicates {stats.duplicates}, "
            f"rejected {stats.rejected}; {stats.sent_batches} batch(es) sent, {stats.replayed_batches} of them "
            f"replayed from the spool; {stats.pending_batches} still spooled"
        )
    if stats.pending_batches:
        typer.echo(
            f"error: {stats.pending_batches} batch(es) remain spooled in {sdir / 'spool'}: "
            f"{stats.last_error or 'server unreachable'}; run `sherlog ship` again to deliver them",
            err=True,
        )
        raise typer.Exit(EXIT_SPOOLED)
    if stats.rejected:
        typer.echo(f"error: the server rejected {stats.rejected} line(s); see {state.rejected_path}", err=True)
        raise typer.Exit(EXIT_REJECTED)


def register(app: typer.Typer) -> None:
    """Add `sherlog ship` to the root app."""
    app.command(name="ship", help="Tail files / the journal into a Sherlog server (batched, resumable, spooled).")(ship)


def main() -> None:
    """`python -m core.cli.ship ...`: the ship command on its own, with the same error handling as `sherlog`."""
    app = typer.Typer(add_completion=False)
    register(app)
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except SherlogError as e:
        typer.echo(f"error: {e.message}" + (f"\nhint: {e.hint}" if e.hint else ""), err=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
