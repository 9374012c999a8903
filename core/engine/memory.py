"""Thread memory: what Sherlog said last in a chat thread, so follow-ups resolve.

Stored through `RelationalStore.get/put_thread_memory` under (platform, channel, thread) as JSON:
the focus entities, the intent, the window, the top root cause and the nodes the focus and the
cause run on. "What about memory on the same node?" then means the node of the last cause (or
focus), "what changed there?" the last cause, and a follow-up without a time phrase keeps the
last window, because it is about the same incident.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from core.db.store import RelationalStore
from core.engine.timewin import Window

MEMORY_VERSION = 1


@dataclass
class ThreadState:
    """One thread's memory (JSON-serialisable through `to_json`)."""

    focus: list[str] = field(default_factory=list)
    intent: str = "why"
    since: str | None = None
    until: str | None = None
    root_cause: str | None = None
    nodes: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    question: str = ""
    turns: int = 0

    def window(self) -> Window | None:
        """The remembered window, or None if there is none (or it is unreadable)."""
        if not self.since or not self.until:
            return None
        try:
            return Window(
                datetime.fromisoformat(self.since), datetime.fromisoformat(self.until), "same window as before"
            )
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        return {"v": MEMORY_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThreadState | None:
        """Parse stored memory; None when it is empty or from an unknown version."""
        if not data or data.get("v") != MEMORY_VERSION:
            return None
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            return cls(**known)
        except TypeError:
            return None


def thread_key(platform: str, channel: str | None, thread: str | None) -> tuple[str, str, str] | None:
    """The memory key of a question, or None when it is not part of a thread."""
    if not thread:
        return None
    return platform or "cli", channel or "-", thread


class ThreadMemory:
    """Load and save `ThreadState`s in the relational store."""

    def __init__(self, db: RelationalStore) -> None:
        self.db = db

    def load(self, key: tuple[str, str, str]) -> ThreadState | None:
        """The thread's state, or None. Store failures propagate (the engine turns them into a caveat)."""
        return ThreadState.from_json(self.db.get_thread_memory(*key))

    def save(self, key: tuple[str, str, str], state: ThreadState) -> None:
        self.db.put_thread_memory(*key, state.to_json())
