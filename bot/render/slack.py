"""Slack Block Kit rendering within Slack's limits.

Limits enforced here (Slack rejects the whole message otherwise): at most 50 blocks, section
text 3000 characters, header 150, section fields 10 of 2000 each, context elements 10,
button text 75 and value 2000, and a total text budget of 40,000 characters per message.
Text that comes from telemetry (log lines, alert bodies) is escaped (`&`, `<`, `>`), so a log
line can never forge a link or a mention. Reply text that came from Slack itself is already
escaped by Slack and is passed through, which keeps `<@U123>` mentions working.
"""

from __future__ import annotations

from typing import Any

from bot.render.common import (
    clip,
    confidence_label,
    cost_line,
    headline,
    ordered_evidence,
    pack_lines,
    short_entity,
)
from bot.render.text import render_answer as render_answer_text
from bot.replies import Document, Reply
from core.model import Answer, Evidence

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_VALUE = 2000
MAX_MESSAGE_TEXT = 40_000
# the notification/fallback `text`: Slack truncates long ones, and it is shown only where blocks are not
MAX_FALLBACK = 3000
EVIDENCE_SHOWN = 8

ACTION_HELPFUL = "sherlog_helpful"
ACTION_UNHELPFUL = "sherlog_unhelpful"
ACTION_DECLARE = "sherlog_declare"
ACTION_EVIDENCE = "sherlog_evidence"
ACTION_IDS = (ACTION_HELPFUL, ACTION_UNHELPFUL, ACTION_DECLARE, ACTION_EVIDENCE)


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """`<url|label>` for http(s) links; just the label otherwise (never a broken link)."""
    if not url or not url.startswith(("http://", "https://")):
        return label
    safe_label = label.replace("|", "/").replace(">", "›").replace("<", "‹")
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{safe_label}>"


class BlockBudget:
    """Appends blocks while keeping the message under Slack's block and text limits.

    `reserve` blocks (and characters) are kept free for the closing context and actions, so
    they are never the ones dropped.
    """

    def __init__(self, *, reserve_blocks: int = 0, reserve_chars: int = 0) -> None:
        self.blocks: list[dict[str, Any]] = []
        self._reserve_blocks = reserve_blocks
        self._reserve_chars = reserve_chars
        self.chars = 0
        self.dropped = 0

    def _room(self, chars: int, *, final: bool) -> bool:
        blocks_left = MAX_BLOCKS - len(self.blocks) - (0 if final else self._reserve_blocks)
        chars_left = MAX_MESSAGE_TEXT - self.chars - (0 if final else self._reserve_chars)
        return blocks_left >= 1 and chars_left >= chars

    def add(self, block: dict[str, Any], *, chars: int, final: bool = False) -> bool:
        if not self._room(chars, final=final):
            self.dropped += 1
            return False
        self.blocks.append(block)
        self.chars += chars
        return True

    def header(self, text: str) -> None:
        t = clip(text, MAX_HEADER)
        self.add({"type": "header", "text": {"type": "plain_text", "text": t, "emoji": True}}, chars=len(t))

    def section(self, mrkdwn: str, *, final: bool = False) -> None:
        t = clip(mrkdwn, MAX_SECTION)
        if t.strip():
            self.add({"type": "section", "text": {"type": "mrkdwn", "text": t}}, chars=len(t), final=final)

    def sections(self, title: str, lines: list[str], *, max_sections: int = 3) -> None:
        """A titled list, packed into as few sections as fit (at most `max_sections`)."""
        chunks = pack_lines(lines, MAX_SECTION - len(title) - 2)
        for i, chunk in enumerate(chunks[:max_sections]):
            self.section(f"{title}\n{chunk}" if i == 0 and title else chunk)
        if len(chunks) > max_sections:
            hidden = sum(c.count("\n") + 1 for c in chunks[max_sections:])
            self.context([f"… {hidden} more lines not shown"])

    def fields(self, pairs: list[tuple[str, str]]) -> None:
        for i in range(0, len(pairs), MAX_FIELDS):
            fields = [{"type": "mrkdwn", "text": clip(f"*{k}*\n{v}", MAX_FIELD)} for k, v in pairs[i : i + MAX_FIELDS]]
            self.add({"type": "section", "fields": fields}, chars=sum(len(f["text"]) for f in fields))

    def context(self, texts: list[str], *, final: bool = False) -> None:
        elements = [{"type": "mrkdwn", "text": clip(t, MAX_FIELD)} for t in texts[:MAX_CONTEXT_ELEMENTS] if t]
        if elements:
            self.add(
                {"type": "context", "elements": elements},
                chars=sum(len(e["text"]) for e in elements),
                final=final,
            )

    def divider(self) -> None:
        self.add({"type": "divider"}, chars=0)


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": clip(value, MAX_VALUE),
    }
    if style:
        b["style"] = style
    return b


def _short_ts(ev: Evidence) -> str:
    return ev.ts.strftime("%m-%d %H:%M:%S") if ev.ts else "--"


def evidence_mrkdwn(ev: Evidence) -> str:
    """`• `05-01 10:02:03` *log* orders-db: FATAL too many clients (open)`."""
    entity = f" {escape(short_entity(ev.entity))}" if ev.entity else ""
    body = escape(clip(" ".join(ev.text.split()), 400))
    tail = f" {link(ev.link, 'open ↗')}" if ev.link and link(ev.link, "x") != "x" else ""
    return f"• `{_short_ts(ev)}` *{ev.kind}*{entity}: {body}{tail}"


def placeholder(question: str) -> dict[str, Any]:
    """The "investigating…" message posted at once, updated in place with the answer."""
    q = escape(clip(question, 300))
    text = f":mag: Investigating… _{q}_" if q else ":mag: Investigating…"
    return {"text": clip(text, MAX_FALLBACK), "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def fallback_text(answer: Answer) -> str:
    return clip(f"{headline(answer)}. {answer.summary}", MAX_FALLBACK)


def render_answer(answer: Answer, answer_id: str, *, evidence_shown: int = EVIDENCE_SHOWN) -> dict[str, Any]:
    """chat.postMessage/chat.update kwargs (`text`, `blocks`) for one answer, with buttons."""
    b = BlockBudget(reserve_blocks=3, reserve_chars=2 * MAX_FIELD)
    top = answer.root_causes[0] if answer.root_causes else None
    b.header("🔎 " + headline(answer))
    b.section(f"*Q:* {escape(clip(answer.question, 500))}\n{escape(answer.summary)}")
    if top is not None:
        cause = f"*Root cause:* `{escape(short_entity(top.entity))}` — confidence *{confidence_label(top.confidence)}*"
        if top.fault_kind:
            cause += f" · {escape(top.fault_kind)}"
        if top.onset is not None:
            cause += f" · onset {top.onset.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        b.section(f"{cause}\n{escape(top.why)}")
        others = [f"• {escape(short_entity(rc.entity))} ({rc.confidence:.0%})" for rc in answer.root_causes[1:4]]
        if others:
            b.context(["*Other candidates:* " + "  ".join(others)])
    evidence = ordered_evidence(answer)
    if evidence:
        b.divider()
        shown = evidence[:evidence_shown]
        title = f"*Evidence* ({len(shown)} of {len(evidence)})"
        b.sections(title, [evidence_mrkdwn(ev) for ev in shown], max_sections=2)
    if answer.causal_path:
        b.section("*Causal path:* " + " → ".join(f"`{escape(short_entity(p))}`" for p in answer.causal_path))
    if answer.runbooks:
        lines = []
        for rb in answer.runbooks[:3]:
            excerpt = f" — {escape(clip(rb.excerpt, 300))}" if rb.excerpt else ""
            lines.append(f"• {link(rb.url, escape(rb.title))}{excerpt}")
        b.sections("*Runbook*", lines, max_sections=1)
    if answer.similar_incidents:
        lines = []
        for si in answer.similar_incidents[:3]:
            fix = f" — fixed by: {escape(clip(si.resolution, 200))}" if si.resolution else ""
            lines.append(f"• *{escape(si.id)}* {escape(clip(si.title, 200))}{fix}")
        b.sections("*Similar incidents*", lines, max_sections=1)
    if answer.next_steps:
        b.sections(
            "*Next steps*", [f"{i}. {escape(s)}" for i, s in enumerate(answer.next_steps[:8], 1)], max_sections=1
        )
    if answer.caveats:
        b.sections("*Caveats*", [f":warning: {escape(c)}" for c in answer.caveats[:8]], max_sections=1)
    b.context([escape(cost_line(answer))], final=True)
    buttons = [
        button("👍 Helpful", ACTION_HELPFUL, answer_id),
        button("👎 Not helpful", ACTION_UNHELPFUL, answer_id),
        button("🚨 Declare incident", ACTION_DECLARE, answer_id, style="danger"),
    ]
    if len(evidence) > evidence_shown or b.dropped:
        buttons.append(button(f"Show all evidence ({len(evidence)})", ACTION_EVIDENCE, answer_id))
    b.add({"type": "actions", "block_id": "sherlog_answer_actions", "elements": buttons}, chars=0, final=True)
    return {"text": fallback_text(answer), "blocks": b.blocks}


def render_evidence(answer: Answer) -> list[dict[str, Any]]:
    """Every evidence item, split over as many messages as the block and text limits need."""
    lines = [evidence_mrkdwn(ev) for ev in ordered_evidence(answer)] or ["(no evidence)"]
    chunks = pack_lines(lines, MAX_SECTION)
    header = f"All evidence ({len(lines)}) — {clip(answer.question, 100)}"
    # group sections into messages: under 50 blocks and under the 40k text budget (header included)
    groups: list[list[str]] = [[]]
    used = len(header)
    for chunk in chunks:
        group = groups[-1]
        if group and (len(group) >= MAX_BLOCKS - 1 or used + len(chunk) > MAX_MESSAGE_TEXT - MAX_HEADER):
            groups.append([])
            group, used = groups[-1], 0
        group.append(chunk)
        used += len(chunk)
    messages: list[dict[str, Any]] = []
    for i, group in enumerate(groups):
        b = BlockBudget()
        if i == 0:
            b.header(header)
        for chunk in group:
            b.section(chunk)
        assert not b.dropped, "evidence grouping exceeded a Slack limit"
        messages.append({"text": clip(f"All evidence for: {answer.question}", MAX_FALLBACK), "blocks": b.blocks})
    return messages


def render_reply(reply: Reply) -> dict[str, Any]:
    """chat.postMessage/chat.postEphemeral kwargs for a command reply (answer included, if any)."""
    b = BlockBudget(reserve_blocks=1, reserve_chars=MAX_FIELD)
    if reply.title:
        b.header(("⚠️ " if reply.error else "") + reply.title)
    b.section(reply.text)
    if reply.fields:
        b.fields(reply.fields)
    if reply.lines:
        b.sections("", reply.lines, max_sections=10)
    if reply.hint:
        b.context([f":bulb: {reply.hint}"], final=True)
    return {"text": clip(reply.plain(), MAX_FALLBACK), "blocks": b.blocks}


def split_document(doc: Document, *, limit: int = MAX_SECTION - 10) -> list[str]:
    """A long markdown document as consecutive message texts, split on line boundaries."""
    return pack_lines(doc.markdown.splitlines(), limit)


def answer_as_text(answer: Answer) -> str:
    """The answer in plain text (used where blocks cannot go, e.g. a file)."""
    return render_answer_text(answer, evidence_limit=None)
