"""An investigation: pick candidates, gather evidence in parallel, rank root causes.

Phase 1 (the graph): the focus's dependency neighbourhood (core.engine.gatherers.topology).
Phase 2 (parallel, each within its time budget): metrics, logs, alerts, changes, Kubernetes
events and the historical prior. Then the ranking (core.engine.rank). Phase 3 (parallel):
runbooks and similar past incidents for the top cause. A source that fails or runs over becomes
a caveat; the investigation always completes with whatever the other sources gave.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.db.tables import EventRecord, LogCount, MetricPoint
from core.engine.config import EngineConfig
from core.engine.diagnose import Diagnosis, diagnose
from core.engine.evidence import EvidenceBook, make_evidence
from core.engine.gather import Outcome, gather
from core.engine.gatherers import events as ev_gather
from core.engine.gatherers.knowledge import (
    Knowledge,
    PastIncident,
    find_runbooks,
    incidents_caused_by,
    similar_incidents,
)
from core.engine.gatherers.logs import LogScan, scan_logs
from core.engine.gatherers.metrics import MetricScan, scan_metrics
from core.engine.gatherers.topology import Neighbourhood, expand
from core.engine.linker import EntityCatalog
from core.engine.rank import ChangeRef, Ranking, priors_from_history, rank
from core.engine.signals import Signal, alert_signals, k8s_signals, log_signals_of, metric_signals
from core.engine.timewin import Window
from core.knowledge.schema import short_name
from core.model import EvidenceKind
from core.wiring import Stack

CHANGE_LOOKBACK = timedelta(hours=6)

SOURCE_NAMES = {
    "topology": "graph store (topology)",
    "metrics": "metrics",
    "logs": "logs",
    "alerts": "alerts",
    "changes": "changes",
    "k8s": "Kubernetes events",
    "history": "incident history",
    "runbooks": "runbooks",
    "similar": "similar incidents",
}


@dataclass
class Investigation:
    """Everything one investigation found."""

    window: Window
    focus: list[str]
    nb: Neighbourhood
    book: EvidenceBook = field(default_factory=EvidenceBook)
    ranking: Ranking | None = None
    metrics: MetricScan | None = None
    logs: LogScan | None = None
    alerts: list[ev_gather.AlertInfo] = field(default_factory=list)
    changes: list[ev_gather.ChangeInfo] = field(default_factory=list)
    change_evidence: dict[str, str] = field(default_factory=dict)  # change key → evidence id
    k8s: list[ev_gather.K8sInfo] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    blamed: dict[str, set[str]] = field(default_factory=dict)
    history: dict[str, list[PastIncident]] = field(default_factory=dict)
    diagnoses: dict[str, Diagnosis] = field(default_factory=dict)
    knowledge: Knowledge = field(default_factory=Knowledge)
    failed: dict[str, str] = field(default_factory=dict)  # source → reason
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    latest_data: datetime | None = None


def _fail(inv: Investigation, name: str, out: Outcome) -> None:
    inv.failed[name] = out.error or "failed"


_GENERIC_WORDS = frozenset(
    {"high", "low", "rate", "the", "its", "is", "it", "on", "of", "too", "kube", "pod", "node", "up"}
)


def name_words(text: str) -> set[str]:
    """Lower-case word stems of an alert name or a diagnosis (CamelCase and snake_case split, 4-letter stems)."""
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", text)
    return {p.lower()[:4] for p in parts if len(p) >= 3 and p.lower() not in _GENERIC_WORDS}


def latest_data_time(stack: Stack) -> datetime | None:
    """The newest telemetry timestamp (each an indexed MAX)."""
    from datetime import UTC

    best: datetime | None = None
    mp, lc, er = MetricPoint.__table__, LogCount.__table__, EventRecord.__table__  # type: ignore[attr-defined]
    with stack.db.session() as s:
        for stmt in (
            sa.select(sa.func.max(mp.c.ts)),
            sa.select(sa.func.max(lc.c.minute)),
            sa.select(sa.func.max(er.c.ts)),
        ):
            v = s.execute(stmt).scalar()
            if v is None:
                continue
            if isinstance(v, str):
                v = datetime.fromisoformat(v)
            v = v.replace(tzinfo=UTC) if v.tzinfo is None else v
            best = v if best is None or v > best else best
    return best


def seeds_from_signals(stack: Stack, window: Window, limit: int) -> list[str]:
    """Entities with alerts or error-level logs in the window: where to start when nobody named one."""
    er, lc = EventRecord.__table__, LogCount.__table__  # type: ignore[attr-defined]
    scores: dict[str, float] = {}
    with stack.db.session() as s:
        for entity, n in s.execute(
            sa.select(er.c.entity_id, sa.func.count())
            .where(er.c.kind == "alert", er.c.ts >= window.since, er.c.ts < window.until, er.c.entity_id.is_not(None))
            .group_by(er.c.entity_id)
        ):
            scores[entity] = scores.get(entity, 0.0) + 10.0 * n
        for entity, n in s.execute(
            sa.select(lc.c.entity_id, sa.func.sum(lc.c.count))
            .where(lc.c.minute >= window.since, lc.c.minute < window.until, lc.c.level.in_(["error", "critical"]))
            .group_by(lc.c.entity_id)
        ):
            scores[entity] = scores.get(entity, 0.0) + float(n or 0)
    return [e for e, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


class Investigator:
    """Runs investigations against one Stack."""

    def __init__(self, stack: Stack, config: EngineConfig) -> None:
        self.stack = stack
        self.config = config

    # ------------------------------------------------------------------ phase 1
    def neighbourhood(
        self, catalog: EntityCatalog, focus: list[str], window: Window, inv_failed: dict[str, str]
    ) -> Neighbourhood:
        cfg = self.config
        if focus:
            out = gather(
                {
                    "topology": lambda: expand(
                        self.stack.graph, catalog, focus, depth=cfg.dependency_depth, limit=cfg.max_candidates
                    )
                },
                cfg.gather_timeout_s,
            )["topology"]
            if out.ok:
                nb: Neighbourhood = out.value
                return nb
            inv_failed["topology"] = out.error or "failed"
            return Neighbourhood(focus=list(focus), candidates=list(focus), depth={f: 0 for f in focus})
        workloads = [e.id for e in catalog.entries if not e.is_infra]
        if len(workloads) < cfg.scan_all_workloads_below:
            roots = workloads
        else:
            out = gather({"seeds": lambda: seeds_from_signals(self.stack, window, 10)}, cfg.gather_timeout_s)["seeds"]
            roots = out.value if out.ok else []
        if not roots:
            return Neighbourhood(focus=[], candidates=[])
        out = gather(
            {
                # many roots (a large graph, nothing named): their direct dependencies are enough
                "topology": lambda: expand(
                    self.stack.graph,
                    catalog,
                    roots,
                    depth=1 if len(roots) > 5 and len(roots) < len(workloads) else cfg.dependency_depth,
                    limit=max(cfg.max_candidates, len(roots) + 10),
                )
            },
            cfg.gather_timeout_s,
        )["topology"]
        if out.ok:
            nb = out.value
            nb.focus = []
            return nb
        inv_failed["topology"] = out.error or "failed"
        return Neighbourhood(focus=[], candidates=list(roots), depth={r: 0 for r in roots})

    # ------------------------------------------------------------------ phases 2 and 3
    def run(
        self,
        catalog: EntityCatalog,
        focus: list[str],
        window: Window,
        *,
        graph_ok: bool = True,
        with_knowledge: bool = True,
        query_text: str = "",
        neighbourhood: Neighbourhood | None = None,
    ) -> Investigation:
        """Investigate around `focus` (or over the given `neighbourhood`, without expanding it)."""
        cfg = self.config
        t0 = time.perf_counter()
        failed: dict[str, str] = {}
        if neighbourhood is not None:
            nb = neighbourhood
        elif graph_ok:
            nb = self.neighbourhood(catalog, focus, window, failed)
        else:
            # no graph: no dependencies to follow, so every entity with telemetry is a candidate
            others = [e.id for e in catalog.entries if e.id not in set(focus)]
            nb = Neighbourhood(
                focus=list(focus),
                candidates=(list(focus) + others)[: max(cfg.max_candidates, len(focus))],
                depth={f: 0 for f in focus},
            )
        inv = Investigation(window=window, focus=list(focus), nb=nb, failed=failed)
        inv.timings_ms["topology"] = (time.perf_counter() - t0) * 1000
        pods = [p.id for ps in nb.pods.values() for p in ps]
        metric_ids = list(nb.candidates) + pods
        baseline_since = window.since - cfg.baseline
        db = self.stack.db
        graph = self.stack.graph if graph_ok else None
        related = sorted(set(nb.candidates) | set(pods))
        # only candidates can be blamed, so only their names are looked for in error lines
        nameable = [e for c in nb.candidates if (e := catalog.get(c)) is not None]
        tasks: dict[str, Callable[[], Any]] = {
            "metrics": lambda: scan_metrics(
                db,
                metric_ids,
                baseline_since=baseline_since,
                since=window.since,
                until=window.until,
                params=cfg.anomaly,
            ),
            "logs": lambda: scan_logs(
                db, graph, related, since=window.since, until=window.until, baseline=cfg.baseline, nameable=nameable
            ),
            "alerts": lambda: ev_gather.alerts_in_window(
                db, since=window.since, until=window.until, entity_ids=related
            ),
            "changes": lambda: ev_gather.changes_in_window(
                db, since=window.since - CHANGE_LOOKBACK, until=window.until, entity_ids=related
            ),
            "k8s": lambda: ev_gather.k8s_in_window(db, since=window.since, until=window.until, entity_ids=related),
        }
        if graph is not None and nb.candidates:
            tasks["history"] = lambda: incidents_caused_by(graph, catalog, nb.candidates)
        t1 = time.perf_counter()
        outs = gather(tasks, cfg.gather_timeout_s)
        inv.timings_ms["gather"] = (time.perf_counter() - t1) * 1000
        for name, out in outs.items():
            inv.timings_ms[name] = out.elapsed_ms
            if not out.ok:
                _fail(inv, name, out)
        inv.metrics = outs["metrics"].value if outs["metrics"].ok else None
        inv.logs = outs["logs"].value if outs["logs"].ok else None
        inv.alerts = outs["alerts"].value if outs["alerts"].ok else []
        inv.changes = outs["changes"].value if outs["changes"].ok else []
        inv.k8s = outs["k8s"].value if outs["k8s"].ok else []
        inv.history = outs["history"].value if "history" in outs and outs["history"].ok else {}
        if inv.metrics is not None:
            inv.notes.extend(inv.metrics.notes)
        if inv.logs is not None:
            inv.notes.extend(inv.logs.notes)
        self._rank(inv, catalog)
        if with_knowledge and inv.ranking is not None:
            self._knowledge(inv, catalog, graph, query_text)
        inv.timings_ms["investigation"] = (time.perf_counter() - t0) * 1000
        return inv

    def _rank(self, inv: Investigation, catalog: EntityCatalog) -> None:
        nb, book = inv.nb, inv.book
        pod_owner = nb.pod_owner()
        pod_node = {p.id: p.node for ps in nb.pods.values() for p in ps}
        signals: list[Signal] = []
        if inv.metrics is not None:
            signals += metric_signals(inv.metrics, book, pod_owner, pod_node)
        if inv.logs is not None:
            log_sigs, inv.blamed = log_signals_of(inv.logs, book, pod_owner)
            signals += log_sigs
        signals += alert_signals(inv.alerts, book, pod_owner)
        signals += k8s_signals(inv.k8s, book, pod_owner)
        inv.signals = signals
        changes: list[ChangeRef] = []
        for ch in inv.changes:
            if ch.entity is None:
                continue
            owner = pod_owner.get(ch.entity, ch.entity)
            who = f" by {ch.author}" if ch.author else ""
            ver = f" {ch.version}" if ch.version else ""
            prev = f" (previous {ch.previous_version})" if ch.previous_version else ""
            text = (
                f"{ch.change_type} of {short_name(owner)}{ver}{prev} at {ch.ts:%H:%M:%S} UTC{who}: "
                f"{ch.description[:200]}"
            )
            ev = book.add(
                make_evidence(
                    EvidenceKind.CHANGE,
                    owner,
                    text,
                    key=(ch.key,),
                    ts=ch.ts,
                    attributes={"change_type": ch.change_type, "version": ch.version, "author": ch.author},
                )
            )
            inv.change_evidence[ch.key] = ev
            changes.append(ChangeRef(owner, ch.ts.timestamp(), ev))
        ranking = rank(nb.candidates, signals, nb.edges(), changes=changes, blamed=inv.blamed)
        # the prior needs each candidate's failure mode, which needs the first ranking's signals
        change_types: dict[str, list[str]] = {}
        for ch in inv.changes:
            if ch.entity is not None:
                change_types.setdefault(pod_owner.get(ch.entity, ch.entity), []).append(ch.change_type)
        caller_texts = self._caller_texts(inv)
        for c in ranking.candidates:
            if c.anomalous:
                entry = catalog.get(c.id)
                kind = entry.kind if entry else ("Node" if c.id.startswith("node:") else "Service")
                inv.diagnoses[c.id] = diagnose(
                    c, kind=kind, caller_texts=caller_texts.get(c.id, []), change_types=change_types.get(c.id, [])
                )
        if inv.history:
            prior = priors_from_history(inv.history, {k: d.kind for k, d in inv.diagnoses.items()})
            ranking = rank(nb.candidates, signals, nb.edges(), changes=changes, prior=prior, blamed=inv.blamed)
        inv.ranking = ranking

    def _caller_texts(self, inv: Investigation) -> dict[str, list[str]]:
        """For each blamed entity, the error texts of the callers that name it."""
        out: dict[str, list[str]] = {}
        if inv.logs is None:
            return out
        for i, sig in enumerate(inv.logs.signals):
            for named in inv.logs.mentions.get(i, []):
                out.setdefault(named, []).append(" ".join([sig.template, *sig.samples]))
        return out

    def _knowledge(self, inv: Investigation, catalog: EntityCatalog, graph: Any, query_text: str) -> None:
        assert inv.ranking is not None
        top = [c for c in inv.ranking.top(3) if c.anomalous]
        # the top cause's own alerts first: their runbooks are about the cause, not a symptom. Within each
        # group, alerts whose name speaks of the diagnosed failure come first (DNSLookupFailures for a DNS
        # failure), then the most specific: an alert firing on many entities (HighErrorRate) describes the
        # spreading symptom, one firing only here (DBConnectionPoolExhausted) describes the cause
        spread: dict[str, set[str | None]] = {}
        for a in inv.alerts:
            spread.setdefault(a.alertname, set()).add(a.entity)
        d = inv.diagnoses.get(top[0].id) if top else None
        words = name_words(f"{d.kind} {d.label}") if d else set()

        def order(a: ev_gather.AlertInfo) -> tuple[int, int, int, datetime, str]:
            return (-len(name_words(a.alertname) & words), len(spread[a.alertname]), -a.rank, a.starts_at, a.alertname)

        own_alerts = sorted((a for c in top[:1] for a in inv.alerts if a.entity == c.id and a.rank >= 1), key=order)
        own = [a.alertname for a in own_alerts]
        others = [
            a.alertname for a in sorted((a for a in inv.alerts if a.status == "firing" and a.rank >= 1), key=order)
        ]
        sig = self.signature(inv, catalog) or query_text
        if graph is None:
            inv.failed.setdefault("runbooks", "graph store unreachable")
            return
        stack = self.stack

        def vec_or_none() -> tuple[Any, Any]:
            try:
                return stack.vectors, stack.embedder
            except Exception:  # a vector store that cannot be built: exact runbook matches still work
                return None, None

        def runbooks() -> Any:
            v, e = vec_or_none()
            return find_runbooks(graph, v, e, alert_groups=[own, others], query=sig, k=3)

        best = top[0] if top else None
        kind = inv.diagnoses[best.id].kind if best is not None and best.id in inv.diagnoses else None
        caused = inv.history.get(best.id, []) if best is not None else []

        def similar() -> Any:
            # incidents this very entity caused before come first (same failure mode ahead), then the
            # resolved incidents whose stored signature is closest to this one
            own = sorted(caused, key=lambda p: (p.fault_kind != kind, -(p.opened_at or 0.0), p.id))
            own = [replace(p, score=1.0 if p.fault_kind == kind else 0.8) for p in own]
            found = similar_incidents(graph, stack.vectors, stack.embedder, sig, k=3)
            seen = {p.id for p in own}
            return (own + [p for p in found if p.id not in seen])[:3]

        outs = gather({"runbooks": runbooks, "similar": similar}, self.config.gather_timeout_s)
        for name, out in outs.items():
            inv.timings_ms[name] = out.elapsed_ms
            if not out.ok:
                _fail(inv, name, out)
        inv.knowledge = Knowledge(
            runbooks=outs["runbooks"].value if outs["runbooks"].ok else [],
            similar=outs["similar"].value if outs["similar"].ok else [],
        )

    def signature(self, inv: Investigation, catalog: EntityCatalog) -> str:
        """Words describing the top cause: entity, failure mode, its strongest signals."""
        if inv.ranking is None or not inv.ranking.candidates or not inv.ranking.candidates[0].anomalous:
            return ""
        c = inv.ranking.candidates[0]
        entry = catalog.get(c.id)
        name = entry.name if entry else short_name(c.id)
        d = inv.diagnoses.get(c.id)
        parts = [name, entry.kind if entry else "", d.kind.replace("_", " ") if d else "", d.label if d else ""]
        parts += [s.detail for s in c.top_signals(4)]
        return " ".join(p for p in parts if p)
