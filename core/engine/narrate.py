"""Narration: the LLM rewrites the template narration from the evidence only, or the templates stand.

With a model configured, the summary and the top cause's "why" are handed to it with the
evidence, under a strict system prompt (use only the evidence, cite ids like `[ev-...]`, add no
facts, answer in JSON `{"summary": ..., "why": [...]}`) and within the token budget. The reply is
accepted only if `check_citations` passes: valid JSON of that shape, every sentence cites at
least one id, and every cited id is one of the answer's evidence ids. Anything else — a timeout,
a refusal, prose instead of JSON, one invented id — keeps the template narration and adds a
caveat saying why.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.engine.evidence import EVIDENCE_ID, cited_ids
from core.engine.gather import run_one
from core.errors import LLMError
from core.llm.budget import estimate_tokens
from core.model import Answer, Cost, Evidence
from core.ports import LLM, LLMResult

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """You are Sherlog, an SRE assistant writing the reply to an on-call engineer.
Rules, all mandatory:
1. Use ONLY the facts in the EVIDENCE list and the RANKED CAUSES below. Add no other facts, numbers, names or guesses.
2. Every sentence must cite at least one evidence id in square brackets exactly as given, e.g. [ev-metric-3f2a9c1b].
3. Cite only ids that appear in the EVIDENCE list.
4. Be brief: a summary of one or two sentences naming the most likely cause and its confidence,
   then at most five "why" sentences.
5. Reply with one JSON object and nothing else: {"summary": "...", "why": ["...", "..."]}"""

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_MIN_WORDS = 3


@dataclass
class Narration:
    """The narration an answer ends up with."""

    summary: str
    why: str | None
    by: str
    cost: Cost = field(default_factory=Cost)
    caveat: str | None = None


def sentences(text: str) -> list[str]:
    """Split prose into sentences (on ., ! or ? followed by a capital, digit, quote or bracket).

    Text inside double quotes (a quoted log line) never ends a sentence.
    """
    out: list[str] = []
    buf: list[str] = []
    for i, chunk in enumerate(re.split(r'("[^"]*")', text.strip())):
        if i % 2 == 1:  # a quoted span: part of the current sentence
            buf.append(chunk)
            continue
        pieces = _SENTENCE.split(chunk)
        for j, piece in enumerate(pieces):
            buf.append(piece)
            if j < len(pieces) - 1:
                out.append("".join(buf).strip())
                buf = []
    out.append("".join(buf).strip())
    return [s for s in out if s]


def check_citations(parts: list[str], valid: set[str]) -> list[str]:
    """Problems with the citations in `parts` (empty list: all good).

    Every sentence of at least three words that is not a question must cite an id, and every cited id
    must be in `valid`.
    """
    problems: list[str] = []
    for part in parts:
        for s in sentences(part):
            if len(s.split()) < _MIN_WORDS or s.endswith("?"):
                continue  # fragments and questions ("did you mean 'checkout'?") claim nothing
            ids = cited_ids(s)
            if not ids:
                problems.append(f'sentence cites no evidence: "{s[:120]}"')
            unknown = [i for i in ids if i not in valid]
            if unknown:
                problems.append(f"cites evidence that does not exist: {', '.join(unknown)}")
        # an id-looking token outside the strict pattern (e.g. "[ev-metric-xyz]") is a made-up citation too
        for token in re.findall(r"\[(ev-[^\]\s,]+)", part):
            if not EVIDENCE_ID.fullmatch(token) and f"cites malformed evidence id {token}" not in problems:
                problems.append(f"cites malformed evidence id {token}")
    return list(dict.fromkeys(problems))


def parse_reply(text: str) -> tuple[str, list[str]]:
    """`(summary, why)` from the model's JSON reply; ValueError naming what is wrong."""
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", body, re.S)
    if fence:
        body = fence.group(1).strip()
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("the reply is not a JSON object")
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as e:
        raise ValueError(f"the reply is not valid JSON ({e.msg})") from e
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    summary, why = data.get("summary"), data.get("why", [])
    if not isinstance(summary, str) or not summary.strip():
        raise ValueError('the reply has no "summary" string')
    if isinstance(why, str):
        why = [why]
    if not isinstance(why, list) or not all(isinstance(w, str) for w in why):
        raise ValueError('"why" is not a list of strings')
    return summary.strip(), [w.strip() for w in why if w.strip()]


COMPACT_PROMPT = (
    'Reply only with JSON {"summary": "...", "why": ["..."]}. Use only the evidence. '
    "End every sentence with an evidence id in brackets, e.g. [ev-metric-0a1b2c3d]."
)


def build_prompt(
    answer: Answer, budget_tokens: int, count: Callable[[list[dict[str, str]]], int] = estimate_tokens
) -> list[dict[str, str]]:
    """System + user messages with the ranked causes and as much evidence as fits the budget.

    Small context windows get the compact variant: the same rules in one line, causes without the
    template text, evidence without kinds.
    """
    cited = {i for c in answer.root_causes for i in c.evidence_ids} | set(cited_ids(answer.summary))
    ordered = sorted(answer.evidence, key=lambda e: (e.id not in cited, -e.score, e.id))
    full_header: dict[str, Any] = {
        "question": answer.question,
        "ranked_causes": [
            {"entity": c.entity, "confidence": round(c.confidence, 2), "fault": c.fault_kind, "template_why": c.why}
            for c in answer.root_causes
        ],
        "template_summary": answer.summary,
        "caveats": answer.caveats,
    }
    compact_header: dict[str, Any] = {
        "question": answer.question[:160],
        "cause": [{"entity": c.entity, "confidence": round(c.confidence, 2)} for c in answer.root_causes[:1]],
    }
    full = _fill(SYSTEM_PROMPT, full_header, ordered, budget_tokens, count, compact=False)
    if full is not None:
        return full
    return _fill(COMPACT_PROMPT, compact_header, ordered, budget_tokens, count, compact=True) or []


def _fill(
    system: str,
    header: dict[str, Any],
    ordered: list[Evidence],
    budget_tokens: int,
    count: Callable[[list[dict[str, str]]], int],
    *,
    compact: bool,
) -> list[dict[str, str]] | None:
    """The messages with as much evidence as fits; None when not even one item fits (unless compact)."""
    evidence: list[dict[str, str]] = []

    def messages() -> list[dict[str, str]]:
        user = json.dumps({**header, "evidence": evidence}, ensure_ascii=False, default=str)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    for e in ordered:
        if compact:
            evidence.append({"id": e.id, "text": e.text[:100]})
        else:
            evidence.append({"id": e.id, "kind": e.kind.value, "entity": e.entity or "", "text": e.text[:400]})
        if count(messages()) > budget_tokens:
            evidence.pop()
            break
    if not evidence and not compact:
        return None
    return messages()


def narrate_with_llm(llm: LLM, answer: Answer, *, budget_tokens: int, max_tokens: int, timeout_s: float) -> Narration:
    """Ask the model; check its citations; raise ValueError (reason) when the narration is unusable.

    LLM failures and timeouts propagate as exceptions too; `narrate` turns all of them into a caveat.
    """
    # count the way the model's budget check will (its tokenizer), else estimate
    counter = getattr(llm, "count_tokens", None)
    messages = build_prompt(answer, budget_tokens, counter if callable(counter) else estimate_tokens)
    out = run_one("llm", lambda: llm.complete(messages, max_tokens=max_tokens, timeout_s=timeout_s), timeout_s + 1.0)
    if not out.ok:
        raise TimeoutError(out.error or "no reply") if out.timed_out else RuntimeError(out.error or "failed")
    res: LLMResult = out.value
    cost = Cost(
        prompt_tokens=res.prompt_tokens,
        completion_tokens=res.completion_tokens,
        latency_ms=res.latency_ms,
        llm_model=res.model,
    )
    try:
        summary, why = parse_reply(res.text)
    except ValueError as e:
        raise NarrationRejected(str(e), cost) from e
    problems = check_citations([summary, *why], answer.evidence_ids())
    if problems:
        raise NarrationRejected("; ".join(problems[:3]), cost)
    return Narration(summary=summary, why=" ".join(why) if why else None, by=f"llm:{res.model}", cost=cost)


class NarrationRejected(ValueError):
    """The model answered, but its narration failed the checks; `cost` is what the attempt spent."""

    def __init__(self, reason: str, cost: Cost) -> None:
        super().__init__(reason)
        self.cost = cost


def narrate(answer: Answer, llm: LLM | None, *, budget_tokens: int, max_tokens: int, timeout_s: float) -> Narration:
    """LLM narration when a model is configured and its reply passes the checks, else the template's."""
    template = Narration(
        summary=answer.summary, why=answer.root_causes[0].why if answer.root_causes else None, by="template"
    )
    if llm is None or not getattr(llm, "available", False):
        return template
    try:
        return narrate_with_llm(llm, answer, budget_tokens=budget_tokens, max_tokens=max_tokens, timeout_s=timeout_s)
    except NarrationRejected as e:
        template.cost = e.cost
        template.caveat = f"the language model's narration was rejected ({e}); showing the template narration"
    except TimeoutError as e:
        template.caveat = f"the language model did not answer in time ({e}); showing the template narration"
    except Exception as e:  # any model/transport failure: the template narration stands, with the reason
        # the model's own failures are expected and said in the caveat; anything else is worth a traceback
        expected = isinstance(e, LLMError) or (isinstance(e, RuntimeError) and not e.__cause__)
        log.warning("LLM narration failed: %s", e, exc_info=not expected)
        reason = (str(e).splitlines() or [type(e).__name__])[0][:240]
        template.caveat = f"the language model is unavailable ({reason}); showing the template narration"
    return template
