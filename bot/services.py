"""What every chat adapter needs, built once: the store, the engine, metrics, per-platform
conversations and the incident desk."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.answer_log import AnswerLog
from bot.conversation import Conversation
from bot.guards import ChannelAllowlist, RateLimiter
from bot.incidents import ENGINE_VERBS, AskFn, Command, CommandContext, IncidentDesk, parse_command
from bot.metrics import BotMetrics
from bot.replies import Reply
from core.db.store import RelationalStore
from core.errors import SherlogError
from core.model import Answer, Question
from core.settings import Settings
from core.wiring import Stack

PLATFORMS = ("slack", "discord", "console")
ALERT_PLATFORM = "alert"


class AskAtFn(Protocol):
    """An AskFn that can also pin the present (`now`), e.g. to the moment an alert was received."""

    def __call__(self, question: Question, platform: str, now: datetime | None = None) -> Answer: ...


def engine_ask(stack: Stack) -> AskAtFn:
    """The real engine behind an AskFn, built on first use (loading it costs time at startup).

    It is also an AskAtFn: `ask(question, platform, now)` pins the engine's present."""
    lock = threading.Lock()
    holder: dict[str, object] = {}

    def ask(question: Question, platform: str, now: datetime | None = None) -> Answer:
        with lock:
            engine = holder.get("engine")
            if engine is None:
                from core.engine.engine import Engine  # lazy: importing the engine loads its models

                engine = Engine(stack, stack.settings)
                holder["engine"] = engine
        result: Answer = engine.ask(question, platform=platform, now=now)  # type: ignore[attr-defined]
        return result

    return ask


@dataclass
class BotServices:
    """The store, the engine (`ask`) and metrics, plus one Conversation per platform.

    `ask_at`, when set, is the same engine with `now` pinnable; alert investigations use it so
    the engine's present is the moment the alert arrived (see `ask_alert`)."""

    settings: Settings
    db: RelationalStore
    ask: AskFn
    metrics: BotMetrics = field(default_factory=BotMetrics)
    ask_at: AskAtFn | None = None
    _conversations: dict[str, Conversation] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_stack(cls, stack: Stack, *, metrics: BotMetrics | None = None, ask: AskFn | None = None) -> BotServices:
        metrics = metrics or BotMetrics()
        if ask is not None:
            return cls(settings=stack.settings, db=stack.db, ask=ask, metrics=metrics)
        engine = engine_ask(stack)
        return cls(settings=stack.settings, db=stack.db, ask=engine, metrics=metrics, ask_at=engine)

    def ask_alert(self, question: Question, now: datetime) -> Answer:
        """Ask on the `alert` platform with the engine's present pinned to `now` when the engine
        allows it (`ask_at`); a plain `ask` gets the question alone, whose window already ends at `now`."""
        if self.ask_at is not None:
            return self.ask_at(question, ALERT_PLATFORM, now)
        return self.ask(question, ALERT_PLATFORM)

    @property
    def answers(self) -> AnswerLog:
        return AnswerLog(self.db)

    def desk(self) -> IncidentDesk:
        return IncidentDesk(self.db, ask=self.ask, answers=self.answers)

    def conversation(self, platform: str) -> Conversation:
        """The platform's Conversation (one per platform, so its rate limiter is shared)."""
        with self._lock:
            conv = self._conversations.get(platform)
            if conv is None:
                if platform == "slack":
                    allowed, per_min, setting = (
                        self.settings.slack.allowed_channels,
                        self.settings.slack.rate_limit_per_minute,
                        "SHERLOG_SLACK__ALLOWED_CHANNELS",
                    )
                elif platform == "discord":
                    allowed, per_min, setting = (
                        self.settings.discord.allowed_channels,
                        self.settings.discord.rate_limit_per_minute,
                        "SHERLOG_DISCORD__ALLOWED_CHANNELS",
                    )
                else:  # the console is the operator's own terminal: no allowlist, no limit that bites
                    allowed, per_min, setting = [], 10_000, ""
                conv = Conversation(
                    platform=platform,
                    ask=self.ask,
                    db=self.db,
                    allowlist=ChannelAllowlist(allowed, setting=setting),
                    limiter=RateLimiter(max(1, per_min)),
                    metrics=self.metrics,
                    answers=self.answers,
                )
                self._conversations[platform] = conv
            return conv

    def parse(self, text: str) -> Command | Reply:
        """A parsed command, or the ephemeral error reply (with usage) for bad text."""
        try:
            return parse_command(text)
        except SherlogError as e:
            return Reply.from_error(e)

    def screen_command(self, cmd: Command, ctx: CommandContext) -> Reply | None:
        """The refusal for a verb over the user's rate limit (engine verbs only), else None."""
        if cmd.verb not in ENGINE_VERBS:
            return None
        refusal = self.conversation(ctx.platform).limit(ctx.user)
        if refusal is None:
            return None
        self.metrics.incident_commands.labels(ctx.platform, cmd.verb, "refused").inc()
        return Reply(text=refusal.reason, hint=refusal.hint, ephemeral=True, error=True)

    def run_command(self, cmd: Command, ctx: CommandContext, *, screened: bool = False) -> Reply:
        """Run a verb, counting it in the metrics. Engine verbs (`rca`) count against the user's
        rate limit like questions do, unless the caller already `screen_command`ed it."""
        if not screened:
            refusal = self.screen_command(cmd, ctx)
            if refusal is not None:
                return refusal
        reply = self.desk().execute(cmd, ctx)
        self.metrics.incident_commands.labels(ctx.platform, cmd.verb, "error" if reply.error else "ok").inc()
        return reply
