"""The real slack-bolt app behind `sherlog serve`, driven over HTTP with requests signed by
Slack's v0 scheme; the Web API is a local recorder; the engine is the real one over a stack
seeded with the chaos default scenario (checkout-db-pool: the root cause is orders-db)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlmodel import select

from core.db.tables import Feedback
from tests.fixtures.slack_recorder import BOT_USER_ID, TEAM_ID, Call, block_text, sign
from tests.integration.bot.conftest import SIGNING_SECRET, Demo, Served

_counter = iter(range(1, 10_000_000))


def new_ts() -> str:
    return f"{1_800_000_000 + next(_counter)}.{next(_counter):06d}"


def mention_body(text: str, *, channel: str, ts: str, thread_ts: str | None = None, user: str = "UALICE") -> str:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "api_app_id": "ASHERLOG",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(_counter)}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def command_body(text: str, *, channel: str, user: str = "UALICE", channel_name: str = "incidents") -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "team_domain": "sherlog-test",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": "alice",
            "command": "/incident",
            "text": text,
            "api_app_id": "ASHERLOG",
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": f"{next(_counter)}.1.abc",
        }
    )


def action_body(action_id: str, value: str, *, channel: str, message_ts: str, thread_ts: str | None) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": "UALICE", "username": "alice", "team_id": TEAM_ID},
        "api_app_id": "ASHERLOG",
        "token": "legacy",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{next(_counter)}.1.abc",
        "team": {"id": TEAM_ID, "domain": "sherlog-test"},
        "channel": {"id": channel, "name": "incidents"},
        "message": {"type": "message", "ts": message_ts, "thread_ts": thread_ts, "text": "answer"},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "sherlog_answer_actions",
                "value": value,
                "type": "button",
                "action_ts": str(time.time()),
                "text": {"type": "plain_text", "text": "button"},
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `check` until it holds (bounded); for effects that land just after a recorded call."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def incident_key(text: str) -> str:
    m = re.search(r"INC-\d+", text)
    assert m, f"no incident key in {text!r}"
    return m.group(0)


def post(served: Served, body: str, *, form: bool, headers: dict[str, str] | None = None) -> httpx.Response:
    hdrs = sign(SIGNING_SECRET, body) if headers is None else headers
    hdrs["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
    return httpx.post(f"{served.url}/slack/events", content=body, headers=hdrs, timeout=30)


def in_channel(channel: str) -> Callable[[Call], bool]:
    return lambda c: c.params.get("channel") == channel


def test_mention_is_acked_before_the_engine_and_the_placeholder_becomes_the_answer(
    serve_slack: Callable[..., Served], demo: Demo
) -> None:
    s = serve_slack()
    s.ask.gate.clear()  # hold the engine: Slack must be answered anyway
    ts = new_ts()
    r = post(s, mention_body("why is checkout failing?", channel="C-MENTION", ts=ts), form=False)
    assert r.status_code == 200
    assert not s.ask.finished.is_set()  # acknowledged while the engine had not answered

    [placeholder] = s.recorder.wait_for("chat.postMessage", in_channel("C-MENTION"))
    assert placeholder.params["thread_ts"] == ts  # a top-level mention starts a thread
    assert "Investigating" in placeholder.params["text"]
    assert placeholder.token == "xoxb-test-token"
    assert s.recorder.of("chat.update") == []

    s.ask.gate.set()
    [update] = s.recorder.wait_for("chat.update", lambda c: c.params.get("ts") == placeholder.response["ts"])
    assert update.params["channel"] == "C-MENTION"
    header = update.params["blocks"][0]["text"]["text"]
    assert demo.truth.root_cause in header  # "orders-db", the scenario's ground truth
    body = block_text(update.params["blocks"])
    assert "*Evidence*" in body and "*Causal path:*" in body
    actions = next(b for b in update.params["blocks"] if b["type"] == "actions")["elements"]
    assert {a["action_id"] for a in actions} >= {"sherlog_helpful", "sherlog_unhelpful", "sherlog_declare"}
    answer_id = actions[0]["value"]
    assert answer_id == f"slack:C-MENTION:{placeholder.response['ts']}"
    [(question, platform)] = s.ask.questions
    assert (question.text, question.channel, question.thread, platform) == (
        "why is checkout failing?",
        "C-MENTION",
        ts,
        "slack",
    )

    # follow-up in the same thread: placeholder in that thread, and the engine gets the same memory keys
    follow_ts = new_ts()
    post(s, mention_body("what changed there?", channel="C-MENTION", ts=follow_ts, thread_ts=ts), form=False)
    s.recorder.wait_for("chat.update", in_channel("C-MENTION"), count=2)
    placeholders = s.recorder.of("chat.postMessage")
    assert [p.params["thread_ts"] for p in placeholders] == [ts, ts]
    follow_q = s.ask.questions[1][0]
    assert (follow_q.channel, follow_q.thread) == ("C-MENTION", ts)
    memory = demo.stack.db.get_thread_memory("slack", "C-MENTION", ts)
    assert memory, "the engine keeps thread memory under the bot's keys"

    # buttons: feedback is stored for evaluation, evidence is posted in the thread
    r = post(
        s,
        action_body(
            "sherlog_helpful", answer_id, channel="C-MENTION", message_ts=placeholder.response["ts"], thread_ts=ts
        ),
        form=True,
    )
    assert r.status_code == 200
    s.recorder.wait_for("chat.postEphemeral", in_channel("C-MENTION"))
    with demo.stack.db.session() as session:
        rows = list(session.exec(select(Feedback).where(Feedback.answer_id == answer_id)))
    assert [(f.helpful, f.user_id, f.platform) for f in rows] == [(True, "UALICE", "slack")]

    post(
        s,
        action_body(
            "sherlog_evidence", answer_id, channel="C-MENTION", message_ts=placeholder.response["ts"], thread_ts=ts
        ),
        form=True,
    )
    [evidence] = s.recorder.wait_for(
        "chat.postMessage", lambda c: "All evidence" in str(c.params.get("text")), timeout=30
    )
    assert evidence.params["thread_ts"] == ts and "• `" in block_text(evidence.params["blocks"])

    post(
        s,
        action_body(
            "sherlog_declare", answer_id, channel="C-MENTION", message_ts=placeholder.response["ts"], thread_ts=ts
        ),
        form=True,
    )
    [declared] = s.recorder.wait_for("chat.postMessage", lambda c: "declared" in str(c.params.get("text")))
    assert declared.params["thread_ts"] == ts
    incident = next(i for i in demo.stack.db.list_open_incidents() if i.thread == ts)
    assert incident.service == demo.truth.root_cause and incident.channel == "C-MENTION"


def test_bad_signature_and_replayed_timestamp_get_401(serve_slack: Callable[..., Served]) -> None:
    s = serve_slack()
    body = mention_body("why is checkout failing?", channel="C-SIG", ts=new_ts())
    forged = sign("not-the-secret", body)
    assert post(s, body, form=False, headers=forged).status_code == 401
    old = sign(SIGNING_SECRET, body, timestamp=int(time.time()) - 6 * 60)  # correctly signed, 6 minutes old
    assert post(s, body, form=False, headers=old).status_code == 401
    assert post(s, body, form=False, headers={}).status_code == 401
    tampered = sign(SIGNING_SECRET, body)
    assert post(s, body.replace("checkout", "payments"), form=False, headers=tampered).status_code == 401
    assert s.recorder.of("chat.postMessage") == []
    assert s.ask.questions == []


def test_url_verification_and_odd_payloads_never_crash(serve_slack: Callable[..., Served]) -> None:
    s = serve_slack()
    challenge = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    )
    r = post(s, challenge, form=False)
    assert r.status_code == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in r.text
    odd = [
        "{}",
        "not json at all",
        json.dumps({"type": "event_callback", "event": {"type": "app_mention"}, "team_id": TEAM_ID}),
        json.dumps({"type": "event_callback", "event": {"type": "app_mention", "channel": "C1"}, "team_id": TEAM_ID}),
        json.dumps({"type": "event_callback", "event": {"type": "reaction_added"}, "team_id": TEAM_ID}),
        json.dumps([1, 2, 3]),
    ]
    for body in odd:
        assert post(s, body, form=False).status_code < 500, body
    for body in ("payload=%7B%7D", "payload=garbage", "command=/incident&text=", "a=b"):
        assert post(s, body, form=True).status_code < 500, body
    assert httpx.get(f"{s.url}/health", timeout=10).json() == {"status": "ok"}


def test_channel_allowlist_and_rate_limit_answer_ephemerally(serve_slack: Callable[..., Served]) -> None:
    s = serve_slack(allowed_channels=["C-OK"], rate_limit_per_minute=1)
    post(s, mention_body("why is checkout failing?", channel="C-NOPE", ts=new_ts()), form=False)
    [refused] = s.recorder.wait_for("chat.postEphemeral", in_channel("C-NOPE"))
    assert refused.params["user"] == "UALICE" and "not enabled in this channel" in refused.params["text"]
    assert "SHERLOG_SLACK__ALLOWED_CHANNELS" in refused.params["text"]

    post(s, mention_body("why is checkout failing?", channel="C-OK", ts=new_ts()), form=False)
    s.recorder.wait_for("chat.update", in_channel("C-OK"))
    post(s, mention_body("and now?", channel="C-OK", ts=new_ts()), form=False)
    [limited] = s.recorder.wait_for("chat.postEphemeral", in_channel("C-OK"))
    assert "limit 1" in limited.params["text"] and "wait about" in limited.params["text"]
    assert len(s.ask.questions) == 1  # neither refusal reached the engine

    # an empty mention is told what to ask, ephemerally
    post(s, mention_body("", channel="C-OK", ts=new_ts(), user="UBOB"), form=False)
    [empty] = s.recorder.wait_for("chat.postEphemeral", lambda c: c.params.get("user") == "UBOB")
    assert "without a question" in empty.params["text"]


def _reply_to(s: Served, text: str, channel: str, method: str = "chat.postMessage") -> Call:
    before = len([c for c in s.recorder.of(method) if c.params.get("channel") == channel])
    r = post(s, command_body(text, channel=channel), form=True)
    assert r.status_code == 200 and r.text == ""  # acknowledged with an empty body
    return s.recorder.wait_for(method, in_channel(channel), count=before + 1)[-1]


def test_incident_verbs_reply_and_change_the_store(serve_slack: Callable[..., Served], demo: Demo) -> None:
    s = serve_slack()
    db = demo.stack.db
    ch = "C-INC-VERBS"

    declared = _reply_to(s, "declare Checkout failing for all users sev2", ch)
    assert "thread_ts" not in declared.params or declared.params["thread_ts"] is None
    text = declared.params["text"]
    key = incident_key(text)
    assert "SEV2" in text
    inc = db.get_incident(key)
    assert (inc.status, inc.severity, inc.channel, inc.title) == ("open", 2, ch, "Checkout failing for all users")
    thread = declared.response["ts"]
    # the declaration message becomes the incident's thread (stored right after it is posted)
    eventually(lambda: db.get_incident(key).thread == thread)

    status = _reply_to(s, "status", ch)
    assert status.params["thread_ts"] == thread and f"{key} is open" in status.params["text"]

    lead = _reply_to(s, "lead <@UBOB|bob>", ch)
    assert "<@UBOB> is now the lead" in lead.params["text"]
    inc = db.get_incident(key)
    assert inc.lead == "<@UBOB>" and inc.status == "acknowledged" and inc.acknowledged_at is not None

    assert "already acknowledged" in _reply_to(s, "ack", ch).params["text"]
    assert "SEV2 → SEV1" in _reply_to(s, "sev 1", ch).params["text"]
    assert db.get_incident(key).severity == 1
    assert "pool maxed out" in _reply_to(s, "update orders-db pool maxed out", ch).params["text"]
    assert "Noted" in _reply_to(s, "note paging DBA", ch).params["text"]

    timeline = _reply_to(s, "timeline", ch)
    kinds = [e.kind for e in db.timeline(key)]
    assert kinds == ["declared", "lead", "acknowledged", "sev", "update", "note"]
    assert "update <@UALICE>: orders-db pool maxed out" in block_text(timeline.params["blocks"])

    listing = _reply_to(s, "list", ch)
    assert key in block_text(listing.params["blocks"])

    # errors and usage are ephemeral, for the user who typed them
    bad_sev = _reply_to(s, "sev 9", ch, "chat.postEphemeral")
    assert bad_sev.params["user"] == "UALICE" and "severity must be 1" in bad_sev.params["text"]
    unknown = _reply_to(s, "frobnicate", ch, "chat.postEphemeral")
    assert "unknown /incident verb" in unknown.params["text"] and "/incident declare" in unknown.params["text"]
    help_ = _reply_to(s, "help", ch, "chat.postEphemeral")
    assert "/incident postmortem" in help_.params["text"]

    mitigated = _reply_to(s, "mitigate bumped max_connections", ch)
    assert "mitigated after" in mitigated.params["text"]
    assert db.get_incident(key).mitigated_at is not None
    resolved = _reply_to(s, "resolve killed the long-running queries", ch)
    assert "resolved" in resolved.params["text"]
    inc = db.get_incident(key)
    assert inc.status == "resolved" and inc.resolution == "killed the long-running queries"
    assert inc.created_at <= inc.acknowledged_at <= inc.mitigated_at <= inc.resolved_at  # type: ignore[operator]

    # postmortem: a markdown file uploaded through the files.uploadV2 flow, in the incident thread
    _reply_to(s, "postmortem", ch)
    [complete] = s.recorder.wait_for("files.completeUploadExternal", timeout=30)
    assert complete.params.get("channel_id") == ch and complete.params.get("thread_ts") == thread
    [upload_url] = s.recorder.wait_for("files.getUploadURLExternal")
    file_id = upload_url.response["file_id"]
    content = s.recorder.uploads[file_id].decode()
    assert f"# Postmortem: {key}" in content and "## Timeline (UTC)" in content and "acknowledged" in content


def test_incident_rca_acks_first_and_posts_the_answer_in_the_incident_thread(
    serve_slack: Callable[..., Served], demo: Demo
) -> None:
    s = serve_slack()
    ch = "C-INC-RCA"
    declared = _reply_to(s, "declare checkout is failing sev2", ch)
    key = incident_key(declared.params["text"])
    thread = declared.response["ts"]
    eventually(lambda: demo.stack.db.get_incident(key).thread == thread)

    s.ask.gate.clear()
    r = post(s, command_body("rca", channel=ch), form=True)
    assert r.status_code == 200 and not s.ask.finished.is_set()
    [placeholder] = s.recorder.wait_for(
        "chat.postMessage", lambda c: c.params.get("channel") == ch and "Investigating" in str(c.params.get("text"))
    )
    assert placeholder.params["thread_ts"] == thread
    s.ask.gate.set()
    [update] = s.recorder.wait_for("chat.update", lambda c: c.params.get("ts") == placeholder.response["ts"])
    assert demo.truth.root_cause in update.params["blocks"][0]["text"]["text"]
    inc = demo.stack.db.get_incident(key)
    assert inc.root_cause is not None and inc.root_cause.rsplit("/", 1)[-1] == demo.truth.root_cause
    assert demo.stack.db.timeline(key)[-1].kind == "rca"


def test_commands_are_acknowledged_and_answered_while_the_engine_is_busy(
    serve_slack: Callable[..., Served], demo: Demo
) -> None:
    s = serve_slack()
    s.ask.gate.clear()
    busy = 12  # more questions in flight than bolt has listener threads (10)
    for i in range(busy):
        r = post(s, mention_body("why is checkout failing?", channel="C-BUSY", ts=new_ts(), user=f"U{i}"), form=False)
        assert r.status_code == 200
    s.recorder.wait_for("chat.postMessage", in_channel("C-BUSY"), count=busy)  # every placeholder is up
    declared = _reply_to(s, "declare Busy engine incident", "C-BUSY-2")
    assert "declared" in declared.params["text"]
    assert not s.ask.finished.is_set()  # the command was served while every question still waited
    s.ask.gate.set()
    s.recorder.wait_for("chat.update", in_channel("C-BUSY"), count=busy, timeout=120)
