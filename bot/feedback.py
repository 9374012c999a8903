"""Helpful / not-helpful verdicts on answers, stored for evaluation."""

from __future__ import annotations

from core.db.store import RelationalStore
from core.db.tables import Feedback
from core.errors import InputError


def record_feedback(
    db: RelationalStore,
    *,
    answer_id: str,
    platform: str,
    user: str,
    helpful: bool,
    comment: str | None = None,
) -> Feedback:
    """Store one verdict. Every click is kept (a user changing their mind is data too)."""
    if not answer_id or len(answer_id) > 255:
        raise InputError(f"feedback needs an answer id of 1-255 characters, got {answer_id!r}")
    row = Feedback(answer_id=answer_id, platform=platform, user_id=user or "unknown", helpful=helpful, comment=comment)
    with db.session() as s:
        s.add(row)
    return row
