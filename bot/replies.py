"""The platform-neutral reply model every chat adapter renders.

Verbs, guards and errors produce a `Reply`; `bot.render.slack`, `bot.render.discord` and
`bot.render.text` turn it into Block Kit, embeds or plain text. Keeping the decision
(what to say) apart from the rendering (how it looks) is what lets the console, Slack and
Discord say exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import SherlogError
from core.model import Answer


@dataclass(frozen=True)
class Document:
    """A long text (a postmortem draft) that platforms attach as a file or split into messages."""

    filename: str
    title: str
    markdown: str


@dataclass
class Reply:
    """What Sherlog says back to one command or guard.

    `text` is always a complete plain-text version; `fields` and `lines` add structure the rich
    renderers lay out (status tables, timelines). `ephemeral` replies are shown only to the user
    who asked (errors, help). `answer` carries an engine Answer (for `rca`); `document` a long
    markdown draft (for `postmortem`).
    """

    text: str
    title: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    ephemeral: bool = False
    error: bool = False
    hint: str | None = None
    answer: Answer | None = None
    document: Document | None = None
    incident_key: str | None = None
    # where the incident lives, so adapters can post verb replies into its thread
    incident_channel: str | None = None
    incident_thread: str | None = None
    # True for `declare`: the adapter should remember the posted message as the incident's thread
    new_incident: bool = False

    @classmethod
    def from_error(cls, e: SherlogError) -> Reply:
        """An ephemeral reply that says what was wrong and what to do next."""
        return cls(text=e.message, title="Sherlog couldn't do that", ephemeral=True, error=True, hint=e.hint)

    def plain(self) -> str:
        """The reply as plain text, hint included."""
        parts = [self.title] if self.title else []
        parts.append(self.text)
        parts.extend(f"{k}: {v}" for k, v in self.fields)
        parts.extend(self.lines)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(p for p in parts if p)
