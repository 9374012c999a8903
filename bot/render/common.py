"""Helpers every renderer shares: entity names, truncation, answer sections as plain lines."""

from __future__ import annotations

from core.model import Answer, Evidence

ELLIPSIS = "…"


def short_entity(entity_id: str) -> str:
    """`database:sim/boutique/orders-db` → `orders-db`; a plain name is returned as is."""
    tail = entity_id.split(":", 1)[-1]
    return tail.rsplit("/", 1)[-1] or entity_id


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def pack_lines(lines: list[str], limit: int) -> list[str]:
    """Group lines into chunks of at most `limit` characters (a line longer than that is clipped)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = clip(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def confidence_label(confidence: float) -> str:
    """`82% (high)`."""
    band = "high" if confidence >= 0.7 else "medium" if confidence >= 0.4 else "low"
    return f"{confidence:.0%} ({band})"


_INTENT_TITLES = {
    "what_changed": "What changed",
    "status": "Status",
    "runbook": "Runbook",
    "alerts": "Alerts",
    "compare": "Comparison",
    "affected": "What is affected",
}


def headline(answer: Answer) -> str:
    """One line naming the top root cause; for other questions (what changed, status, ...) their topic."""
    if answer.root_causes:
        top = answer.root_causes[0]
        return f"Root cause: {short_entity(top.entity)} — confidence {confidence_label(top.confidence)}"
    if answer.intent in _INTENT_TITLES:
        return _INTENT_TITLES[answer.intent]
    return "No root cause identified"


def ordered_evidence(answer: Answer) -> list[Evidence]:
    """Evidence cited by the top causes first (in citation order), then the rest by time."""
    by_id = {e.id: e for e in answer.evidence}
    cited: list[Evidence] = []
    seen: set[str] = set()
    for rc in answer.root_causes:
        for eid in rc.evidence_ids:
            if eid in by_id and eid not in seen:
                cited.append(by_id[eid])
                seen.add(eid)
    rest = [e for e in answer.evidence if e.id not in seen]
    rest.sort(key=lambda e: (e.ts is None, e.ts.isoformat() if e.ts else ""))
    return cited + rest


def cost_line(answer: Answer) -> str:
    """Latency, tokens and who narrated, for a context footer."""
    c = answer.cost
    parts = [f"answered in {c.latency_ms:,.0f} ms"]
    if c.llm_model:
        parts.append(f"LLM {c.llm_model}: {c.prompt_tokens:,}+{c.completion_tokens:,} tokens")
    else:
        parts.append("no LLM")
    parts.append(f"narration: {answer.narrated_by}")
    parts.append(f"{len(answer.evidence)} evidence items")
    return " · ".join(parts)
