"""A terminal preview of Slack Block Kit: shows a Slack message in the console as it
would look in the channel (the demo's "rendered as it would appear in Slack").

Only the block types Sherlog posts are drawn: header, section (text and fields),
context, divider, actions. Slack mrkdwn is translated to Rich markup: *bold*,
_italic_, `code`, <url|label> links and the few HTML entities Slack escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape as rich_escape
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>|<(https?://[^>]+)>")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
_EMOJI = {":warning:": "⚠️", ":white_check_mark:": "✅", ":rotating_light:": "🚨", ":mag:": "🔎"}


def mrkdwn_to_rich(text: str) -> str:
    """Slack mrkdwn → Rich markup (everything else is escaped, so no accidental markup)."""
    for code, glyph in _EMOJI.items():
        text = text.replace(code, glyph)
    text = text.replace("&lt;", "\x00lt").replace("&gt;", "\x00gt").replace("&amp;", "&")
    out = rich_escape(text)

    def link(m: re.Match[str]) -> str:
        url, label = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(3))
        return f"[link={url}][underline]{label}[/underline][/link]"

    # rich_escape leaves < > alone, so links are still recognisable after escaping
    out = _LINK.sub(link, out)
    out = _CODE.sub(lambda m: f"[bold cyan]{m.group(1)}[/bold cyan]", out)
    out = _BOLD.sub(lambda m: f"[bold]{m.group(1)}[/bold]", out)
    out = _ITALIC.sub(lambda m: f"[italic]{m.group(1)}[/italic]", out)
    return out.replace("\x00lt", "<").replace("\x00gt", ">")


def _text_of(obj: Mapping[str, Any] | None) -> str:
    return str(obj.get("text", "")) if obj else ""


def _block(block: Mapping[str, Any]) -> RenderableType | None:
    kind = block.get("type")
    if kind == "header":
        return Text(_text_of(block.get("text")), style="bold")
    if kind == "divider":
        return Rule(style="grey50")
    if kind == "context":
        parts = [mrkdwn_to_rich(_text_of(e)) for e in block.get("elements", [])]
        return Text.from_markup("  ".join(parts), style="grey62")
    if kind == "section":
        items: list[RenderableType] = []
        if block.get("text"):
            items.append(Text.from_markup(mrkdwn_to_rich(_text_of(block["text"]))))
        if block.get("fields"):
            grid = Table.grid(padding=(0, 3))
            fields = [Text.from_markup(mrkdwn_to_rich(_text_of(f))) for f in block["fields"]]
            for i in range(0, len(fields), 2):
                grid.add_row(*fields[i : i + 2])
            items.append(grid)
        return Group(*items)
    if kind == "actions":
        buttons = []
        for el in block.get("elements", []):
            style = "bold red" if el.get("style") == "danger" else "bold"
            buttons.append(f"[{style}]\\[ {rich_escape(_text_of(el.get('text')))} ][/{style}]")
        return Text.from_markup("  ".join(buttons))
    return None


def slack_preview(blocks: Iterable[Mapping[str, Any]], *, author: str = "Sherlog", subtitle: str = "") -> Panel:
    """A Rich panel that looks like the Slack message these blocks make."""
    rendered = [r for r in (_block(b) for b in blocks) if r is not None]
    spaced: list[RenderableType] = []
    for r in rendered:
        spaced.append(r)
        spaced.append(Text(""))
    title = f"[bold]{rich_escape(author)}[/bold] [grey62]APP[/grey62]"
    return Panel(Group(*spaced[:-1]), title=title, title_align="left", subtitle=subtitle, subtitle_align="left")
