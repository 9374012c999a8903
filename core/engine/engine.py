"""The question-answering engine: understand → plan → gather (parallel, bounded) → rank → answer →
narrate → citation check → remember the thread.

`Engine(stack, settings).ask(Question(...), platform="slack", now=...)` always returns an Answer:
unknown names, empty windows, contradictory windows and unreachable stores are said in the
answer (summary or caveats), never raised. Without an LLM everything is deterministic: the same
data, question and `now` give the same ranking and the same evidence ids.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.engine import intents
from core.engine.answer import Names, to_answer
from core.engine.catalog import CatalogCache, catalog_from_telemetry
from core.engine.config import EngineConfig
from core.engine.evidence import EvidenceBook
from core.engine.gather import describe_error, run_one
from core.engine.investigate import Investigation, Investigator
from core.engine.linker import EntityCatalog
from core.engine.memory import ThreadMemory, ThreadState, thread_key
from core.engine.narrate import narrate
from core.engine.plan import llm_plan
from core.engine.resolve import Focus, resolve_focus
from core.engine.timewin import Window, parse_time_phrases, resolve_window, zone
from core.engine.understand import Intent, Understanding, understand
from core.model import Answer, Cost, Question
from core.settings import Settings
from core.wiring import Stack

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Everything known about one question before the intent-specific work."""

    question: Question
    now: datetime
    understanding: Understanding
    intent: Intent
    window: Window
    catalog: EntityCatalog
    graph_ok: bool
    focus: Focus
    book: EvidenceBook
    names: Names
    state: ThreadState | None
    caveats: list[str] = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    max_evidence: int = 40
    last: Investigation | None = None  # the investigation behind the answer, for thread memory


class Engine:
    """Answers questions about the systems in the knowledge graph (see module docstring)."""

    def __init__(self, stack: Stack, settings: Settings | None = None, *, config: EngineConfig | None = None) -> None:
        self.stack = stack
        self.settings = settings or stack.settings
        self.config = config or EngineConfig()
        self.tz = zone(self.settings.timezone)
        self._catalog = CatalogCache(self.config.catalog_ttl_s)
        self.investigator = Investigator(stack, self.config)

    # ------------------------------------------------------------------ public
    def ask(self, question: Question, *, platform: str = "cli", now: datetime | None = None) -> Answer:
        """Answer `question`; `now` pins the present (evaluation, tests). Never raises."""
        started = time.perf_counter()
        now = (now or datetime.now(UTC)).astimezone(UTC)
        try:
            answer = self._ask(question, platform, now)
        except Exception as e:  # the last guard: a bug must still produce an answer that says so
            log.exception("answering %r failed", question.text)
            answer = Answer(
                question=question.text,
                intent="why",
                summary=f"I could not answer this question because of an internal error: {describe_error(e)}.",
                caveats=[f"internal error: {describe_error(e)}"],
            )
        answer.cost.latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
        return answer

    def warm_up(self) -> None:
        """Load the catalog and the embedding model now, so the first question is as fast as the rest."""
        try:
            self._catalog.get(self.stack.graph)
            self.stack.embedder.embed(["warm up"])
        except Exception as e:  # warming is best effort; the question itself reports real problems
            log.info("warm-up incomplete: %s", describe_error(e))

    # ------------------------------------------------------------------ steps
    def _ask(self, q: Question, platform: str, now: datetime) -> Answer:
        caveats: list[str] = []
        key = thread_key(platform, q.channel, q.thread)
        state: ThreadState | None = None
        memory: ThreadMemory | None = None
        if key is not None:
            try:
                memory = ThreadMemory(self.stack.db)
                state = memory.load(key)
            except Exception as e:  # no memory is a degraded answer, not a failure
                caveats.append(f"thread memory unavailable: {describe_error(e)}")
                memory = None
        text = q.text or ""
        parsed = parse_time_phrases(text, now, self.tz)
        catalog, graph_ok = self._load_catalog(now, caveats)
        u = understand(text, catalog, now, self.tz)
        follow = u.follow_up and state is not None
        window = resolve_window(
            parsed,
            now,
            default=self.config.default_window,
            since=q.since,
            until=q.until,
            fallback=state.window() if follow and state is not None else None,
        )
        caveats.extend(window.problems)
        intent = u.intent
        cost = Cost()
        if not u.certain:
            if follow and state is not None:
                intent = Intent(state.intent) if state.intent in Intent._value2member_map_ else Intent.WHY
            elif self.stack.settings.llm.enabled:
                intent, window = self._plan(u, catalog, now, window, caveats, cost)
        book = EvidenceBook()
        focus = resolve_focus(u, catalog, state, book)
        caveats.extend(focus.notes)
        ctx = Context(
            q,
            now,
            u,
            intent,
            window,
            catalog,
            graph_ok,
            focus,
            book,
            Names(catalog),
            state,
            caveats,
            cost,
            max_evidence=self.config.max_evidence,
        )
        answer = intents.answer(ctx, self.investigator, self.stack)
        answer.caveats = list(dict.fromkeys(ctx.caveats + answer.caveats))
        self._narrate(answer, ctx)
        if memory is not None and key is not None:
            try:
                memory.save(key, intents.next_state(ctx, answer, state))
            except Exception as e:  # the answer stands without memory
                answer.caveats.append(f"could not save thread memory: {describe_error(e)}")
        return answer

    def _load_catalog(self, now: datetime, caveats: list[str]) -> tuple[EntityCatalog, bool]:
        try:
            return self._catalog.get(self.stack.graph), True
        except Exception as e:  # graph store down: fall back to the ids telemetry mentions
            caveats.append(f"graph store unreachable: {describe_error(e)}")
        since = now - self.config.default_window - self.config.baseline
        try:
            return catalog_from_telemetry(self.stack.db, since, now), False
        except Exception as e:
            caveats.append(f"relational store unreachable: {describe_error(e)}")
            return EntityCatalog([], source="none"), False

    def _plan(
        self, u: Understanding, catalog: EntityCatalog, now: datetime, window: Window, caveats: list[str], cost: Cost
    ) -> tuple[Intent, Window]:
        out = run_one(
            "planner",
            lambda: llm_plan(self.stack.llm, u.text, catalog, now, self.tz, timeout_s=self.config.plan_timeout_s),
            self.config.plan_timeout_s + 2.0,
        )
        if not out.ok:
            caveats.append(f"the LLM planner was unavailable ({out.error}); the question was read by rules")
            return u.intent, window
        plan = out.value
        cost.prompt_tokens += plan.prompt_tokens
        cost.completion_tokens += plan.completion_tokens
        cost.llm_model = plan.model
        if plan.entities and not u.links.entities:
            known = [e for i in plan.entities if (e := catalog.get(i)) is not None]
            u.links.entities = known
        if not window.explicit and (plan.since or plan.until):
            window = resolve_window(
                parse_time_phrases("", now, self.tz),
                now,
                default=self.config.default_window,
                since=plan.since,
                until=plan.until,
            )
        return plan.intent or u.intent, window

    def _narrate(self, answer: Answer, ctx: Context) -> None:
        llm = self.stack.llm if self.stack.settings.llm.enabled else None
        cfg = self.stack.settings.llm
        n = narrate(
            answer,
            llm,
            budget_tokens=cfg.token_budget,
            max_tokens=cfg.max_tokens,
            timeout_s=min(cfg.timeout_s, self.config.narrate_timeout_s),
        )
        answer.summary = n.summary
        if n.why is not None and answer.root_causes:
            answer.root_causes[0].why = n.why
        answer.narrated_by = n.by
        answer.cost = Cost(
            prompt_tokens=ctx.cost.prompt_tokens + n.cost.prompt_tokens,
            completion_tokens=ctx.cost.completion_tokens + n.cost.completion_tokens,
            llm_model=n.cost.llm_model or ctx.cost.llm_model,
        )
        if n.caveat:
            answer.caveats.append(n.caveat)


__all__ = ["Engine", "EngineConfig", "to_answer"]
