"""Every `/incident` verb against a real (SQLite) incident store: reply, store change, timeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.incidents import CommandContext, IncidentDesk
from core.db.store import RelationalStore
from core.model import Answer, Evidence, EvidenceKind, Question, RootCause

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[RelationalStore]:
    store = RelationalStore(f"sqlite:///{tmp_path / 'bot.db'}")
    yield store
    store.close()


def ctx(minutes: float, *, channel: str = "C1", thread: str | None = None, user: str = "<@U1>") -> CommandContext:
    return CommandContext(
        platform="slack", channel=channel, thread=thread, user=user, now=T0 + timedelta(minutes=minutes)
    )


def test_declare_creates_an_open_incident_with_a_declared_entry(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    reply = desk.handle_text("declare Checkout failing sev2", ctx(0))
    assert not reply.error and reply.new_incident
    assert reply.incident_key is not None and reply.incident_key.startswith("INC-")
    assert reply.incident_key in reply.text and "SEV2" in reply.text
    inc = db.get_incident(reply.incident_key)
    assert (inc.title, inc.severity, inc.status, inc.channel) == ("Checkout failing", 2, "open", "C1")
    assert inc.created_at == T0
    [entry] = db.timeline(inc.key)
    assert (entry.kind, entry.text, entry.author, entry.ts) == ("declared", "Checkout failing", "<@U1>", T0)


def test_lifecycle_stamps_exact_mtta_and_mttr(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    key = desk.handle_text("declare Checkout failing", ctx(0)).incident_key
    assert key is not None

    status = desk.handle_text("status", ctx(1))
    assert dict(status.fields)["Status"] == "open" and dict(status.fields)["Open for"] == "1m 00s"

    lead = desk.handle_text("lead <@U2|bob>", ctx(3))
    assert "<@U2> is now the lead" in lead.text and "Acknowledged after 3m 00s" in lead.text
    inc = db.get_incident(key)
    assert (inc.lead, inc.status, inc.acknowledged_at) == ("<@U2>", "acknowledged", T0 + timedelta(minutes=3))

    # a second lead change does not move acknowledgement
    desk.handle_text("lead <@U3>", ctx(4))
    assert db.get_incident(key).acknowledged_at == T0 + timedelta(minutes=3)
    assert "already acknowledged" in desk.handle_text("ack", ctx(5)).text

    assert "severity SEV3 → SEV1" in desk.handle_text("sev sev1", ctx(6)).text
    assert db.get_incident(key).severity == 1
    assert "already SEV1" in desk.handle_text("sev 1", ctx(6.5)).text

    assert "rolled back" in desk.handle_text("update rolled back orders-db config", ctx(7)).text
    desk.handle_text("note customers saw 502s", ctx(8))
    mit = desk.handle_text("mitigate errors back to baseline", ctx(20))
    assert "mitigated after 20m 00s" in mit.text
    res = desk.handle_text("resolve pool size raised to 200", ctx(45))
    assert "Time to resolve 45m 00s" in res.text and "acknowledged after 3m 00s" in res.text

    inc = db.get_incident(key)
    assert inc.status == "resolved"
    assert inc.mitigated_at == T0 + timedelta(minutes=20)
    assert inc.resolved_at == T0 + timedelta(minutes=45)
    assert inc.resolution == "pool size raised to 200" and inc.summary == "pool size raised to 200"
    kinds = [(e.kind, e.ts) for e in db.timeline(key)]
    assert kinds == [
        ("declared", T0),
        ("lead", T0 + timedelta(minutes=3)),
        ("acknowledged", T0 + timedelta(minutes=3)),
        ("lead", T0 + timedelta(minutes=4)),
        ("sev", T0 + timedelta(minutes=6)),
        ("update", T0 + timedelta(minutes=7)),
        ("note", T0 + timedelta(minutes=8)),
        ("mitigated", T0 + timedelta(minutes=20)),
        ("resolved", T0 + timedelta(minutes=45)),
    ]

    timeline = desk.handle_text("timeline", ctx(46))
    assert len(timeline.lines) == 9 and "2026-03-01 09:07:00 UTC · update <@U1>: rolled back" in timeline.lines[5]

    # resolved: write verbs refuse, read verbs still work
    again = desk.handle_text("resolve", ctx(47))
    assert again.error and again.ephemeral and "no open incident" in again.text
    assert dict(desk.handle_text("status", ctx(48)).fields)["Resolved"].endswith("(MTTR 45m 00s)")


def test_resolve_straight_from_open_stamps_every_milestone(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    key = desk.handle_text("declare Flaky alert", ctx(0)).incident_key
    assert key is not None
    desk.handle_text("resolve false alarm", ctx(10))
    inc = db.get_incident(key)
    t = T0 + timedelta(minutes=10)
    assert (inc.acknowledged_at, inc.mitigated_at, inc.resolved_at) == (t, t, t)


def test_verbs_find_the_channel_incident_or_the_named_one(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    a = desk.handle_text("declare A broke", ctx(0, channel="C-A")).incident_key
    b = desk.handle_text("declare B broke", ctx(1, channel="C-B")).incident_key
    assert a and b
    desk.handle_text("note from channel B", ctx(2, channel="C-B"))
    assert [e.kind for e in db.timeline(b)] == ["declared", "note"]
    assert [e.kind for e in db.timeline(a)] == ["declared"]
    # named explicitly from anywhere
    desk.handle_text(f"note {a} cross-posted", ctx(3, channel="C-ELSE"))
    assert db.timeline(a)[-1].text == "cross-posted"
    missing = desk.handle_text("status", ctx(4, channel="C-NONE"))
    assert missing.error and missing.hint and "declare" in missing.hint
    unknown = desk.handle_text("status INC-999", ctx(4))
    assert unknown.error and "INC-999" in unknown.text


def test_thread_incident_wins_over_the_newest_in_the_channel(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    first = desk.handle_text("declare First", ctx(0, thread="T1")).incident_key
    desk.handle_text("declare Second", ctx(1))
    desk.handle_text("note in thread one", ctx(2, thread="T1"))
    assert first is not None and db.timeline(first)[-1].text == "in thread one"


def test_list_and_help_and_unknown_verbs(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    assert "No open incidents" in desk.handle_text("list", ctx(0)).text
    desk.handle_text("declare One sev1", ctx(0))
    desk.handle_text("declare Two", ctx(1))
    listing = desk.handle_text("list", ctx(5))
    assert len(listing.lines) == 2 and "Two" in listing.lines[0] and "SEV1" in listing.lines[1]
    help_ = desk.handle_text("help", ctx(0))
    assert help_.ephemeral and any("declare <title>" in line for line in help_.lines)
    bad = desk.handle_text("explode", ctx(0))
    assert bad.error and bad.ephemeral and "explode" in bad.text and bad.hint and "/incident resolve" in bad.hint


def _answer(question: str) -> Answer:
    ev = [
        Evidence(
            id="ev-1",
            kind=EvidenceKind.LOG,
            ts=T0,
            entity="database:sim/boutique/orders-db",
            text="FATAL: sorry, too many clients already",
        ),
        Evidence(
            id="ev-2", kind=EvidenceKind.ALERT, ts=T0, entity="service:sim/boutique/checkout", text="HighErrorRate"
        ),
    ]
    return Answer(
        question=question,
        summary="orders-db ran out of connections; checkout fails to place orders.",
        root_causes=[
            RootCause(
                entity="database:sim/boutique/orders-db",
                confidence=0.83,
                why="connection pool exhausted first, upstream of checkout",
                evidence_ids=["ev-1"],
                fault_kind="db_pool_exhaustion",
            )
        ],
        evidence=ev,
        causal_path=["database:sim/boutique/orders-db", "service:sim/boutique/checkout"],
        next_steps=["Kill the long-running locking queries"],
    )


def test_rca_asks_the_engine_records_the_cause_and_feeds_the_postmortem(db: RelationalStore) -> None:
    asked: list[tuple[Question, str]] = []

    def ask(q: Question, platform: str) -> Answer:
        # the engine is a collaborator passed in; this records what the desk asks it
        asked.append((q, platform))
        return _answer(q.text)

    desk = IncidentDesk(db, ask=ask)
    key = desk.handle_text("declare Checkout failing sev2", ctx(0, thread="T9")).incident_key
    assert key is not None
    reply = desk.handle_text("rca", ctx(2, thread="T9"))
    assert reply.answer is not None and not reply.error
    [(question, platform)] = asked
    assert question.text == "why Checkout failing?" and (question.channel, question.thread) == ("C1", "T9")
    assert platform == "slack"
    inc = db.get_incident(key)
    assert (inc.root_cause, inc.fault_kind) == ("database:sim/boutique/orders-db", "db_pool_exhaustion")
    assert db.timeline(key)[-1].kind == "rca" and "orders-db (83%)" in db.timeline(key)[-1].text

    desk.handle_text("lead @alice", ctx(3, thread="T9"))
    desk.handle_text("resolve killed the queries, raised max_connections", ctx(30, thread="T9"))
    pm = desk.handle_text("postmortem", ctx(31, thread="T9"))
    assert pm.document is not None and pm.document.filename == f"{key}-postmortem.md"
    md = pm.document.markdown
    for expected in (
        f"# Postmortem: {key} — Checkout failing",
        "## Summary",
        "killed the queries, raised max_connections",
        "## Impact",
        "## Timeline (UTC)",
        "**2026-03-01 09:00:00 UTC** — declared (<@U1>): Checkout failing",
        "**2026-03-01 09:03:00 UTC** — acknowledged",
        "(MTTA 3m 00s)",
        "(MTTR 30m 00s)",
        "## Root cause",
        "**orders-db**",
        "83% (high)",
        "Causal path: orders-db → checkout",
        "`ev-1` 2026-03-01 09:00:00 UTC [log] orders-db: FATAL: sorry, too many clients already",
        "## Action items",
        "- [ ] Kill the long-running locking queries",
    ):
        assert expected in md, expected


def test_rca_without_an_engine_is_a_clear_error(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    desk.handle_text("declare X", ctx(0))
    reply = desk.handle_text("rca", ctx(1))
    assert reply.error and "engine" in reply.text


def test_postmortem_without_rca_has_placeholders(db: RelationalStore) -> None:
    desk = IncidentDesk(db)
    desk.handle_text("declare Disk full on node3", ctx(0))
    pm = desk.handle_text("postmortem", ctx(5))
    assert pm.document is not None and "still open" in pm.text
    assert "TODO: no RCA yet" in pm.document.markdown


def test_declare_from_an_answer_carries_service_and_rca(db: RelationalStore) -> None:
    from bot.answer_log import AnswerLog, PostedAnswer

    answers = AnswerLog(db)
    posted = PostedAnswer("slack:C1:1.2", _answer("why is checkout failing?"), "slack", "C1", "1.0", "U1")
    answers.save(posted)
    loaded = answers.load("slack", "slack:C1:1.2")
    assert loaded.answer == posted.answer
    desk = IncidentDesk(db, answers=answers)
    reply = desk.declare_from_answer(loaded, ctx(0))
    assert reply.incident_key is not None and not reply.new_incident
    inc = db.get_incident(reply.incident_key)
    assert (inc.title, inc.service, inc.severity, inc.thread) == ("why is checkout failing?", "orders-db", 2, "1.0")
    assert answers.latest_rca(inc.key) == posted.answer
