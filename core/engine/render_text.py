"""Render an Answer as plain text or Markdown: the CLI's `--plain` output and the chat fallback.

Sections appear only when they have content, in the order an on-call engineer reads them:
summary, root causes, causal path, evidence, runbooks, similar incidents, next steps, caveats,
and a footer with latency and tokens.
"""

from __future__ import annotations

from core.knowledge.schema import short_name
from core.model import Answer

MAX_EVIDENCE = 12


def _when(ts: object) -> str:
    from datetime import datetime

    return f"{ts:%H:%M:%S}" if isinstance(ts, datetime) else ""


def render(answer: Answer, *, markdown: bool = True, max_evidence: int = MAX_EVIDENCE) -> str:
    """The answer as Markdown (default) or plain text."""
    h = (lambda t: f"*{t}*") if markdown else (lambda t: f"{t.upper()}")
    code = (lambda t: f"`{t}`") if markdown else (lambda t: t)
    lines: list[str] = [answer.summary, ""]
    if answer.root_causes:
        lines.append(h("Root causes"))
        for i, rc in enumerate(answer.root_causes, 1):
            kind = f" — {rc.fault_kind.replace('_', ' ')}" if rc.fault_kind else ""
            lines.append(f"{i}. {short_name(rc.entity)}{kind} ({round(rc.confidence * 100)}%)")
            lines.append(f"   {rc.why}")
        lines.append("")
    if len(answer.causal_path) > 1:
        lines += [h("Causal path"), " → ".join(answer.causal_path), ""]
    if answer.evidence:
        lines.append(h("Evidence"))
        for e in answer.evidence[:max_evidence]:
            when = _when(e.ts)
            link = f" <{e.link}>" if e.link else ""
            lines.append(f"- {code(e.id)} {when + ' ' if when else ''}{e.text}{link}")
        if len(answer.evidence) > max_evidence:
            lines.append(f"- … {len(answer.evidence) - max_evidence} more (use --json for all)")
        lines.append("")
    if answer.runbooks:
        lines.append(h("Runbooks"))
        for rb in answer.runbooks:
            url = f" <{rb.url}>" if rb.url else ""
            lines.append(f"- {rb.title}{url}")
        lines.append("")
    if answer.similar_incidents:
        lines.append(h("Similar past incidents"))
        for si in answer.similar_incidents:
            res = f" — resolved by: {si.resolution}" if si.resolution else ""
            lines.append(f"- {si.title}{res}")
        lines.append("")
    if answer.next_steps:
        lines.append(h("Next steps"))
        lines += [f"{i}. {s}" for i, s in enumerate(answer.next_steps, 1)]
        lines.append("")
    if answer.caveats:
        lines.append(h("Caveats"))
        lines += [f"- {c}" for c in answer.caveats]
        lines.append("")
    lines.append(footer(answer))
    return "\n".join(lines).strip() + "\n"


def footer(answer: Answer) -> str:
    """`answered in 212 ms · template narration` (plus tokens and model when an LLM narrated)."""
    parts = [f"answered in {answer.cost.latency_ms:.0f} ms", f"{answer.narrated_by} narration"]
    if answer.cost.prompt_tokens or answer.cost.completion_tokens:
        parts.append(f"{answer.cost.prompt_tokens}+{answer.cost.completion_tokens} tokens")
    return " · ".join(parts)
