"""The plan: which evidence an intent needs (a fixed rule table), and an optional LLM planner for
questions the rules could not classify.

The planner is asked only when no intent rule matched and a model is configured. Its reply must
be a JSON object `{"intent": ..., "entities": [...], "since": ..., "until": ...}`; the intent must
be one Sherlog knows and the entities must be names in the catalog — anything else is dropped,
so a model can narrow a question but never invent a service or an intent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from core.engine.gather import run_one
from core.engine.linker import EntityCatalog
from core.engine.timewin import parse_point
from core.engine.understand import Intent
from core.ports import LLM

#: What each intent gathers. Everything runs in parallel within the per-gatherer time budget.
PLAN: dict[Intent, tuple[str, ...]] = {
    Intent.WHY: ("topology", "metrics", "logs", "alerts", "changes", "k8s", "history", "runbooks", "similar"),
    Intent.STATUS: ("topology", "metrics", "logs", "alerts", "changes", "k8s"),
    Intent.AFFECTED: ("topology", "metrics", "logs", "alerts", "changes", "k8s"),
    Intent.COMPARE: ("topology", "metrics"),
    Intent.WHAT_CHANGED: ("topology", "changes", "k8s"),
    Intent.ALERTS: ("alerts", "runbooks"),
    Intent.RUNBOOK: ("alerts", "runbooks"),
}

PLANNER_PROMPT = """Classify an SRE question. Reply with one JSON object and nothing else:
{"intent": one of ["why", "what_changed", "status", "runbook", "alerts", "compare", "affected"],
 "entities": [names of services/databases/nodes mentioned, copied exactly from KNOWN NAMES],
 "since": "HH:MM" or null, "until": "HH:MM" or null}"""


@dataclass
class LLMPlan:
    """What the planner contributed after validation."""

    intent: Intent | None = None
    entities: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    dropped: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None


def validate_plan(text: str, catalog: EntityCatalog, now: datetime, tz: tzinfo) -> LLMPlan:
    """Parse and validate the planner's reply; unknown intents/entities/times are dropped (and listed)."""
    plan = LLMPlan()
    m = re.search(r"\{.*\}", text, re.S)
    if not m:
        plan.dropped.append("reply was not JSON")
        return plan
    try:
        data = json.loads(m.group(0))
    except json.JSONDecodeError:
        plan.dropped.append("reply was not valid JSON")
        return plan
    if not isinstance(data, dict):
        plan.dropped.append("reply was not a JSON object")
        return plan
    raw_intent = data.get("intent")
    try:
        plan.intent = Intent(str(raw_intent))
    except ValueError:
        plan.dropped.append(f"unknown intent {raw_intent!r}")
    ents = data.get("entities") or []
    if isinstance(ents, list):
        for name in ents:
            hits = catalog.lookup(str(name))
            if hits:
                plan.entities.extend(h.id for h in hits)
            else:
                plan.dropped.append(f"unknown entity {name!r}")
    for key in ("since", "until"):
        raw = data.get(key)
        if raw:
            ts = parse_point(str(raw), now, tz)
            if ts is None:
                plan.dropped.append(f"unreadable {key} {raw!r}")
            else:
                setattr(plan, key, ts)
    plan.entities = list(dict.fromkeys(plan.entities))
    return plan


def llm_plan(
    llm: LLM, question: str, catalog: EntityCatalog, now: datetime, tz: tzinfo, *, timeout_s: float
) -> LLMPlan:
    """Ask the model to classify `question`; failures and timeouts propagate (the caller keeps the rules)."""
    names = ", ".join(e.name for e in catalog.entries[:200])
    messages = [
        {"role": "system", "content": PLANNER_PROMPT},
        {"role": "user", "content": f"KNOWN NAMES: {names}\nQUESTION: {question}"},
    ]
    out = run_one("planner", lambda: llm.complete(messages, max_tokens=120, timeout_s=timeout_s), timeout_s + 1.0)
    if not out.ok:
        raise RuntimeError(out.error or "planner failed")
    plan = validate_plan(out.value.text, catalog, now, tz)
    plan.prompt_tokens, plan.completion_tokens, plan.model = (
        out.value.prompt_tokens,
        out.value.completion_tokens,
        out.value.model,
    )
    return plan
