"""Latency of `Engine.ask` (no LLM) on a large graph: ≥ 5,000 entities, ≥ 1,000,000 ingested log lines.

The data: one cluster with 200 nodes and 1,800 workloads in four tiers (edge → api → core → data:
databases, caches, queues), each calling two or three workloads of the tiers below and running on
one or two nodes; two pods per service (3,400 pods, created by their pod-level metrics). Two hours
of telemetry through `core.ingest.Ingestor`: 1,000,000 log lines, golden-signal metrics per
workload, CPU and memory per pod, CPU and disk per node, alerts and a few deploys. Half an hour
before the end a database's connection pool runs out: its latency and errors climb, its callers
fail a minute later and log it, their callers after that. The built data dir is cached under
`bench-results/ask-data/` (FalkorDB's append-only file + SQLite), so reruns skip the build.

Timed: a fixed set of questions (root cause with and without a named service, status, what
changed, alerts, blast radius), each asked `repeats` times through a warmed engine, wall clock.
Peer, measured in the same run: the same root-cause questions answered the naive way, grepping the
raw `log_lines` for error words with SQL LIKE over the window and naming the service with the
most hits. Reported: p50/p95 of both, their ratio, and whether each names the injected cause.

    python -m eval.bench.ask [--repeats 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # BLAS threads fighting over 2 cores slow the embedder 30x

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from core.db.tables import LogLine
from core.engine import Engine
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.ingest import Ingestor
from core.knowledge.schema import short_name
from core.model import EntityRef, Question
from core.settings import GraphSettings, Settings
from core.sources.topology import from_static
from core.wiring import open_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_VERSION = "ask-bench-v1"
CLUSTER, NAMESPACE = "bench", "shop"
END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOURS = 2
STEP_S = 60
LOG_LINES = 1_000_000
N_NODES = 200
TIERS = (("edge", 100, "Service"), ("api", 600, "Service"), ("core", 700, "Service"))
DATA = (("db", 200, "Database"), ("cache", 100, "Cache"), ("mq", 100, "Queue"))
ROOT = "db-0007"
ONSET = END - timedelta(minutes=30)
_INFO = (
    "GET /api/{svc}/items/{n} 200 in {ms} ms",
    "POST /api/{svc}/orders 201 in {ms} ms user=u{u}",
    "cache hit for key item:{n}",
    "processed batch {n} in {ms} ms",
    "health check ok in {ms} ms",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- the synthetic world


def topology(seed: int = 1) -> dict[str, Any]:
    """Static topology: tiers call two or three workloads of the tiers below (seeded)."""
    rng = random.Random(seed)
    nodes = [f"node-{i:03d}" for i in range(N_NODES)]
    tiers: list[list[tuple[str, str]]] = [[(f"{p}-{i:04d}", k) for i in range(n)] for p, n, k in TIERS]
    data = [(f"{p}-{i:04d}", k) for p, n, k in DATA for i in range(n)]
    services: list[dict[str, Any]] = []
    below_of = [tiers[1] + tiers[2], tiers[2] + data, data]
    for t, tier in enumerate(tiers):
        for name, kind in tier:
            deps = rng.sample(below_of[t], rng.choice((2, 3)))
            services.append(
                {
                    "name": name,
                    "kind": kind,
                    "depends_on": sorted(d for d, _ in deps),
                    "runs_on": sorted(rng.sample(nodes, 2)),
                    "replicas": 2,
                }
            )
    for name, kind in data:
        services.append({"name": name, "kind": kind, "runs_on": [rng.choice(nodes)], "replicas": 1})
    # make the incident reachable from a named edge service through a known chain
    by_name = {s["name"]: s for s in services}
    by_name["edge-0001"]["depends_on"] = sorted({*by_name["edge-0001"]["depends_on"], "api-0001"})
    by_name["api-0001"]["depends_on"] = sorted({*by_name["api-0001"]["depends_on"], "core-0001"})
    by_name["core-0001"]["depends_on"] = sorted({*by_name["core-0001"]["depends_on"], ROOT})
    return {"cluster": CLUSTER, "namespace": NAMESPACE, "nodes": [{"name": n} for n in nodes], "services": services}


def affected_by_root(topo: dict[str, Any]) -> dict[str, int]:
    """Workloads that (transitively) call ROOT, with their distance in hops."""
    callers: dict[str, list[str]] = {}
    for s in topo["services"]:
        for d in s.get("depends_on", []):
            callers.setdefault(d, []).append(s["name"])
    dist = {ROOT: 0}
    todo = [ROOT]
    while todo:
        n = todo.pop(0)
        for c in sorted(callers.get(n, [])):
            if c not in dist:
                dist[c] = dist[n] + 1
                todo.append(c)
    return dist


def _ref(service: str | None = None, pod: str | None = None, node: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"cluster": CLUSTER, "namespace": NAMESPACE}
    if service:
        ref["service"] = service
    if pod:
        ref["pod"] = pod
    if node:
        ref["node"] = node
    return ref


def metric_events(topo: dict[str, Any], dist: dict[str, int], seed: int = 2) -> Iterator[dict[str, Any]]:
    """Golden signals per workload, CPU/memory per pod, CPU/disk per node, one sample a minute."""
    rng = random.Random(seed)
    start = END - timedelta(hours=HOURS)
    n = HOURS * 3600 // STEP_S
    for s in topo["services"]:
        name = s["name"]
        hop = dist.get(name)
        base_lat = rng.uniform(5, 200)
        base_rps = rng.uniform(5, 300)
        pods = [f"{name}-{k}" for k in range(s.get("replicas") or 1)]
        pod_base = [rng.uniform(0.1, 0.8) for _ in pods]
        for i in range(n):
            ts = start + timedelta(seconds=STEP_S * i)
            hit = hop is not None and ts >= ONSET + timedelta(seconds=60 * hop)
            lat = base_lat * rng.lognormvariate(0, 0.05) * (5.0 if hit and hop == 0 else 2.0 if hit else 1.0)
            err = max(0.0, rng.gauss(0.002, 0.0005)) + (0.3 if hit else 0.0)
            stamp = ts.isoformat()
            for metric, value in (
                ("latency_p99_ms", lat),
                ("http_error_ratio", err),
                ("http_requests_per_second", base_rps * rng.lognormvariate(0, 0.03)),
            ):
                yield {
                    "source": "bench/prometheus",
                    "kind": "metric",
                    "ts": stamp,
                    "entity": _ref(service=name),
                    "attributes": {"metric": metric, "value": round(value, 6)},
                    "ingest_id": f"m/{name}/{metric}/{i}",
                }
            if hop == 0:
                used = 30 + rng.gauss(0, 2) + (70 if hit else 0)
                yield {
                    "source": "bench/prometheus",
                    "kind": "metric",
                    "ts": stamp,
                    "entity": _ref(service=name),
                    "attributes": {"metric": "db_connections_in_use", "value": round(used, 2)},
                    "ingest_id": f"m/{name}/conns/{i}",
                }
            for k, pod in enumerate(pods):
                node = s["runs_on"][k % len(s["runs_on"])]
                for metric, value in (
                    ("cpu_usage_cores", pod_base[k] * rng.lognormvariate(0, 0.05)),
                    ("memory_working_set_bytes", 2e8 * (1 + pod_base[k]) * rng.lognormvariate(0, 0.01)),
                ):
                    yield {
                        "source": "bench/prometheus",
                        "kind": "metric",
                        "ts": stamp,
                        "entity": _ref(service=name, pod=pod, node=node),
                        "attributes": {"metric": metric, "value": round(value, 6)},
                        "ingest_id": f"m/{pod}/{metric}/{i}",
                    }
    for node in (x["name"] for x in topo["nodes"]):
        base = rng.uniform(0.2, 0.5)
        for i in range(n):
            at = (start + timedelta(seconds=STEP_S * i)).isoformat()
            for metric, value in (
                ("node_cpu_utilisation", base + rng.gauss(0, 0.01)),
                ("disk_used_ratio", 0.5 + rng.gauss(0, 0.001)),
            ):
                yield {
                    "source": "bench/node-exporter",
                    "kind": "metric",
                    "ts": at,
                    "entity": _ref(node=node),
                    "attributes": {"metric": metric, "value": round(value, 6)},
                    "ingest_id": f"m/{node}/{metric}/{i}",
                }


def log_events(
    topo: dict[str, Any], dist: dict[str, int], total: int = LOG_LINES, seed: int = 3
) -> Iterator[dict[str, Any]]:
    """`total` lines over the two hours, spread over all workloads; the incident's errors among them."""
    rng = random.Random(seed)
    names = [s["name"] for s in topo["services"]]
    start = END - timedelta(hours=HOURS)
    span = HOURS * 3600.0
    for i in range(total):
        ts = start + timedelta(seconds=span * i / total)
        svc = names[rng.randrange(len(names))]
        hop = dist.get(svc)
        level = "info"
        if hop is not None and ts >= ONSET + timedelta(seconds=60 * hop) and rng.random() < 0.5:
            if hop == 0:
                level, msg = "critical", "FATAL: sorry, too many clients already (connections in use 100/100)"
            else:
                level, msg = "error", f"query failed: timed out waiting for a connection to {ROOT} after 5000 ms"
        elif rng.random() < 0.003:
            level, msg = (
                "error",
                f"request {rng.randrange(10**6)} failed: upstream reset after {rng.randrange(10**4)} ms",
            )
        else:
            msg = _INFO[rng.randrange(len(_INFO))].format(
                svc=svc, n=rng.randrange(10**5), ms=rng.randrange(1, 900), u=rng.randrange(1000)
            )
        yield {
            "source": "bench/logs",
            "kind": "log",
            "ts": ts.isoformat(),
            "entity": _ref(service=svc),
            "severity": level,
            "body": f"{ts.isoformat(timespec='milliseconds')} {level.upper()} [{svc}] {msg}",
            "ingest_id": f"l/{i}",
        }


def other_events(dist: dict[str, int]) -> list[dict[str, Any]]:
    """Alerts on the failing workloads, and three deploys (one unrelated, two before the incident)."""
    out: list[dict[str, Any]] = []
    for name, hop in sorted(dist.items(), key=lambda kv: (kv[1], kv[0]))[:60]:
        starts = ONSET + timedelta(seconds=60 * hop + 180)
        alertname = "DBConnectionPoolExhausted" if hop == 0 else "HighErrorRate"
        out.append(
            {
                "source": "bench/alertmanager",
                "kind": "alert",
                "ts": starts.isoformat(),
                "entity": _ref(service=name),
                "severity": "critical",
                "body": f"[FIRING] {alertname} on {name}",
                "attributes": {
                    "alertname": alertname,
                    "status": "firing",
                    "labels": {"alertname": alertname, "severity": "critical", "service": name},
                    "annotations": {"summary": f"{alertname} on {name}"},
                    "startsAt": starts.isoformat(),
                },
                "ingest_id": f"a/{name}",
            }
        )
    for k, (svc, minutes) in enumerate((("api-0100", 95), ("core-0200", 50), ("edge-0050", 20))):
        ts = END - timedelta(minutes=minutes)
        out.append(
            {
                "source": "bench/deploys",
                "kind": "change",
                "ts": ts.isoformat(),
                "entity": _ref(service=svc),
                "body": f"Deploy {svc} v1.{k}.1",
                "attributes": {"change_type": "deploy", "version": f"v1.{k}.1", "previous_version": f"v1.{k}.0"},
                "ingest_id": f"c/{svc}",
            }
        )
    return out


# ---------------------------------------------------------------------------- build / reuse


def _settings(data_dir: Path, port: int) -> Settings:
    return Settings(
        data_dir=data_dir / "sherlog",
        graph=GraphSettings(uri=f"falkor://127.0.0.1:{port}", graph_name="askbench"),
    )


def build(data_dir: Path, port: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Ingest the synthetic world through the Ingestor; returns what was written."""
    settings = _settings(data_dir, port)
    stack = open_stack(settings)
    try:
        stack.graph.delete_all()
        ing = Ingestor(stack, defaults=EntityRef(cluster=CLUSTER, namespace=NAMESPACE), batch_size=20_000)
        topo = topology()
        dist = affected_by_root(topo)
        t0 = time.perf_counter()
        ing.ingest_topology(from_static(topo))
        progress("topology ingested; metrics ...")
        m = ing.ingest_events(metric_events(topo, dist))
        progress(f"{m.accepted:,} metric points ingested; logs ...")
        lines = 0
        chunk: list[dict[str, Any]] = []
        for ev in log_events(topo, dist):
            chunk.append(ev)
            if len(chunk) >= 100_000:
                lines += ing.ingest_events(chunk).accepted
                chunk = []
                progress(f"{lines:,} log lines ingested ...")
        lines += ing.ingest_events(chunk).accepted
        o = ing.ingest_events(other_events(dist))
        ing.flush()
        built = {
            "version": DATA_VERSION,
            "log_lines": lines,
            "metric_points": m.accepted,
            "other_events": o.accepted,
            "build_s": round(time.perf_counter() - t0, 1),
        }
        return built
    finally:
        stack.close()


def entity_counts(stack: Any) -> dict[str, int]:
    labels = ("Service", "Database", "Cache", "Queue", "Node", "Pod")
    return {label: stack.graph.count_nodes(label) for label in labels}


# ---------------------------------------------------------------------------- timing


QUESTIONS: tuple[tuple[str, str], ...] = (
    ("why", "why is edge-0001 failing?"),
    ("why", "why is api-0001 slow?"),
    ("why", "why is core-0001 throwing errors?"),
    ("why-no-entity", "why is the site failing?"),
    ("status", "status of api-0001"),
    ("what_changed", "what changed in the last 2h?"),
    ("alerts", "summarize alerts"),
    ("affected", f"who is affected by {ROOT}?"),
)

_ERROR_LIKE = ("%error%", "%fail%", "%timed out%", "%fatal%", "%exception%")


def naive_answer(stack: Any, since: datetime, until: datetime) -> tuple[str | None, int]:
    """The grep answer: the service with the most error-looking raw log lines in the window (SQL LIKE)."""
    t = LogLine.__table__  # type: ignore[attr-defined]
    cond = sa.or_(*[sa.func.lower(t.c.message).like(p) for p in _ERROR_LIKE])
    stmt = (
        sa.select(t.c.service, sa.func.count())
        .where(t.c.ts >= since, t.c.ts < until, cond)
        .group_by(t.c.service)
        .order_by(sa.func.count().desc(), t.c.service)
        .limit(3)
    )
    with stack.db.session() as s:
        rows = s.execute(stmt).all()
    return (str(rows[0][0]) if rows else None), int(rows[0][1]) if rows else 0


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, round(q * (len(v) - 1)))], 1) if v else 0.0


def run(
    *,
    repeats: int = 5,
    progress: Callable[[str], None] | None = None,
    out_dir: Path | None = None,
    rebuild: bool = False,
) -> dict[str, Any]:
    """Build (or reuse) the data, then time the questions; returns JSON-ready results."""
    say = progress or (lambda _m: None)
    data_dir = (out_dir or REPO_ROOT / "bench-results") / "ask-data"
    marker = data_dir / "built.json"
    if rebuild or not marker.exists() or json.loads(marker.read_text()).get("version") != DATA_VERSION:
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
    server = EmbeddedFalkorDB(data_dir / "falkordb", port=free_port())
    server.ensure_running()
    try:
        if not marker.exists():
            say("building the benchmark data (once; cached under bench-results/ask-data)")
            marker.write_text(json.dumps(build(data_dir, server.port, say)) + "\n")
        built = json.loads(marker.read_text())
        settings = _settings(data_dir, server.port)
        stack = open_stack(settings)
        try:
            counts = entity_counts(stack)
            engine = Engine(stack, settings)
            engine.warm_up()
            engine.ask(Question(text=QUESTIONS[0][1]), now=END)  # first-question costs (connections, caches)
            timings: dict[str, list[float]] = {kind: [] for kind, _ in QUESTIONS}
            tops: dict[str, str | None] = {}
            say("timing questions ...")
            for _ in range(repeats):
                for kind, text in QUESTIONS:
                    t = time.perf_counter()
                    answer = engine.ask(Question(text=text), now=END)
                    timings[kind].append((time.perf_counter() - t) * 1000.0)
                    if kind.startswith("why"):
                        tops[text] = short_name(answer.root_causes[0].entity) if answer.root_causes else None
            naive: list[float] = []
            naive_top: str | None = None
            since = END - timedelta(hours=1)
            for _ in range(repeats):
                for kind, _text in QUESTIONS:
                    if kind.startswith("why"):
                        t = time.perf_counter()
                        naive_top, _ = naive_answer(stack, since, END)
                        naive.append((time.perf_counter() - t) * 1000.0)
            all_ms = [v for vs in timings.values() for v in vs]
            why_ms = [v for k, vs in timings.items() if k.startswith("why") for v in vs]
        finally:
            stack.close()
    finally:
        server.stop()
    results = {
        "data": {**built, "entities": counts, "entities_total": sum(counts.values())},
        "repeats": repeats,
        "ask_ms": {"p50": _pct(all_ms, 0.5), "p95": _pct(all_ms, 0.95), "max": round(max(all_ms), 1), "n": len(all_ms)},
        "ask_by_kind_ms": {k: {"p50": _pct(v, 0.5), "p95": _pct(v, 0.95)} for k, v in timings.items()},
        "why_ms": {"p50": _pct(why_ms, 0.5), "p95": _pct(why_ms, 0.95)},
        "naive_ms": {"p50": _pct(naive, 0.5), "p95": _pct(naive, 0.95)},
        "ratio_naive_over_engine_p50": round(_pct(naive, 0.5) / max(_pct(why_ms, 0.5), 1e-9), 2),
        "engine_top_cause": tops,
        "naive_top_cause": short_name(naive_top) if naive_top else None,
        "true_root_cause": ROOT,
        "p95_under_1s": _pct(all_ms, 0.95) <= 1000.0,
    }
    return results


def render(results: dict[str, Any], console: Console) -> None:
    d = results["data"]
    console.print(
        f"graph: {d['entities_total']:,} entities ({', '.join(f'{k} {v:,}' for k, v in d['entities'].items())}); "
        f"{d['log_lines']:,} log lines, {d['metric_points']:,} metric points ingested"
    )
    t = Table(title=f"ask latency, no LLM ({results['repeats']} repeats per question)")
    for col in ("question kind", "p50 ms", "p95 ms"):
        t.add_column(col, justify="right" if col != "question kind" else "left")
    for kind, v in results["ask_by_kind_ms"].items():
        t.add_row(kind, f"{v['p50']:.0f}", f"{v['p95']:.0f}")
    a = results["ask_ms"]
    t.add_row("[bold]all[/]", f"[bold]{a['p50']:.0f}[/]", f"[bold]{a['p95']:.0f}[/]")
    console.print(t)
    n, w = results["naive_ms"], results["why_ms"]
    console.print(
        f"root-cause questions: engine p50 {w['p50']:.0f} ms / p95 {w['p95']:.0f} ms; naive SQL LIKE grep "
        f"p50 {n['p50']:.0f} ms / p95 {n['p95']:.0f} ms; "
        f"ratio naive/engine (p50) {results['ratio_naive_over_engine_p50']:.2f}"
    )
    console.print(
        f"true root cause {results['true_root_cause']}: "
        f"engine says {sorted(set(results['engine_top_cause'].values()), key=str)}, "
        f"naive grep says {results['naive_top_cause']}"
    )
    console.print(f"p95 ≤ 1 s: {'yes' if results['p95_under_1s'] else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.bench.ask", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached data")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results")
    args = ap.parse_args(argv)
    err = Console(stderr=True)
    results = run(repeats=args.repeats, progress=lambda m: err.print(m), out_dir=args.out, rebuild=args.rebuild)
    render(results, Console())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ask.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0 if results["p95_under_1s"] else 1


if __name__ == "__main__":
    sys.exit(main())
