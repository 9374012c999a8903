"""Plain-text rendering: the console (`sherlog chat`) and every platform's fallback text."""

from __future__ import annotations

from bot.render.common import confidence_label, cost_line, headline, ordered_evidence, short_entity
from bot.replies import Reply
from bot.timefmt import fmt_ts
from core.model import Answer, Evidence

DEFAULT_EVIDENCE = 8


def evidence_line(ev: Evidence) -> str:
    """`[2026-01-02 10:03:04 UTC] log orders-db: FATAL too many clients (link) {ev-3}`."""
    entity = f" {short_entity(ev.entity)}" if ev.entity else ""
    link = f" <{ev.link}>" if ev.link else ""
    return f"[{fmt_ts(ev.ts)}] {ev.kind}{entity}: {ev.text}{link} {{{ev.id}}}"


def render_answer(answer: Answer, *, evidence_limit: int | None = DEFAULT_EVIDENCE) -> str:
    """The whole answer as text; `evidence_limit=None` lists every evidence item."""
    out = [headline(answer), "", answer.summary]
    if answer.root_causes:
        out += ["", "Ranked causes:"]
        for i, rc in enumerate(answer.root_causes[:5], 1):
            cites = f" [{', '.join(rc.evidence_ids[:6])}]" if rc.evidence_ids else ""
            out.append(f"  {i}. {short_entity(rc.entity)} — {confidence_label(rc.confidence)}: {rc.why}{cites}")
    evidence = ordered_evidence(answer)
    if evidence:
        shown = evidence if evidence_limit is None else evidence[:evidence_limit]
        out += ["", f"Evidence ({len(shown)} of {len(evidence)}):"]
        out += [f"  - {evidence_line(ev)}" for ev in shown]
        if len(shown) < len(evidence):
            out.append(f"  … {len(evidence) - len(shown)} more (`/evidence` shows all)")
    if answer.causal_path:
        out += ["", "Causal path: " + " → ".join(short_entity(p) for p in answer.causal_path)]
    if answer.runbooks:
        out += ["", "Runbooks:"]
        for rb in answer.runbooks[:3]:
            url = f" <{rb.url}>" if rb.url else ""
            excerpt = f" — {rb.excerpt}" if rb.excerpt else ""
            out.append(f"  - {rb.title}{url}{excerpt}")
    if answer.similar_incidents:
        out += ["", "Similar incidents:"]
        for si in answer.similar_incidents[:3]:
            res = f" — fixed by: {si.resolution}" if si.resolution else ""
            out.append(f"  - {si.id}: {si.title}{res}")
    if answer.next_steps:
        out += ["", "Next steps:"] + [f"  {i}. {s}" for i, s in enumerate(answer.next_steps, 1)]
    if answer.caveats:
        out += ["", "Caveats:"] + [f"  ! {c}" for c in answer.caveats]
    out += ["", f"({cost_line(answer)})"]
    return "\n".join(out)


def render_reply(reply: Reply) -> str:
    """A command reply as text; an attached answer or document follows it."""
    parts = [reply.plain()]
    if reply.answer is not None:
        parts.append(render_answer(reply.answer))
    if reply.document is not None:
        parts.append(reply.document.markdown)
    return "\n\n".join(p for p in parts if p)
