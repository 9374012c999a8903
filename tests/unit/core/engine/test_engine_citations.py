"""The citation check that guards LLM narration, the reply parser, and the prompt's token budget."""

from __future__ import annotations

import pytest

from core.engine.evidence import EvidenceBook, cited_ids, evidence_id, make_evidence
from core.engine.narrate import build_prompt, check_citations, parse_reply, sentences
from core.llm.budget import estimate_tokens
from core.model import Answer, Evidence, EvidenceKind, RootCause

VALID = {"ev-metric-3f2a9c1b", "ev-log-0a1b2c3d"}


def test_well_cited_narration_passes() -> None:
    parts = [
        "orders-db is the most likely cause (confidence 99%) [ev-metric-3f2a9c1b].",
        "Its connections hit the limit [ev-metric-3f2a9c1b]. "
        "Checkout logs name it [ev-log-0a1b2c3d, ev-metric-3f2a9c1b].",
    ]
    assert check_citations(parts, VALID) == []


def test_invented_id_is_rejected() -> None:
    problems = check_citations(["orders-db ran out of connections [ev-metric-deadbeef]."], VALID)
    assert problems == ["cites evidence that does not exist: ev-metric-deadbeef"]


def test_sentence_without_citation_is_rejected() -> None:
    problems = check_citations(
        ["orders-db ran out of connections [ev-metric-3f2a9c1b]. The DBA should be paged immediately."], VALID
    )
    assert len(problems) == 1 and problems[0].startswith("sentence cites no evidence")


def test_malformed_id_is_rejected() -> None:
    problems = check_citations(["orders-db is down [ev-metric-xyz]."], VALID)
    assert any("malformed" in p for p in problems)


def test_quoted_log_line_does_not_split_sentences() -> None:
    text = 'checkout logged "failed. Retrying now. Giving up" many times [ev-log-0a1b2c3d].'
    assert sentences(text) == [text]
    assert check_citations([text], VALID) == []


def test_very_short_fragments_and_questions_need_no_citation() -> None:
    assert check_citations(["Root cause found. orders-db is saturated [ev-metric-3f2a9c1b]."], VALID) == []
    assert check_citations(["Did you mean 'checkout'? It is down [ev-metric-3f2a9c1b]."], VALID) == []


@pytest.mark.parametrize(
    ("reply", "summary", "why"),
    [
        (
            '{"summary": "A [ev-log-0a1b2c3d].", "why": ["B [ev-log-0a1b2c3d]."]}',
            "A [ev-log-0a1b2c3d].",
            ["B [ev-log-0a1b2c3d]."],
        ),
        ('```json\n{"summary": "A.", "why": "B."}\n```', "A.", ["B."]),
        ('Sure! Here it is: {"summary": "A."} Hope that helps', "A.", []),
    ],
)
def test_parse_reply_accepts_json_in_common_wrappers(reply: str, summary: str, why: list[str]) -> None:
    assert parse_reply(reply) == (summary, why)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("the root cause is the database", "not a JSON object"),
        ('{"summary": ', "not a JSON object"),
        ('{"summary": 3}', 'no "summary"'),
        ('{"summary": "A.", "why": [1, 2]}', "not a list of strings"),
        ("node cpu database error timeout the a of", "not a JSON object"),
    ],
)
def test_parse_reply_rejects_garbage(reply: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_reply(reply)


def test_evidence_ids_are_stable_hashes() -> None:
    a = evidence_id(EvidenceKind.METRIC, "service:x/y/z", "cpu", 1.0)
    assert a == evidence_id(EvidenceKind.METRIC, "service:x/y/z", "cpu", 1.0)
    assert a != evidence_id(EvidenceKind.METRIC, "service:x/y/z", "cpu", 2.0)
    assert a.startswith("ev-metric-") and cited_ids(f"see [{a}]") == [a]


def test_book_keeps_first_of_duplicates_in_order() -> None:
    book = EvidenceBook()
    e1 = make_evidence(EvidenceKind.LOG, "a", "first", key=("k",))
    e2 = make_evidence(EvidenceKind.LOG, "a", "second", key=("k",))
    e3 = make_evidence(EvidenceKind.ALERT, "a", "third", key=("k",))
    for e in (e1, e2, e3):
        book.add(e)
    assert [e.text for e in book.items()] == ["first", "third"]


def test_prompt_respects_the_token_budget() -> None:
    evidence = [
        Evidence(id=f"ev-log-{i:08x}", kind=EvidenceKind.LOG, text="x " * 300, entity="service:a", score=float(i))
        for i in range(60)
    ]
    answer = Answer(
        question="why?",
        summary="A [ev-log-00000001].",
        root_causes=[
            RootCause(entity="service:a", confidence=0.9, why="B [ev-log-00000001].", evidence_ids=["ev-log-00000001"])
        ],
        evidence=evidence,
    )
    messages = build_prompt(answer, budget_tokens=1500)
    assert estimate_tokens(messages) <= 1500
    assert "ev-log-00000001" in messages[1]["content"]  # cited evidence goes first
    assert "use ONLY the facts" in messages[0]["content"].replace("Use ONLY", "use ONLY")
