"""One answer builder per intent, and what the thread remembers afterwards.

`why` (and `status`, `affected`) run an investigation; `what_changed`, `alerts` and `runbook` read
the event records and the runbook index directly; `compare` contrasts two windows. Each builds a
template-narrated Answer whose sentences cite evidence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from core.engine.answer import (
    Draft,
    caveats_for,
    cite,
    coverage_evidence,
    draft_why,
    runbook_evidence,
    to_answer,
)
from core.engine.evidence import make_evidence
from core.engine.gather import describe_error, gather
from core.engine.gatherers import events as ev_gather
from core.engine.gatherers.knowledge import RunbookHit, find_runbooks
from core.engine.gatherers.metrics import metric_family, read_points
from core.engine.gatherers.topology import Neighbourhood, dependents_closure, expand
from core.engine.investigate import Investigation, Investigator, latest_data_time
from core.engine.memory import ThreadState
from core.engine.timewin import Window, describe
from core.engine.understand import Intent
from core.knowledge.schema import short_name
from core.model import Answer, EvidenceKind, RunbookRef
from core.wiring import Stack

if TYPE_CHECKING:
    from core.engine.engine import Context

# any word may be an alert name; the runbook index's exact alias match decides which ones are
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{2,}")


def answer(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    """Dispatch on the intent."""
    builders = {
        Intent.WHY: _why,
        Intent.STATUS: _status,
        Intent.AFFECTED: _affected,
        Intent.WHAT_CHANGED: _what_changed,
        Intent.ALERTS: _alerts,
        Intent.RUNBOOK: _runbook,
        Intent.COMPARE: _compare,
    }
    return builders[ctx.intent](ctx, inv, stack)


def _finish(ctx: Context, draft: Draft) -> Answer:
    """Prefix "I don't know X — did you mean Y?" when a name was not understood, then build the Answer."""
    if ctx.focus.unknown_sentences and ctx.focus.unknown_evidence:
        lead = " ".join(ctx.focus.unknown_sentences)
        known = f"No entity in the graph has {'that name' if len(ctx.focus.unknown_sentences) == 1 else 'those names'}"
        draft.summary = f"{lead} {known}{cite(ctx.focus.unknown_evidence)}. What I can see: {draft.summary}"
        draft.evidence_ids.insert(0, ctx.focus.unknown_evidence)
    return to_answer(ctx.question.text, ctx.intent.value, draft, ctx.book, ctx.max_evidence)


def _investigate(
    ctx: Context, inv: Investigator, *, with_knowledge: bool, neighbourhood: Neighbourhood | None = None
) -> Investigation:
    result = inv.run(
        ctx.catalog,
        ctx.focus.ids,
        ctx.window,
        graph_ok=ctx.graph_ok,
        with_knowledge=with_knowledge,
        query_text=ctx.understanding.text,
        neighbourhood=neighbourhood,
    )
    # the investigation's evidence joins the question's (the catalog item of an unknown name, ...)
    for e in ctx.book.items():
        result.book.add(e)
    ctx.book = result.book
    if result.metrics is not None and result.metrics.points == 0 and not result.alerts:
        try:
            result.latest_data = latest_data_time(inv.stack)
        except Exception as e:  # only decoration for the "no data" answer
            ctx.caveats.append(f"could not look up the newest data time: {describe_error(e)}")
    return result


def _why(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    result = _investigate(ctx, inv, with_knowledge=True)
    draft = draft_why(result, ctx.names, ctx.focus.ids)
    _add_hints(ctx, result, draft)
    ctx.last = result
    return _finish(ctx, draft)


def _add_hints(ctx: Context, result: Investigation, draft: Draft) -> None:
    """For a question that names a topic ("memory", "cpu", ...), one cited sentence per focus entity about it."""
    hints = [h for h in ctx.understanding.hints if h in ("memory", "cpu", "disk", "network", "restarts")]
    if not hints or result.metrics is None or not ctx.focus.ids:
        return
    sentences = []
    for entity in ctx.focus.ids[:3]:
        for hint in hints[:2]:
            series = [a for a in result.metrics.of(entity) if a.family == hint and a.scored]
            if not series:
                continue
            a = max(series, key=lambda x: (x.strength, x.metric))
            state = "abnormal" if a.is_anomalous and a.strength >= 8 else "normal"
            ev = result.book.add(
                make_evidence(
                    EvidenceKind.METRIC,
                    entity,
                    f"{ctx.names.name(entity)}: {a.metric} peaked at {a.peak_value:.4g} "
                    f"(baseline {a.baseline_median:.4g}, "
                    f"robust z {a.peak_z:+.1f})",
                    key=(entity, a.metric, "hint", ctx.window.since, ctx.window.until),
                    ts=datetime.fromtimestamp(a.peak_time, UTC) if a.peak_time else None,
                    score=a.strength,
                    attributes={"metric": a.metric, "family": a.family},
                )
            )
            sentences.append(
                f"{hint.capitalize()} on {ctx.names.name(entity)} looks {state}: {a.metric} peaked at "
                f"{a.peak_value:.4g} against a baseline of {a.baseline_median:.4g}{cite(ev)}."
            )
            draft.evidence_ids.append(ev)
    if sentences:
        draft.summary = " ".join(sentences) + " " + draft.summary


def _status(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    result = _investigate(ctx, inv, with_knowledge=False)
    draft = draft_why(result, ctx.names, ctx.focus.ids)
    ranking = result.ranking
    focus = ctx.focus.ids
    if ranking is not None and focus:
        by_id = {c.id: c for c in ranking.candidates}
        parts = []
        for f in focus[:5]:
            c = by_id.get(f)
            if c is not None and c.anomalous:
                sig = c.top_signals(1)
                parts.append(f"{ctx.names.name(f)} is degraded{cite(*(s.evidence_id for s in sig))}.")
            else:
                parts.append(
                    f"{ctx.names.name(f)} looks healthy in {describe(ctx.window)}"
                    f"{cite(coverage_evidence(result, ctx.names))}."
                )
        draft.summary = " ".join(parts) + (" " + draft.summary if draft.causes else "")
    ctx.last = result
    return _finish(ctx, draft)


def _affected(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    roots = ctx.focus.ids or ([ctx.state.root_cause] if ctx.state and ctx.state.root_cause else [])
    if not roots:
        first = _investigate(ctx, inv, with_knowledge=False)
        if first.ranking and first.ranking.candidates and first.ranking.candidates[0].anomalous:
            roots = [first.ranking.candidates[0].id]
    if not roots or not ctx.graph_ok:
        draft = Draft(summary="", caveats=[])
        result = _investigate(ctx, inv, with_knowledge=False)
        cov = coverage_evidence(result, ctx.names)
        why = "the graph store is unreachable" if not ctx.graph_ok else "I found no failing component to start from"
        draft.summary = f"I cannot tell who is affected: {why}{cite(cov)}."
        draft.caveats = caveats_for(result)
        return _finish(ctx, draft)
    dist = dependents_closure(stack.graph, ctx.catalog, roots, depth=inv.config.dependency_depth)
    dependents = [d for d in sorted(dist, key=lambda d: (dist[d], d)) if d not in roots]
    nb = Neighbourhood(focus=roots, candidates=roots + dependents, depth=dist)
    result = _investigate(ctx, inv, with_knowledge=False, neighbourhood=nb)
    ranking = result.ranking
    anomalous = {c.id: c for c in (ranking.candidates if ranking else []) if c.anomalous}
    hit = [d for d in dependents if d in anomalous]
    draft = Draft(summary="", caveats=caveats_for(result))
    cov = coverage_evidence(result, ctx.names)
    root_names = ctx.names.join(roots)
    if not dependents:
        draft.summary = f"Nothing in the graph depends on {root_names}{cite(cov)}."
    elif not hit:
        draft.summary = (
            f"{len(dependents)} components depend on {root_names}, and none of them is misbehaving "
            f"in {describe(ctx.window)}{cite(cov)}."
        )
    else:
        ids = [anomalous[h].top_signals(1)[0].evidence_id for h in hit[:5] if anomalous[h].signals]
        draft.summary = (
            f"{len(hit)} of the {len(dependents)} components that depend on {root_names} are affected: "
            f"{ctx.names.join(hit, 8)}{cite(*ids)}."
        )
        draft.evidence_ids += ids
    draft.causal_path = [ctx.names.name(r) for r in roots] + [ctx.names.name(h) for h in hit[:5]]
    draft.evidence_ids.append(cov)
    ctx.last = result
    return _finish(ctx, draft)


def _what_changed(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    focus = ctx.focus.ids
    related: list[str] | None = None
    if focus and ctx.graph_ok:
        out = gather(
            {"topology": lambda: expand(stack.graph, ctx.catalog, focus, depth=2, limit=40)},
            inv.config.gather_timeout_s,
        )["topology"]
        related = out.value.candidates if out.ok else list(focus)
        if not out.ok:
            ctx.caveats.append(f"graph store unreachable: {out.error}")
    elif focus:
        related = list(focus)
    outs = gather(
        {
            "changes": lambda: ev_gather.changes_in_window(
                stack.db, since=ctx.window.since, until=ctx.window.until, entity_ids=related
            ),
            "k8s": lambda: ev_gather.k8s_in_window(
                stack.db, since=ctx.window.since, until=ctx.window.until, entity_ids=related
            ),
        },
        inv.config.gather_timeout_s,
    )
    draft = Draft(summary="")
    for name, out in outs.items():
        if not out.ok:
            draft.caveats.append(f"{name} unavailable: {out.error}")
    changes = outs["changes"].value if outs["changes"].ok else []
    k8s = [
        k
        for k in (outs["k8s"].value if outs["k8s"].ok else [])
        if k.reason in ("ScalingReplicaSet", "Killing", "Scheduled", "SuccessfulCreate")
    ]
    where = f" for {ctx.names.join(focus)} and its dependencies" if focus else ""
    ids = []
    for ch in changes[-20:]:
        who = f" by {ch.author}" if ch.author else ""
        ver = f" {ch.version}" if ch.version else ""
        owner = ch.entity
        ids.append(
            ctx.book.add(
                make_evidence(
                    EvidenceKind.CHANGE,
                    owner,
                    f"{ch.change_type} of {ctx.names.name(owner) if owner else 'unknown'}{ver} "
                    f"at {ch.ts:%Y-%m-%d %H:%M:%S} UTC{who}: {ch.description[:200]}",
                    key=(ch.key,),
                    ts=ch.ts,
                )
            )
        )
    rollout_ids = []
    for k in k8s[-10:]:
        rollout_ids.append(
            ctx.book.add(
                make_evidence(
                    EvidenceKind.K8S_EVENT,
                    k.entity,
                    f"Kubernetes {k.reason} on {ctx.names.name(k.entity) if k.entity else 'cluster'} "
                    f"at {k.ts:%H:%M:%S} UTC: {k.message[:200]}",
                    key=(k.key,),
                    ts=k.ts,
                )
            )
        )
    if changes:
        listing = "; ".join(
            f"{c.change_type} of {ctx.names.name(c.entity) if c.entity else '?'}"
            f"{(' ' + c.version) if c.version else ''} at {c.ts:%H:%M} UTC{cite(i)}"
            for c, i in zip(changes[-5:], ids[-5:], strict=False)
        )
        draft.summary = (
            f"{len(changes)} change{'s' if len(changes) != 1 else ''}{where} in {describe(ctx.window)}: {listing}."
        )
    else:
        cov = ctx.book.add(
            make_evidence(
                EvidenceKind.CHANGE,
                None,
                f"no change events{where} in {describe(ctx.window)}",
                key=("no-changes", ctx.window.since, ctx.window.until, tuple(focus)),
            )
        )
        draft.summary = f"No deploys or config changes were recorded{where} in {describe(ctx.window)}{cite(cov)}."
        ids.append(cov)
    draft.evidence_ids = ids + rollout_ids
    return _finish(ctx, draft)


def _alerts(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    focus = ctx.focus.ids or None
    out = gather(
        {
            "alerts": lambda: ev_gather.alerts_in_window(
                stack.db, since=ctx.window.since, until=ctx.window.until, entity_ids=focus
            )
        },
        inv.config.gather_timeout_s,
    )["alerts"]
    draft = Draft(summary="")
    if not out.ok:
        draft.summary = f"I could not read the alerts: {out.error}."
        draft.caveats.append(f"alerts unavailable: {out.error}")
        return _finish(ctx, draft)
    alerts = [a for a in out.value if a.rank >= 1]
    info = len(out.value) - len(alerts)
    groups: dict[str, list[ev_gather.AlertInfo]] = {}
    for a in alerts:
        groups.setdefault(a.alertname, []).append(a)
    parts = []
    for name, items in sorted(groups.items(), key=lambda kv: (-max(a.rank for a in kv[1]), kv[0])):
        ids = []
        for a in items[:6]:
            ids.append(
                ctx.book.add(
                    make_evidence(
                        EvidenceKind.ALERT,
                        a.entity,
                        f"alert {a.alertname} ({a.severity}) on "
                        f"{ctx.names.name(a.entity) if a.entity else 'cluster'} since "
                        f"{a.starts_at:%H:%M} UTC, {a.status}" + (f": {a.summary}" if a.summary else ""),
                        key=(a.fingerprint, a.starts_at),
                        ts=a.starts_at,
                        link=a.runbook_url,
                    )
                )
            )
        firing = sum(1 for a in items if a.status == "firing")
        on = ctx.names.join([a.entity for a in items if a.entity], 5)
        parts.append(f"{name} ({items[0].severity}, {firing} firing) on {on}{cite(*ids)}")
        draft.evidence_ids += ids
    where = f" on {ctx.names.join(ctx.focus.ids)}" if ctx.focus.ids else ""
    if parts:
        draft.summary = (
            f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}{where} in {describe(ctx.window)}: "
            + "; ".join(parts)
            + "."
        )
    else:
        cov = ctx.book.add(
            make_evidence(
                EvidenceKind.ALERT,
                None,
                f"no warning or critical alerts{where} in {describe(ctx.window)} ({info} info-level)",
                key=("no-alerts", ctx.window.since, ctx.window.until, tuple(ctx.focus.ids)),
            )
        )
        draft.summary = f"No warning or critical alerts{where} in {describe(ctx.window)}{cite(cov)}."
        draft.evidence_ids.append(cov)
    if ctx.graph_ok and groups:
        rb = gather(
            {"runbooks": lambda: find_runbooks(stack.graph, None, None, alert_groups=[list(groups)], query="", k=3)},
            inv.config.gather_timeout_s,
        )["runbooks"]
        if rb.ok:
            for r in rb.value:
                draft.runbooks.append(_runbook_ref(r))
                draft.evidence_ids.append(runbook_evidence(ctx.book, r))
    return _finish(ctx, draft)


def _runbook_ref(r: RunbookHit) -> RunbookRef:
    return RunbookRef(id=r.id, title=r.title, url=r.url, excerpt=r.excerpt, score=round(r.score, 4))


def _runbook(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    """The runbook for an alert named in the question, else for the focus's (or the thread's cause's) alerts."""
    words = list(dict.fromkeys(_WORD.findall(ctx.question.text)))
    draft = Draft(summary="")
    about = list(ctx.focus.ids) or ([ctx.state.root_cause] if ctx.state is not None and ctx.state.root_cause else [])
    alert_names: list[str] = []
    if about:
        out = gather(
            {
                "alerts": lambda: ev_gather.alerts_in_window(
                    stack.db, since=ctx.window.since, until=ctx.window.until, entity_ids=about
                )
            },
            inv.config.gather_timeout_s,
        )["alerts"]
        if out.ok:
            alert_names = [a.alertname for a in out.value if a.rank >= 1]
        else:
            draft.caveats.append(f"alerts unavailable: {out.error}")
    if not ctx.graph_ok:
        draft.summary = "I cannot look up runbooks: the graph store is unreachable."
        return _finish(ctx, draft)

    def search() -> object:
        try:
            v, e = stack.vectors, stack.embedder
        except Exception:  # no vector index: exact alert-name matches only
            v, e = None, None
        return find_runbooks(stack.graph, v, e, alert_groups=[words, alert_names], query=ctx.understanding.text, k=3)

    out = gather({"runbooks": search}, inv.config.gather_timeout_s)["runbooks"]
    if not out.ok:
        draft.summary = f"I could not search the runbooks: {out.error}."
        draft.caveats.append(f"runbooks unavailable: {out.error}")
        return _finish(ctx, draft)
    hits = out.value
    if not hits:
        draft.summary = "I found no runbook for this question."
        return _finish(ctx, draft)
    for r in hits:
        draft.runbooks.append(_runbook_ref(r))
        draft.evidence_ids.append(runbook_evidence(ctx.book, r))
    best = hits[0]
    ev = draft.evidence_ids[0]
    how = (
        f"it is the runbook of the alert {best.reason.split(':', 1)[1]}"
        if best.reason.startswith("alert:")
        else "it matches the question best"
    )
    draft.summary = f"Follow the runbook {best.title}: {how}{cite(ev)}."
    draft.next_steps = [f"{s} (runbook {best.title})" for s in best.mitigation]
    return _finish(ctx, draft)


def _compare(ctx: Context, inv: Investigator, stack: Stack) -> Answer:
    """This window against the one before it (same length), per metric series of the focus."""
    w = ctx.window
    length = w.until - w.since
    text = ctx.question.text.lower()
    shift = timedelta(days=1) if "yesterday" in text else timedelta(days=7) if "last week" in text else length
    other = Window(w.since - shift, w.until - shift, "the window before")
    focus = ctx.focus.ids or [e.id for e in ctx.catalog.entries if not e.is_infra][:20]
    draft = Draft(summary="")
    try:
        now_pts = read_points(stack.db, focus, w.since, w.until)
        then_pts = read_points(stack.db, focus, other.since, other.until)
    except Exception as e:
        draft.summary = f"I could not read the metrics: {describe_error(e)}."
        draft.caveats.append(f"metrics unavailable: {describe_error(e)}")
        return _finish(ctx, draft)
    rows = []
    for key in sorted(set(now_pts) & set(then_pts)):
        a, b = np.median(then_pts[key][1]), np.median(now_pts[key][1])
        spread = float(np.percentile(then_pts[key][1], 75) - np.percentile(then_pts[key][1], 25)) / 1.349
        scale = max(spread, abs(a) * 0.01, 1e-9)
        rows.append(((b - a) / scale, key, a, b))
    rows.sort(key=lambda r: (-abs(r[0]), r[1]))
    ids = []
    for z, (entity, metric), a, b in rows[:5]:
        change = f"{(b - a) / a:+.0%}" if a else "new"
        ids.append(
            ctx.book.add(
                make_evidence(
                    EvidenceKind.METRIC,
                    entity,
                    f"{short_name(entity)}: {metric} median {a:.4g} → {b:.4g} ({change}, {metric_family(metric)})",
                    key=(entity, metric, "compare", w.since, other.since),
                    score=abs(float(z)),
                )
            )
        )
    if not rows:
        cov = ctx.book.add(
            make_evidence(
                EvidenceKind.METRIC,
                None,
                f"no metric series present in both {describe(w)} and {describe(other)}",
                key=("compare-empty", w.since, other.since),
            )
        )
        draft.summary = f"I have no metrics in both windows to compare{cite(cov)}."
        ids.append(cov)
    else:
        top = "; ".join(
            f"{short_name(e)} {m} {a:.4g} → {b:.4g}{cite(i)}"
            for (_, (e, m), a, b), i in zip(rows[:3], ids[:3], strict=False)
        )
        draft.summary = f"Biggest differences between {describe(other)} and {describe(w)}: {top}."
    draft.evidence_ids = ids
    return _finish(ctx, draft)


def next_state(ctx: Context, ans: Answer, prev: ThreadState | None) -> ThreadState:
    """What the thread remembers after this answer."""
    result = ctx.last
    root = ans.root_causes[0].entity if ans.root_causes else (prev.root_cause if prev else None)
    focus = ctx.focus.ids or (prev.focus if prev else [])
    nodes: list[str] = []
    candidates: list[str] = []
    if result is not None:
        candidates = list(result.nb.candidates)
        for e in [root, *focus]:
            if e is None:
                continue
            if e.startswith("node:"):
                nodes.append(e)
            nodes += result.nb.runs_on.get(e, [])
    if not nodes and prev is not None:
        nodes = prev.nodes
    return ThreadState(
        focus=list(focus),
        intent=ctx.intent.value,
        since=ctx.window.since.isoformat(),
        until=ctx.window.until.isoformat(),
        root_cause=root,
        nodes=list(dict.fromkeys(nodes)),
        candidates=candidates or (prev.candidates if prev else []),
        question=ctx.question.text[:500],
        turns=(prev.turns if prev else 0) + 1,
    )


__all__ = ["answer", "next_state"]
