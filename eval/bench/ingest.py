"""Log ingestion throughput, end to end: N synthetic log events through `core.ingest.Ingestor`.

Each event is a JSON-ready dict, as the HTTP intake or a shipper hands it over: validation,
dedup, redaction, template mining, graph + vector writes for templates, and the relational
transaction (raw lines, per-minute counts, idempotency keys) are all timed. The embedded stack
is real: a FalkorDB started for the run, SQLite in a temp dir, the local MiniLM embedder.

Peer in the same run: the same lines stored with the relational store's own bulk insert
(`RelationalStore.insert_log_lines`: no validation, dedup, redaction, mining, graph or vectors),
i.e. the floor a pipeline that keeps raw lines cannot beat. `ratio` = pipeline / peer lines/s.

Times are wall clock and this process's CPU time (the machine's cores are shared with other
jobs, so CPU time is the steadier number). Event generation is not timed.

    python -m eval.bench.ingest [--lines 1000000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.db.store import RelationalStore
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.ingest import Ingestor
from core.settings import GraphSettings, Settings
from core.wiring import open_stack

DEFAULT_LINES = 200_000
DEFAULT_BATCH = 5_000
T0 = datetime(2025, 3, 3, tzinfo=UTC)
SERVICES = [f"svc-{i:02d}" for i in range(20)]
LEVELS = ("info",) * 14 + ("debug", "warning", "warning", "error")

# (format, level or None for "from the level table", message with {placeholders})
_SHAPES: tuple[str, ...] = (
    "GET /api/v1/items/{n} 200 in {ms} ms",
    "POST /api/v1/cart/{n}/checkout 201 in {ms} ms user=u{u}",
    "cache miss for key product:{n} ttl={ms}s",
    "db query SELECT * FROM orders WHERE id={n} took {ms} ms rows={u}",
    "connected to redis at 10.0.{u}.{n}:6379 pool={ms}",
    "worker {u} finished batch {n} in {ms} ms",
    "retrying request {n} to payments after {ms} ms (attempt {u})",
    "upstream timeout calling inventory after {ms} ms trace_id={hex}",
    "user u{u} login failed password={hex} from 192.168.{u}.{n}",
    "gc pause {ms} ms heap={n} MiB",
    "session {hex} expired after {ms} s",
    "published {n} messages to topic orders-{u}",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _line(rng: random.Random, i: int, ts: datetime, service: str, level: str) -> str:
    msg = _SHAPES[rng.randrange(len(_SHAPES))].format(
        n=rng.randrange(100_000), ms=rng.randrange(1, 5000), u=rng.randrange(256), hex=f"{rng.getrandbits(64):016x}"
    )
    fmt = i % 3
    stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if fmt == 0:
        return f"{stamp} {level.upper()} [{service}] {msg}"
    if fmt == 1:
        return f'{{"time":"{stamp}","level":"{level}","msg":"{msg}"}}'
    return f'ts={stamp} level={level} msg="{msg}"'


def events(n: int, *, seed: int = 7, start: int = 0) -> Iterator[dict[str, Any]]:
    """`n` log events over 20 services, 12 message shapes, three line formats; ~0.5% carry a secret."""
    rng = random.Random(seed * 1_000_003 + start)
    for i in range(start, start + n):
        ts = T0 + timedelta(milliseconds=5 * i)
        service = SERVICES[i % len(SERVICES)]
        level = LEVELS[rng.randrange(len(LEVELS))]
        yield {
            "source": "bench",
            "kind": "log",
            "ts": ts.isoformat(),
            "entity": {"cluster": "bench", "namespace": "shop", "service": service},
            "severity": level,
            "body": _line(rng, i, ts, service, level),
            "ingest_id": f"bench/{i}",
        }


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def run(
    lines: int = DEFAULT_LINES, *, batch: int = DEFAULT_BATCH, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Ingest `lines` events through the pipeline, then store the same lines with the bare bulk insert."""
    say = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="sherlog-bench-ingest-") as tmp:
        root = Path(tmp)
        server = EmbeddedFalkorDB(root / "falkordb", port=_free_port())
        server.ensure_running()
        try:
            settings = Settings(
                data_dir=root / "data",
                graph=GraphSettings(uri=f"falkor://127.0.0.1:{server.port}", graph_name="bench_ingest"),
            )
            stack = open_stack(settings)
            try:
                stack.embedder.embed(["warm up"])  # model load is not ingestion
                ingestor = Ingestor(stack, batch_size=batch)
                wall = cpu = 0.0
                accepted = new_templates = embedded = 0
                for start in range(0, lines, batch):
                    chunk = list(events(min(batch, lines - start), start=start))
                    report, w, c = _timed(partial(ingestor.ingest_events, chunk))
                    wall, cpu = wall + w, cpu + c
                    accepted += report.accepted
                    new_templates += report.new_templates
                    embedded += report.embedded
                    if report.rejected:
                        raise AssertionError(f"bench events rejected: {report.rejected[:3]}")
                    say(f"pipeline {start + len(chunk):,}/{lines:,} lines")
                _, w, c = _timed(ingestor.flush)
                wall, cpu = wall + w, cpu + c
                # replaying a slice measures the duplicate path (dedup only, nothing written)
                replay = list(events(min(lines, 50_000)))
                dup_report, dup_wall, dup_cpu = _timed(partial(ingestor.ingest_events, replay))
                templates = stack.graph.count_nodes("LogTemplate")
                db_bytes = sum(p.stat().st_size for p in (root / "data").glob("sherlog.db*"))
            finally:
                stack.close()
        finally:
            server.stop()

        say("peer: bare bulk insert")
        peer = RelationalStore(f"sqlite:///{root / 'peer.db'}")
        try:
            p_wall = p_cpu = 0.0
            for start in range(0, lines, batch):
                rows = [
                    {
                        "ts": datetime.fromisoformat(e["ts"]),
                        "service": e["entity"]["service"],
                        "level": e["severity"],
                        "message": e["body"],
                        "ingest_key": e["ingest_id"],
                    }
                    for e in events(min(batch, lines - start), start=start)
                ]
                _, w, c = _timed(partial(peer.insert_log_lines, rows))
                p_wall, p_cpu = p_wall + w, p_cpu + c
        finally:
            peer.close()

    return {
        "lines": lines,
        "batch": batch,
        "accepted": accepted,
        "templates": templates,
        "new_templates": new_templates,
        "embedded_texts": embedded,
        "db_bytes": db_bytes,
        "pipeline": {
            "wall_s": wall,
            "cpu_s": cpu,
            "lines_per_s_wall": lines / wall if wall else 0.0,
            "lines_per_s_cpu": lines / cpu if cpu else 0.0,
        },
        "duplicates": {
            "lines": len(replay),
            "duplicates": dup_report.duplicates,
            "lines_per_s_wall": len(replay) / dup_wall if dup_wall else 0.0,
            "lines_per_s_cpu": len(replay) / dup_cpu if dup_cpu else 0.0,
        },
        "peer_bulk_insert": {
            "wall_s": p_wall,
            "cpu_s": p_cpu,
            "lines_per_s_wall": lines / p_wall if p_wall else 0.0,
            "lines_per_s_cpu": lines / p_cpu if p_cpu else 0.0,
        },
        "ratio_cpu": (p_cpu / cpu) if cpu else 0.0,
        "ratio_wall": (p_wall / wall) if wall else 0.0,
    }


def render(results: dict[str, Any], console: Console) -> None:
    """One table: pipeline, duplicate replay and the bare bulk insert, lines/s wall and CPU."""
    t = Table(
        title=f"Log ingestion, {results['lines']:,} lines (batch {results['batch']:,})",
        caption=(
            f"{results['templates']} templates, {results['embedded_texts']} texts embedded; "
            f"ratio = pipeline / bare insert lines/s: "
            f"CPU {results['ratio_cpu']:.2f}x, wall {results['ratio_wall']:.2f}x"
        ),
    )
    for col in ("path", "lines/s (CPU)", "lines/s (wall)"):
        t.add_column(col, justify="left" if col == "path" else "right")
    for name, key in (
        ("pipeline (Ingestor)", "pipeline"),
        ("duplicate replay", "duplicates"),
        ("peer: RelationalStore.insert_log_lines", "peer_bulk_insert"),
    ):
        block = results[key]
        t.add_row(name, f"{block['lines_per_s_cpu']:,.0f}", f"{block['lines_per_s_wall']:,.0f}")
    console.print(t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines", type=int, default=DEFAULT_LINES, help=f"log lines to ingest (default {DEFAULT_LINES:,})"
    )
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="events per ingest_events call")
    args = parser.parse_args(argv)
    if args.lines < 1 or args.batch < 1:
        parser.error("--lines and --batch must be positive")
    err = Console(stderr=True)
    with err.status("ingest bench ...") as status:
        results = run(args.lines, batch=args.batch, progress=status.update)
    render(results, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
