"""Answers Sherlog posted, kept so buttons and postmortems can come back to them.

"Show all evidence" and "declare incident" arrive as button clicks that carry only an
answer id; the postmortem needs the latest `rca` answer of an incident. Both are small JSON
documents keyed by an id, which is exactly what the relational store's keyed JSON upsert
(thread memory) offers, so they live there under namespaces of their own
(`sherlog.answer`, `sherlog.rca`) that never collide with a chat platform's thread memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.db.store import RelationalStore
from core.errors import NotFound
from core.model import Answer

_ANSWERS = "sherlog.answer"
_RCA = "sherlog.rca"


@dataclass(frozen=True)
class PostedAnswer:
    """An answer and where it was posted."""

    answer_id: str
    answer: Answer
    platform: str
    channel: str
    thread: str
    user: str | None


def answer_id_for(platform: str, channel: str, message_id: str) -> str:
    """The id buttons carry: the message the answer was posted in (unique per platform)."""
    return f"{platform}:{channel}:{message_id}"


class AnswerLog:
    """Save and load posted answers and each incident's latest RCA answer."""

    def __init__(self, db: RelationalStore) -> None:
        self.db = db

    def save(self, posted: PostedAnswer) -> None:
        data: dict[str, Any] = {
            "answer": posted.answer.model_dump(mode="json"),
            "platform": posted.platform,
            "channel": posted.channel,
            "thread": posted.thread,
            "user": posted.user,
        }
        self.db.put_thread_memory(_ANSWERS, posted.platform, posted.answer_id, data)

    def load(self, platform: str, answer_id: str) -> PostedAnswer:
        data = self.db.get_thread_memory(_ANSWERS, platform, answer_id)
        if not data:
            raise NotFound(
                f"that answer ({answer_id}) is no longer stored",
                hint="ask the question again to get a fresh answer",
            )
        return PostedAnswer(
            answer_id=answer_id,
            answer=Answer.model_validate(data["answer"]),
            platform=str(data.get("platform") or platform),
            channel=str(data.get("channel") or ""),
            thread=str(data.get("thread") or ""),
            user=data.get("user"),
        )

    def save_rca(self, incident_key: str, answer: Answer) -> None:
        self.db.put_thread_memory(_RCA, "incident", incident_key, {"answer": answer.model_dump(mode="json")})

    def latest_rca(self, incident_key: str) -> Answer | None:
        data = self.db.get_thread_memory(_RCA, "incident", incident_key)
        return Answer.model_validate(data["answer"]) if data.get("answer") else None
