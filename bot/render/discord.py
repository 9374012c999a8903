"""Discord embeds within Discord's limits.

Limits enforced here: embed title 256, description 4096, at most 25 fields, field name 256,
field value 1024, footer 2048, and 6000 characters across all embeds of one message (at most
10 embeds); message content 2000. Buttons carry `sherlog:<action>:<answer id>` custom ids
(at most 100 characters) and are handled by `on_interaction`, so they keep working after a
restart.
"""

from __future__ import annotations

import discord

from bot.render.common import clip, confidence_label, cost_line, headline, ordered_evidence, pack_lines, short_entity
from bot.replies import Reply
from core.model import Answer, Evidence

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_TOTAL = 6000
MAX_EMBEDS = 10
MAX_CONTENT = 2000
MAX_CUSTOM_ID = 100
EVIDENCE_SHOWN = 8

CUSTOM_ID_PREFIX = "sherlog"
COLOR_CAUSE = 0xD9534F
COLOR_NEUTRAL = 0x5865F2
COLOR_ERROR = 0xF0AD4E


class EmbedBudget:
    """Builds one embed while keeping it (and the message) under Discord's limits."""

    def __init__(self, *, title: str, description: str = "", color: int = COLOR_NEUTRAL, budget: int = MAX_TOTAL):
        self.total_budget = budget
        title = clip(title, MAX_TITLE)
        description = clip(description, min(MAX_DESCRIPTION, max(0, budget - len(title) - MAX_FOOTER // 8)))
        self.embed = discord.Embed(title=title, description=description or None, color=color)
        self.used = len(title) + len(description)

    def field(self, name: str, value: str, *, inline: bool = False) -> bool:
        if len(self.embed.fields) >= MAX_FIELDS:
            return False
        name, value = clip(name, MAX_FIELD_NAME), clip(value, MAX_FIELD_VALUE)
        if not value.strip() or self.used + len(name) + len(value) > self.total_budget - 200:
            return False
        self.embed.add_field(name=name, value=value, inline=inline)
        self.used += len(name) + len(value)
        return True

    def fields(self, name: str, lines: list[str], *, max_fields: int = 2) -> None:
        for i, chunk in enumerate(pack_lines(lines, MAX_FIELD_VALUE)[:max_fields]):
            self.field(name if i == 0 else f"{name} (cont.)", chunk)

    def footer(self, text: str) -> None:
        room = max(0, min(MAX_FOOTER, self.total_budget - self.used))
        text = clip(text, room)
        if text:
            self.embed.set_footer(text=text)
            self.used += len(text)


def custom_id(action: str, answer_id: str) -> str:
    return clip(f"{CUSTOM_ID_PREFIX}:{action}:{answer_id}", MAX_CUSTOM_ID)


def parse_custom_id(value: str) -> tuple[str, str] | None:
    """`sherlog:helpful:discord:1:2` → (`helpful`, `discord:1:2`); None if not ours."""
    prefix, _, rest = value.partition(":")
    if prefix != CUSTOM_ID_PREFIX or ":" not in rest:
        return None
    action, _, answer_id = rest.partition(":")
    return action, answer_id


def evidence_line(ev: Evidence) -> str:
    ts = ev.ts.strftime("%m-%d %H:%M:%S") if ev.ts else "--"
    entity = f" {short_entity(ev.entity)}" if ev.entity else ""
    body = clip(" ".join(ev.text.split()), 300).replace("`", "'")
    tail = f" [open]({ev.link})" if ev.link and ev.link.startswith(("http://", "https://")) else ""
    return f"• `{ts}` **{ev.kind}**{entity}: {body}{tail}"


def answer_embed(answer: Answer, *, evidence_shown: int = EVIDENCE_SHOWN) -> discord.Embed:
    """The answer as one embed (root cause, evidence, path, runbook, similar, next steps, caveats, cost)."""
    top = answer.root_causes[0] if answer.root_causes else None
    e = EmbedBudget(
        title="🔎 " + headline(answer),
        description=f"**Q:** {clip(answer.question, 300)}\n{answer.summary}",
        color=COLOR_CAUSE if top else COLOR_NEUTRAL,
    )
    if top is not None:
        value = f"`{short_entity(top.entity)}` — {confidence_label(top.confidence)}\n{top.why}"
        e.field("Root cause", value)
        others = ", ".join(f"{short_entity(rc.entity)} ({rc.confidence:.0%})" for rc in answer.root_causes[1:4])
        if others:
            e.field("Other candidates", others)
    evidence = ordered_evidence(answer)
    if evidence:
        shown = evidence[:evidence_shown]
        e.fields(f"Evidence ({len(shown)} of {len(evidence)})", [evidence_line(ev) for ev in shown])
    if answer.causal_path:
        e.field("Causal path", " → ".join(f"`{short_entity(p)}`" for p in answer.causal_path))
    if answer.runbooks:
        lines = []
        for rb in answer.runbooks[:3]:
            title = f"[{rb.title}]({rb.url})" if rb.url and rb.url.startswith(("http://", "https://")) else rb.title
            lines.append(f"• {title}" + (f" — {clip(rb.excerpt, 200)}" if rb.excerpt else ""))
        e.fields("Runbook", lines, max_fields=1)
    if answer.similar_incidents:
        lines = [
            f"• **{si.id}** {clip(si.title, 150)}"
            + (f" — fixed by: {clip(si.resolution, 150)}" if si.resolution else "")
            for si in answer.similar_incidents[:3]
        ]
        e.fields("Similar incidents", lines, max_fields=1)
    if answer.next_steps:
        e.fields("Next steps", [f"{i}. {s}" for i, s in enumerate(answer.next_steps[:8], 1)], max_fields=1)
    if answer.caveats:
        e.fields("Caveats", [f"⚠️ {c}" for c in answer.caveats[:8]], max_fields=1)
    e.footer(cost_line(answer))
    return e.embed


def answer_view(answer: Answer, answer_id: str, *, evidence_shown: int = EVIDENCE_SHOWN) -> discord.ui.View:
    """Helpful / not helpful / declare incident / show all evidence buttons."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Helpful", emoji="👍", custom_id=custom_id("helpful", answer_id)))
    view.add_item(discord.ui.Button(label="Not helpful", emoji="👎", custom_id=custom_id("unhelpful", answer_id)))
    view.add_item(
        discord.ui.Button(
            label="Declare incident", style=discord.ButtonStyle.danger, custom_id=custom_id("declare", answer_id)
        )
    )
    if len(answer.evidence) > evidence_shown:
        view.add_item(
            discord.ui.Button(
                label=f"Show all evidence ({len(answer.evidence)})", custom_id=custom_id("evidence", answer_id)
            )
        )
    return view


def evidence_embeds(answer: Answer) -> list[list[discord.Embed]]:
    """Every evidence item as embeds, grouped into messages that each fit the 6000-character total."""
    lines = [evidence_line(ev) for ev in ordered_evidence(answer)] or ["(no evidence)"]
    chunks = pack_lines(lines, MAX_DESCRIPTION)
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    used = 0
    for i, chunk in enumerate(chunks):
        title = f"All evidence ({len(lines)})" if i == 0 else f"All evidence (cont. {i + 1})"
        size = len(title) + len(chunk)
        if current and (used + size > MAX_TOTAL or len(current) >= MAX_EMBEDS):
            messages.append(current)
            current, used = [], 0
        current.append(discord.Embed(title=title, description=chunk, color=COLOR_NEUTRAL))
        used += size
    if current:
        messages.append(current)
    return messages


def reply_embed(reply: Reply) -> discord.Embed:
    """A command reply as one embed."""
    color = COLOR_ERROR if reply.error else COLOR_NEUTRAL
    e = EmbedBudget(title=reply.title or (reply.incident_key or "Sherlog"), description=reply.text, color=color)
    for name, value in reply.fields:
        e.field(name, value, inline=True)
    if reply.lines:
        e.fields("Entries" if reply.incident_key else "Details", reply.lines, max_fields=5)
    if reply.hint:
        e.field("What to do", reply.hint)
    return e.embed


def content_chunks(text: str) -> list[str]:
    """Plain text split into Discord messages (2000 characters each)."""
    return pack_lines(text.splitlines(), MAX_CONTENT - 10) or [""]


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts toward the 6000 total for one embed."""
    return len(embed)
