"""Assemble an Answer from an investigation: ranked causes with their why, evidence, causal path,
runbooks, similar incidents, next steps and caveats, all narrated by templates.

Every sentence of the summary and of each cause's "why" cites evidence ids that are in
`Answer.evidence` (core.engine.narrate.check_citations verifies it). Negative findings cite a
*coverage* item ("scanned 190 series of 18 entities: none left its baseline"), so "nothing is
wrong" is a claim with evidence too.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.engine.diagnose import Diagnosis, generic_steps, lead_signal
from core.engine.evidence import EvidenceBook, cited_ids, make_evidence
from core.engine.investigate import SOURCE_NAMES, Investigation
from core.engine.linker import EntityCatalog
from core.engine.rank import Candidate
from core.engine.timewin import describe
from core.knowledge.schema import short_name
from core.model import Answer, EvidenceKind, RootCause, RunbookRef, SimilarIncident

MAX_CAUSES = 3
MAX_STEPS = 6


@dataclass
class Names:
    """Display names and kinds of entity ids."""

    catalog: EntityCatalog

    def name(self, entity_id: str) -> str:
        e = self.catalog.get(entity_id)
        return e.name if e else short_name(entity_id)

    def kind(self, entity_id: str) -> str:
        e = self.catalog.get(entity_id)
        if e:
            return e.kind
        return "Node" if entity_id.startswith("node:") else "Pod" if entity_id.startswith("pod:") else "Service"

    def label(self, entity_id: str) -> str:
        k = self.kind(entity_id)
        return f"{self.name(entity_id)} ({k.lower()})" if k != "Service" else self.name(entity_id)

    def join(self, ids: Iterable[str], limit: int = 4) -> str:
        names = [self.name(i) for i in ids]
        if len(names) > limit:
            return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
        if len(names) > 1:
            return ", ".join(names[:-1]) + " and " + names[-1]
        return names[0] if names else ""


def cite(*ids: str | None) -> str:
    """` [ev-a, ev-b]` for the given ids (None and duplicates dropped); empty when none."""
    real = list(dict.fromkeys(i for i in ids if i))
    return f" [{', '.join(real)}]" if real else ""


def pct(x: float) -> str:
    return f"{round(100 * x):d}%"


@dataclass
class Draft:
    """The parts of an answer before narration."""

    summary: str
    causes: list[RootCause] = field(default_factory=list)
    evidence_ids: list[str] = field(default_factory=list)
    causal_path: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    runbooks: list[RunbookRef] = field(default_factory=list)
    similar: list[SimilarIncident] = field(default_factory=list)


def topology_evidence(book: EvidenceBook, names: Names, a: str, b: str, rel: str) -> str:
    """An evidence item for one graph edge (`a` needs `b`)."""
    verb = "runs on" if rel == "RUNS_ON" else "depends on"
    return book.add(
        make_evidence(
            EvidenceKind.TOPOLOGY, a, f"{names.label(a)} {verb} {names.label(b)}", key=(a, rel, b), attributes={"to": b}
        )
    )


def path_between(edges: set[tuple[str, str]], start: str, goal: str) -> list[str]:
    """Shortest path start → goal along "needs" edges (BFS, neighbours in id order); [] if none."""
    if start == goal:
        return [start]
    adj: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        adj.setdefault(a, []).append(b)
    prev: dict[str, str] = {}
    todo = deque([start])
    seen = {start}
    while todo:
        n = todo.popleft()
        for m in adj.get(n, []):
            if m in seen:
                continue
            seen.add(m)
            prev[m] = n
            if m == goal:
                path = [m]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return path[::-1]
            todo.append(m)
    return []


def coverage_evidence(inv: Investigation, names: Names) -> str:
    """One citable item saying what was looked at (for "nothing found" claims)."""
    m = inv.metrics
    parts = []
    if m is not None:
        parts.append(f"{m.series} metric series ({m.points} samples)")
    if inv.logs is not None:
        parts.append(f"log templates ({len(inv.logs.signals)} log signals)")
    parts.append(f"{len(inv.alerts)} alerts, {len(inv.changes)} changes, {len(inv.k8s)} Kubernetes events")
    text = (
        f"looked at {len(inv.nb.candidates)} entities ({names.join(inv.nb.candidates, 6)}) in {describe(inv.window)}: "
        + "; ".join(parts)
    )
    return inv.book.add(
        make_evidence(
            EvidenceKind.TOPOLOGY,
            None,
            text,
            key=("coverage", inv.window.since, inv.window.until, tuple(inv.nb.candidates)),
        )
    )


def cause_sentences(
    c: Candidate, inv: Investigation, names: Names, d: Diagnosis | None, focus: list[str]
) -> tuple[list[str], list[str]]:
    """The "why" sentences of one cause, each citing evidence, and every id they cite."""
    book = inv.book
    ids: list[str] = []
    out: list[str] = []
    lead = lead_signal(c, d)
    top = ([lead] if lead else []) + [x for x in c.top_signals(3) if lead is None or x.evidence_id != lead.evidence_id]
    top = top[:3]
    if lead is not None:
        label = f"{names.name(c.id)}: {d.label}" if d else names.name(c.id)
        out.append(f"{label}; {_short(book, lead.evidence_id)}{cite(lead.evidence_id)}.")
        ids.append(lead.evidence_id)
        more = top[1:]
        if more:
            descr = "; ".join(_short(book, s.evidence_id) for s in more)
            out.append(f"Also: {descr}{cite(*[s.evidence_id for s in more])}.")
            ids += [s.evidence_id for s in more]
    if c.onset is not None and c.explains:
        t = datetime.fromtimestamp(c.onset, UTC)
        topo = [
            topology_evidence(book, names, x, c.id, "RUNS_ON" if c.id.startswith("node:") else "DEPENDS_ON")
            for x in c.explains[:3]
            if (x, c.id) in inv.nb.edges()
        ]
        lead_ids = [top[0].evidence_id] if top else []
        out.append(
            f"It went wrong at {t:%H:%M:%S} UTC, no later than {names.join(c.explains)}, which "
            f"{'need' if len(c.explains) > 1 else 'needs'} it{cite(*lead_ids, *topo)}."
        )
        ids += topo
    elif c.needs:
        out.append(
            f"It may itself be a symptom: it needs {names.join(c.needs)}, which also misbehaves"
            f"{cite(*(top[0].evidence_id,) if top else ())}."
        )
    if c.change_ids:
        out.append(f"It changed shortly before the incident: {_short(book, c.change_ids[0])}{cite(*c.change_ids[:2])}.")
        ids += c.change_ids[:2]
    if c.blamed_by:
        blame_ids = [
            s.evidence_id
            for s in inv.signals
            if s.source == "log" and s.entity in c.blamed_by and c.id in _named_by(book, s.evidence_id)
        ]
        if blame_ids:
            out.append(f"Errors logged by {names.join(c.blamed_by)} name it{cite(*blame_ids[:3])}.")
            ids += blame_ids[:3]
    past = inv.history.get(c.id, [])
    if past and c.factors.get("prior", 1.0) > 1.0:
        inc_ids = [incident_evidence(book, p) for p in past[:2]]
        out.append(
            f"It caused {len(past)} past incident{'s' if len(past) > 1 else ''}, "
            f'e.g. "{past[0].title}"{cite(*inc_ids)}.'
        )
        ids += inc_ids
    return out, ids


def _named_by(book: EvidenceBook, ev_id: str) -> list[str]:
    ev = book.get(ev_id)
    return list(ev.attributes.get("names", [])) if ev is not None else []


def _short(book: EvidenceBook, ev_id: str) -> str:
    ev = book.get(ev_id)
    if ev is None:
        return ev_id
    text = ev.text.split(": ", 1)[1] if ": " in ev.text and ev.kind == EvidenceKind.METRIC else ev.text
    if ev.kind == EvidenceKind.METRIC and ev.entity:
        text = f"{short_name(ev.entity)} {text}" if not text.startswith(short_name(ev.entity)) else text
    return text.split(" e.g. ")[0].rstrip(".")[:200]


def incident_evidence(book: EvidenceBook, p: object) -> str:
    pid = str(getattr(p, "id", ""))
    title = str(getattr(p, "title", ""))
    cause = str(getattr(p, "cause", ""))
    res = str(getattr(p, "resolution", ""))
    text = (
        f'past incident {pid.removeprefix("incident:")} "{title}"'
        + (f"; cause: {cause}" if cause else "")
        + (f"; resolved by: {res}" if res else "")
    )
    return book.add(make_evidence(EvidenceKind.INCIDENT, getattr(p, "root_cause", None), text[:500], key=(pid,)))


def runbook_evidence(book: EvidenceBook, rb: object) -> str:
    rid = str(getattr(rb, "id", ""))
    reason = str(getattr(rb, "reason", ""))
    why = f"matches the firing alert {reason.split(':', 1)[1]}" if reason.startswith("alert:") else "found by search"
    text = f"runbook {getattr(rb, 'title', rid)} ({why})" + (
        f": {getattr(rb, 'excerpt', '')[:200]}" if getattr(rb, "excerpt", "") else ""
    )
    return book.add(make_evidence(EvidenceKind.RUNBOOK, None, text, key=(rid,), link=getattr(rb, "url", None)))


def caveats_for(inv: Investigation) -> list[str]:
    """One plain sentence per source that failed, and per note on the data."""
    out = []
    for src, reason in sorted(inv.failed.items()):
        if src in ("topology", "history", "runbooks", "similar") and (
            "unreachable" in reason.lower() or "cannot reach" in reason.lower()
        ):
            out.append(f"graph store unreachable: {reason} (no {SOURCE_NAMES.get(src, src)})")
        else:
            out.append(f"{SOURCE_NAMES.get(src, src)} unavailable: {reason}")
    out += inv.notes
    return list(dict.fromkeys(out))


def draft_why(inv: Investigation, names: Names, focus: list[str]) -> Draft:
    """The template draft of a root-cause answer."""
    book = inv.book
    draft = Draft(summary="", caveats=caveats_for(inv))
    ranking = inv.ranking
    cov = coverage_evidence(inv, names)
    where = f"for {names.join(focus)} " if focus else ""
    if ranking is None or not ranking.candidates or not ranking.candidates[0].anomalous:
        blind = [SOURCE_NAMES[s] for s in ("metrics", "logs", "alerts") if s in inv.failed]
        if "metrics" in inv.failed and "logs" in inv.failed:
            draft.summary = (
                f"I cannot tell what is wrong {where}in {describe(inv.window)}: I could not read "
                f"{', '.join(blind)}{cite(cov)}."
            )
            draft.next_steps = ["Check the stores with `sherlog status`, then ask again"]
            draft.evidence_ids = [cov]
            return draft
        if (
            inv.metrics is not None
            and inv.metrics.points == 0
            and not inv.alerts
            and not (inv.logs and inv.logs.signals)
        ):
            latest = f"; the newest data I have is from {inv.latest_data:%Y-%m-%d %H:%M} UTC" if inv.latest_data else ""
            draft.summary = f"There is no telemetry {where}in {describe(inv.window)}{latest}{cite(cov)}."
            draft.next_steps = [
                "Ask about a window that has data (e.g. add `--since` covering the newest data)",
                "Check that the shippers and scrapers are sending (`sherlog status`)",
            ]
        else:
            draft.summary = (
                f"I found nothing abnormal {where}in {describe(inv.window)}: no metric left its baseline, "
                f"no error logs jumped and no alert fired{cite(cov)}."
            )
            draft.next_steps = ["Widen the window (e.g. `--since 6h`) or name the service that misbehaves"]
        draft.evidence_ids = [cov]
        return draft
    top = [c for c in ranking.top(MAX_CAUSES) if c.anomalous]
    for c in top:
        d = inv.diagnoses.get(c.id)
        sentences, ids = cause_sentences(c, inv, names, d, focus)
        draft.causes.append(
            RootCause(
                entity=c.id,
                confidence=c.confidence,
                why=" ".join(sentences),
                evidence_ids=list(dict.fromkeys(ids)),
                fault_kind=d.kind if d else None,
                onset=datetime.fromtimestamp(c.onset, UTC) if c.onset else None,
                score=round(c.score, 6),
            )
        )
        draft.evidence_ids += ids
    best = top[0]
    d0 = inv.diagnoses.get(best.id)
    lead = lead_signal(best, d0)
    what = f" — {d0.label}" if d0 else ""
    key = f": {_short(book, lead.evidence_id)}" if lead else ""
    draft.summary = (
        f"Most likely root cause: {names.label(best.id)}{what} (confidence {pct(best.confidence)}){key}"
        f"{cite(lead.evidence_id if lead else None)}."
    )
    if best.change_ids:
        draft.summary += (
            f" It changed just before: {_short(book, best.change_ids[0]).split(': ', 1)[0]}{cite(best.change_ids[0])}."
        )
    # the path starts where the user looks: the named focus, else the loudest symptom the cause explains
    by_id = {c.id: c for c in ranking.candidates}
    loudest = sorted(best.explains, key=lambda e: (-(by_id[e].strength if e in by_id else 0.0), e))
    start_focus = focus[0] if focus else (loudest[0] if loudest else best.id)
    path = path_between(inv.nb.edges(), start_focus, best.id) if start_focus != best.id else [best.id]
    if len(path) > 1:
        topo = [
            topology_evidence(book, names, a, b, "RUNS_ON" if b.startswith("node:") else "DEPENDS_ON")
            for a, b in itertools.pairwise(path)
        ]
        draft.summary += f" Path: {' → '.join(names.name(p) for p in path)}{cite(*topo)}."
        draft.evidence_ids += topo
    draft.causal_path = [names.name(p) for p in path]
    if len(top) > 1 and best.confidence < 0.6:
        draft.caveats.append(
            f"low confidence: {names.name(top[1].id)} scores close to {names.name(best.id)} "
            f"({pct(top[1].confidence)} vs {pct(best.confidence)})"
        )
    for rb in inv.knowledge.runbooks:
        ev = runbook_evidence(book, rb)
        draft.runbooks.append(
            RunbookRef(id=rb.id, title=rb.title, url=rb.url, excerpt=rb.excerpt, score=round(rb.score, 4))
        )
        draft.evidence_ids.append(ev)
    for p in inv.knowledge.similar:
        ev = incident_evidence(book, p)
        draft.similar.append(
            SimilarIncident(id=p.id, title=p.title, resolution=p.resolution, cause=p.cause or None, score=p.score)
        )
        draft.evidence_ids.append(ev)
    steps: list[str] = []
    if inv.knowledge.runbooks:
        rb = inv.knowledge.runbooks[0]
        steps += [f"{s} (runbook {rb.title})" for s in rb.mitigation[:3]]
    if d0:
        steps += generic_steps(d0.kind, names.name(best.id))
    draft.next_steps = list(dict.fromkeys(steps))[:MAX_STEPS]
    return draft


def to_answer(question: str, intent: str, draft: Draft, book: EvidenceBook, max_evidence: int) -> Answer:
    """The Answer with the draft's narration and the evidence it cites (cited first, then the rest, capped)."""
    texts = [draft.summary, *(c.why for c in draft.causes)]
    cited = list(dict.fromkeys([i for t in texts for i in cited_ids(t)] + draft.evidence_ids))
    extra = [e.id for e in sorted(book.items(), key=lambda e: (-e.score, e.id)) if e.id not in set(cited)]
    keep = cited + extra[: max(0, max_evidence - len(cited))]
    return Answer(
        question=question,
        intent=intent,
        summary=draft.summary,
        root_causes=draft.causes,
        evidence=book.select(keep),
        causal_path=draft.causal_path,
        runbooks=draft.runbooks,
        similar_incidents=draft.similar,
        next_steps=draft.next_steps,
        caveats=draft.caveats,
    )
