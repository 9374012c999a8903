"""Understanding a question by rules: intent, the entities it names, its time window, what it hints at.

Intents (first matching rule wins, in the order of `INTENT_RULES`):

| intent | asks | example |
|---|---|---|
| `runbook` | what to do / which runbook | "what's the runbook for DBConnectionPoolExhausted?" |
| `what_changed` | recent deploys and config changes | "what changed in the last 2h?" |
| `alerts` | summarise firing alerts | "summarize alerts" |
| `compare` | how two windows differ | "compare the last hour with yesterday" |
| `affected` | blast radius | "who is affected?" |
| `status` | is X healthy | "status of checkout" |
| `why` | root cause | "why is checkout failing?" |

A question no rule matches defaults to `why` with `certain=False`; only then, and only when a
model is configured, the engine may ask the LLM planner. Follow-ups ("what about memory on the
same node?", "and the database?") are marked so the engine resolves them against thread memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum

from core.engine.linker import EntityCatalog, LinkResult, link
from core.engine.timewin import ParsedTime, parse_time_phrases


class Intent(StrEnum):
    WHY = "why"
    WHAT_CHANGED = "what_changed"
    STATUS = "status"
    RUNBOOK = "runbook"
    ALERTS = "alerts"
    COMPARE = "compare"
    AFFECTED = "affected"


INTENT_RULES: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    (
        Intent.RUNBOOK,
        re.compile(
            r"\b(run ?books?|play ?books?|how (?:do|can|should) (?:i|we) (?:fix|mitigate|resolve|handle)|"
            r"what (?:should|do|can) (?:i|we) do|how to (?:fix|mitigate|resolve)|mitigation|remediat\w*)\b",
            re.I,
        ),
    ),
    (
        Intent.WHAT_CHANGED,
        re.compile(
            r"\bwhat(?:'s| has| have)? (?:\w+ )?changed\b|"
            r"\bwhat (?:was|got|has been) (?:deployed|released|rolled out)\b|"
            r"\b(?:recent|latest|any|list|show) (?:deploys?|deployments?|changes|releases?|rollouts?|config changes)\b|"
            r"\bwho (?:deployed|changed)\b|\bchanges? (?:to|on|in) \b",
            re.I,
        ),
    ),
    (
        Intent.ALERTS,
        re.compile(
            r"\b(?:summari[sz]e|list|show|which|what|any) (?:the |all |firing |active |open |current )*alerts?\b|"
            r"\balerts? (?:summary|firing|are firing|is firing)\b|\bwhat(?:'s| is) (?:alerting|firing|paging)\b",
            re.I,
        ),
    ),
    (
        Intent.COMPARE,
        re.compile(r"\bcompare\b|\bcompared (?:to|with)\b|\bversus\b|\bvs\.?\b|\bdiff(?:erence)? between\b", re.I),
    ),
    (
        Intent.AFFECTED,
        re.compile(
            r"\bwho(?:'s| is| are)? (?:\w+ )?(?:affected|impacted)\b|"
            r"\bwhat(?:'s| is| else is)? (?:\w+ )?(?:affected|impacted)\b|\bblast radius\b|"
            r"\bwhich (?:services|users|customers|teams|components) (?:are|were|is) (?:\w+ )?(?:affected|impacted)\b|"
            r"\bimpact of\b",
            re.I,
        ),
    ),
    (
        Intent.STATUS,
        re.compile(
            r"^\s*(?:@\S+\s+)?(?:status|health)\b|\bstatus of\b|\bhealth of\b|"
            r"\bhow(?:'s| is| are) (?:the )?[\w.-]+ (?:doing|looking)\b|"
            r"\bis (?:the )?[\w.-]+ (?:ok|okay|healthy|up|alive|fine)\b|"
            r"\bany(?:thing)? (?:wrong|problems?|issues?) with\b",
            re.I,
        ),
    ),
    (
        Intent.WHY,
        re.compile(
            r"\bwhy\b|\broot ?cause\b|\bwhat(?:'s| is) (?:going )?(?:wrong|broken|happening)\b|"
            r"\bwhat (?:broke|happened|caused)\b|"
            r"\bwhat(?:'s| is) causing\b|\b(?:investigate|diagnose|rca)\b|"
            r"\b(?:failing|slow|down|erroring|errors|broken|timing out|crash\w*|restarting|delayed|outage|degraded)\b",
            re.I,
        ),
    ),
)

_FOLLOW_UP = re.compile(
    r"^\s*(?:@\S+\s+)?(?:and|also|what about|how about|and what about|same for|then|ok(?:ay)?,? (?:and|what about))\b|"
    r"\b(?:same|that|this) (?:node|host|service|database|db|cache|queue|window|time)\b|\bthere\b",
    re.I,
)

# What a question hints the user cares about: used to prefer matching evidence in the answer.
_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("memory", re.compile(r"\b(memory|mem|oom\w*|heap|leak\w*|rss)\b", re.I)),
    ("cpu", re.compile(r"\b(cpu|throttl\w*|load)\b", re.I)),
    ("latency", re.compile(r"\b(slow\w*|latency|latent|timeouts?|timing out|delayed|p99|p50)\b", re.I)),
    ("errors", re.compile(r"\b(errors?|erroring|failing|failed|failures?|5xx|500s?|exceptions?)\b", re.I)),
    ("disk", re.compile(r"\b(disk|filesystem|storage|space|volume)\b", re.I)),
    ("network", re.compile(r"\b(network|packet|packets|dns|connectivity|partition)\b", re.I)),
    ("restarts", re.compile(r"\b(restart\w*|crash\w*|crashloop\w*)\b", re.I)),
)


@dataclass
class Understanding:
    """What the rules made of a question."""

    text: str
    intent: Intent
    certain: bool
    links: LinkResult
    time: ParsedTime
    hints: list[str] = field(default_factory=list)
    follow_up: bool = False

    @property
    def entity_ids(self) -> list[str]:
        return [e.id for e in self.links.entities]


def classify(text: str) -> tuple[Intent, bool]:
    """The intent by rules and whether a rule matched (False: defaulted to `why`)."""
    for intent, rx in INTENT_RULES:
        if rx.search(text):
            return intent, True
    return Intent.WHY, False


def hints_of(text: str) -> list[str]:
    """Topics the question mentions (memory, cpu, latency, errors, disk, network, restarts), in a fixed order."""
    return [name for name, rx in _HINTS if rx.search(text)]


def understand(text: str, catalog: EntityCatalog, now: datetime, tz: tzinfo) -> Understanding:
    """Apply every rule to `text` (see module docstring). Never raises on odd input."""
    clean = " ".join(text.split())[:2000]
    intent, certain = classify(clean)
    links = link(clean, catalog)
    time = parse_time_phrases(clean, now, tz)
    follow = bool(_FOLLOW_UP.search(clean)) or bool(links.kind_refs) or links.refers_back
    return Understanding(
        text=clean, intent=intent, certain=certain, links=links, time=time, hints=hints_of(clean), follow_up=follow
    )
