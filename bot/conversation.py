"""Mentions, platform-neutral: strip the mention, guard, ask the engine, remember the answer.

Adapters post the "investigating…" placeholder and the final answer themselves; this module
decides whether to answer at all (channel allowlist, rate limit, empty question), calls the
engine with the thread's memory keys, measures it, and records what was posted so the
answer's buttons can find it later.

Memory keys: the engine keeps thread memory under (platform, channel, thread). `thread` is the
root of the chat thread (Slack `thread_ts`, the Discord thread id, the console session), so a
follow-up mention in the same thread resolves "it" and "the same node" from earlier turns.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from bot.answer_log import AnswerLog, PostedAnswer, answer_id_for
from bot.feedback import record_feedback
from bot.guards import ChannelAllowlist, RateLimiter, Refusal
from bot.incidents import AskFn
from bot.metrics import BotMetrics
from core.db.store import RelationalStore
from core.model import Answer, Question

log = logging.getLogger(__name__)

# Slack <@U123> / <@U123|name>, Discord <@123> / <@!123> / role <@&123>
_MENTION = re.compile(r"<@[!&]?[A-Za-z0-9]+(?:\|[^>]*)?>")
_LEADING_NAME = re.compile(r"^\s*@sherlog\b[:,]?\s*", re.IGNORECASE)
MAX_QUESTION_CHARS = 2000


def strip_mentions(text: str) -> str:
    """The question without the bot mention(s) and surrounding whitespace."""
    text = _MENTION.sub(" ", text or "")
    text = _LEADING_NAME.sub("", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Mention:
    """One mention of the bot, as every platform sees it."""

    platform: str
    channel: str
    thread: str
    user: str | None
    text: str
    # other spellings of the channel the allowlist may name (its name, a thread's parent)
    channel_aliases: tuple[str, ...] = ()

    @property
    def question(self) -> str:
        return strip_mentions(self.text)


class Conversation:
    """Mention handling for one platform: guards, engine call, answer log, feedback."""

    def __init__(
        self,
        *,
        platform: str,
        ask: AskFn,
        db: RelationalStore,
        allowlist: ChannelAllowlist,
        limiter: RateLimiter,
        metrics: BotMetrics | None = None,
        answers: AnswerLog | None = None,
    ) -> None:
        self.platform = platform
        self._ask = ask
        self.db = db
        self.allowlist = allowlist
        self.limiter = limiter
        self.metrics = metrics
        self.answers = answers or AnswerLog(db)

    def screen(self, mention: Mention) -> Refusal | None:
        """Why not to answer this mention, or None to go ahead. Counts toward the rate limit."""
        refusal = self.allowlist.check(mention.channel, *mention.channel_aliases)
        if refusal is None and not mention.question:
            refusal = Refusal(
                reason="You mentioned me without a question.",
                hint="ask something, e.g. `@sherlog why is checkout failing?`",
            )
        if refusal is None and len(mention.question) > MAX_QUESTION_CHARS:
            refusal = Refusal(
                reason=f"That question is {len(mention.question):,} characters long (limit {MAX_QUESTION_CHARS:,}).",
                hint="ask a shorter question; paste long logs through `sherlog ingest` or the intake endpoints",
            )
        if refusal is None:
            refusal = self.limit(mention.user)
        if refusal is not None and self.metrics is not None:
            self.metrics.questions.labels(self.platform, "refused").inc()
        return refusal

    def limit(self, user: str | None) -> Refusal | None:
        """Count one engine run for `user` against the rate limit (`<@U1>` and `U1` are one user)."""
        who = (user or "anonymous").strip().removeprefix("<@").removesuffix(">")
        return self.limiter.check(f"{self.platform}:{who}")

    def answer(self, mention: Mention) -> Answer:
        """Ask the engine (may take a while: call it off the event loop). Errors propagate."""
        question = Question(text=mention.question, channel=mention.channel, thread=mention.thread, user=mention.user)
        start = time.perf_counter()
        try:
            answer = self._ask(question, self.platform)
        except Exception:
            if self.metrics is not None:
                self.metrics.questions.labels(self.platform, "error").inc()
            raise
        if self.metrics is not None:
            self.metrics.answer_latency.labels(self.platform).observe(time.perf_counter() - start)
            self.metrics.questions.labels(self.platform, "answered").inc()
        return answer

    def record(self, mention: Mention, message_id: str, answer: Answer) -> str:
        """Remember a posted answer; returns the answer id its buttons carry."""
        answer_id = answer_id_for(self.platform, mention.channel, message_id)
        try:
            self.answers.save(
                PostedAnswer(
                    answer_id=answer_id,
                    answer=answer,
                    platform=self.platform,
                    channel=mention.channel,
                    thread=mention.thread,
                    user=mention.user,
                )
            )
        except Exception:
            # the answer is already on screen; losing its buttons' backing is worth a log, not a failure
            log.exception("could not store answer %s", answer_id)
        return answer_id

    def feedback(self, answer_id: str, user: str | None, helpful: bool) -> None:
        record_feedback(self.db, answer_id=answer_id, platform=self.platform, user=user or "", helpful=helpful)
        if self.metrics is not None:
            self.metrics.feedback.labels(self.platform, "yes" if helpful else "no").inc()
