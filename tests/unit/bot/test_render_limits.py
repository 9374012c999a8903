"""Slack Block Kit and Discord embeds stay within the platforms' limits, whatever the answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.render import discord as drender
from bot.render import slack as srender
from bot.render.text import render_answer as text_answer
from bot.replies import Document, Reply
from core.model import (
    Answer,
    Cost,
    Evidence,
    EvidenceKind,
    RootCause,
    RunbookRef,
    SimilarIncident,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def huge_answer(n_evidence: int = 400, text_len: int = 900) -> Answer:
    evidence = [
        Evidence(
            id=f"ev-{i}",
            kind=EvidenceKind.LOG if i % 2 else EvidenceKind.METRIC,
            ts=T0 + timedelta(seconds=i),
            entity=f"service:prod/shop/svc-{i % 7}",
            text=f"line {i} <script>&amp; " + "x" * text_len,
            link=f"https://grafana.example/explore?i={i}",
        )
        for i in range(n_evidence)
    ]
    return Answer(
        question="why is checkout failing? " + "q" * 2000,
        summary="S" * 9000,
        root_causes=[
            RootCause(
                entity=f"database:prod/shop/db-{i}",
                confidence=0.9 - i / 20,
                why="W" * 5000,
                evidence_ids=[f"ev-{j}" for j in range(i, 300, 3)],
            )
            for i in range(10)
        ],
        evidence=evidence,
        causal_path=[f"service:prod/shop/hop-{i}" for i in range(300)],
        runbooks=[
            RunbookRef(id=f"rb-{i}", title="R" * 500, url="https://wiki/x", excerpt="E" * 3000) for i in range(9)
        ],
        similar_incidents=[SimilarIncident(id=f"INC-{i}", title="T" * 900, resolution="F" * 900) for i in range(9)],
        next_steps=["N" * 2500 for _ in range(30)],
        caveats=["C" * 2500 for _ in range(30)],
        cost=Cost(latency_ms=812.4, prompt_tokens=1234, completion_tokens=321, llm_model="ollama/llama3.1"),
    )


def small_answer() -> Answer:
    return Answer(
        question="why is checkout failing?",
        summary="orders-db ran out of connections.",
        root_causes=[
            RootCause(
                entity="database:sim/boutique/orders-db", confidence=0.81, why="pool exhausted", evidence_ids=["e1"]
            )
        ],
        evidence=[
            Evidence(
                id="e1",
                kind=EvidenceKind.LOG,
                ts=T0,
                entity="database:sim/boutique/orders-db",
                text="too many <clients>",
            ),
        ],
        causal_path=["database:sim/boutique/orders-db", "service:sim/boutique/checkout"],
        cost=Cost(latency_ms=120),
    )


def _texts(blocks: list[dict]) -> list[tuple[str, str]]:
    out = []
    for b in blocks:
        if "text" in b:
            out.append((b["type"], b["text"]["text"]))
        for f in b.get("fields", []):
            out.append(("field", f["text"]))
        for e in b.get("elements", []):
            if "text" in e and isinstance(e["text"], str):
                out.append(("context", e["text"]))
            elif "text" in e:
                out.append(("button", e["text"]["text"]))
    return out


def assert_slack_limits(msg: dict) -> None:
    blocks = msg["blocks"]
    assert 1 <= len(blocks) <= 50
    assert len(msg["text"]) <= 3000
    total = 0
    for kind, text in _texts(blocks):
        total += len(text)
        limit = {"header": 150, "section": 3000, "field": 2000, "context": 2000, "button": 75}[kind]
        assert len(text) <= limit, (kind, len(text))
    assert total <= 40_000
    for b in blocks:
        assert len(b.get("fields", [])) <= 10
        if b["type"] == "context":
            assert len(b["elements"]) <= 10
        if b["type"] == "actions":
            assert all(len(e["value"]) <= 2000 for e in b["elements"])
    json.dumps(msg)  # serialisable as Slack needs it


def test_slack_answer_of_any_size_fits_and_keeps_its_buttons() -> None:
    msg = srender.render_answer(huge_answer(), "slack:C1:123.456")
    assert_slack_limits(msg)
    actions = [b for b in msg["blocks"] if b["type"] == "actions"]
    assert len(actions) == 1
    ids = [e["action_id"] for e in actions[0]["elements"]]
    assert ids == [srender.ACTION_HELPFUL, srender.ACTION_UNHELPFUL, srender.ACTION_DECLARE, srender.ACTION_EVIDENCE]
    assert all(e["value"] == "slack:C1:123.456" for e in actions[0]["elements"])
    # telemetry text is escaped: a log line cannot forge markup
    assert "<script>" not in json.dumps(msg) and "&lt;script&gt;" in json.dumps(msg)


def test_slack_small_answer_has_every_section() -> None:
    msg = srender.render_answer(small_answer(), "slack:C1:1.1")
    assert_slack_limits(msg)
    flat = "\n".join(t for _, t in _texts(msg["blocks"]))
    assert msg["blocks"][0]["type"] == "header" and "orders-db" in msg["blocks"][0]["text"]["text"]
    assert "81% (high)" in flat
    assert "*Evidence* (1 of 1)" in flat and "`03-01 09:00:00`" in flat and "too many &lt;clients&gt;" in flat
    assert "*Causal path:* `orders-db` → `checkout`" in flat
    assert "answered in 120 ms" in flat
    # all evidence shown: no "show all evidence" button
    assert srender.ACTION_EVIDENCE not in json.dumps(msg)


def test_slack_all_evidence_splits_into_valid_messages() -> None:
    answer = huge_answer(n_evidence=1000)
    messages = srender.render_evidence(answer)
    assert len(messages) >= 2
    for m in messages:
        assert_slack_limits(m)
    shown = sum(t.count("• `") for m in messages for _, t in _texts(m["blocks"]))
    assert shown == 1000


def test_slack_reply_with_many_lines_fits() -> None:
    reply = Reply(
        text="t" * 5000,
        title="x" * 400,
        fields=[(f"k{i}", "v" * 3000) for i in range(25)],
        lines=["l" * 200 for _ in range(2000)],
        hint="h" * 3000,
        error=True,
    )
    assert_slack_limits(srender.render_reply(reply))


def test_slack_links_only_for_http_urls() -> None:
    assert srender.link("https://x/y", "open") == "<https://x/y|open>"
    assert srender.link("javascript:alert(1)", "open") == "open"
    assert srender.link(None, "open") == "open"


def test_slack_document_split_keeps_every_line() -> None:
    md = "\n".join(f"line {i} " + "z" * 100 for i in range(500))
    chunks = srender.split_document(Document("a.md", "A", md))
    assert all(len(c) <= 3000 for c in chunks)
    assert "\n".join(chunks) == md


def assert_discord_limits(embed) -> None:
    d = embed.to_dict()
    assert len(d.get("title", "")) <= 256
    assert len(d.get("description", "")) <= 4096
    assert len(d.get("fields", [])) <= 25
    for f in d.get("fields", []):
        assert len(f["name"]) <= 256 and len(f["value"]) <= 1024
    assert len(d.get("footer", {}).get("text", "")) <= 2048
    assert len(embed) <= 6000


def test_discord_answer_of_any_size_fits() -> None:
    embed = drender.answer_embed(huge_answer())
    assert_discord_limits(embed)
    view = drender.answer_view(huge_answer(), "discord:1:2")
    ids = [c.custom_id for c in view.children]  # type: ignore[attr-defined]
    assert ids == [f"sherlog:{a}:discord:1:2" for a in ("helpful", "unhelpful", "declare", "evidence")]
    assert all(len(i) <= 100 for i in ids)
    assert drender.parse_custom_id(ids[2]) == ("declare", "discord:1:2")
    assert drender.parse_custom_id("other:thing") is None


def test_discord_small_answer_names_the_cause() -> None:
    embed = drender.answer_embed(small_answer())
    d = embed.to_dict()
    assert "orders-db" in d["title"]
    names = [f["name"] for f in d["fields"]]
    assert names[:3] == ["Root cause", "Evidence (1 of 1)", "Causal path"]
    assert "answered in 120 ms" in d["footer"]["text"]


def test_discord_all_evidence_messages_fit() -> None:
    messages = drender.evidence_embeds(huge_answer(n_evidence=600))
    for embeds in messages:
        assert len(embeds) <= 10
        assert sum(len(e) for e in embeds) <= 6000
        for e in embeds:
            assert_discord_limits(e)
    assert sum(str(e.description).count("• `") for m in messages for e in m) == 600


def test_discord_reply_fits() -> None:
    reply = Reply(
        text="t" * 9000,
        title="x" * 400,
        fields=[(f"k{i}", "v" * 3000) for i in range(40)],
        lines=["l" * 300 for _ in range(500)],
        hint="h" * 3000,
    )
    assert_discord_limits(drender.reply_embed(reply))


def test_text_answer_lists_everything_and_can_show_all_evidence() -> None:
    text = text_answer(small_answer())
    assert text.startswith("Root cause: orders-db — confidence 81% (high)")
    assert "[2026-03-01 09:00:00 UTC] log orders-db: too many <clients> {e1}" in text
    full = text_answer(huge_answer(n_evidence=50, text_len=10), evidence_limit=None)
    assert "Evidence (50 of 50)" in full
