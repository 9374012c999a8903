"""Firing alerts make Sherlog investigate on its own: the real server (uvicorn on loopback), the
real engine over the seeded chaos default scenario (orders-db connection pool exhausted), the
Slack Web API recorder and Discord REST fake standing in for the chat clouds.

Webhook bodies are the Alertmanager v4 notifications the scenario's own alerts produce (same
labels, fingerprints and startsAt), so replaying them changes nothing the other bot tests see.
The webhook records (and queues) the investigation before it answers, so right after a 2xx the
investigation is listed: "the resend started no second one" is a fact, not a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from discord.http import Route
from pydantic import SecretStr

from bot.alert_post import DiscordAlertPoster, alert_answer_id
from bot.discord_bot import SherlogDiscord
from bot.incidents import AskFn
from bot.investigate import DROPPED, SHUTTING_DOWN, AlertTrigger, InvestigationConfig, triggers_from_events
from bot.render.common import short_entity
from bot.server import create_app
from bot.services import BotServices
from chaos.scenarios import DEFAULT_SCENARIO, load_scenario
from chaos.simulate import simulate
from core.errors import ConfigError
from core.model import Answer, EntityRef, Event, Question
from core.settings import ReportSettings, Settings
from core.sources.alerts import parse_alertmanager_webhook
from reports.scheduler import JOB_ID, next_fire_time
from tests.fixtures import discord_fake as dfake
from tests.fixtures.discord_fake import DiscordFake
from tests.fixtures.slack_recorder import block_text
from tests.integration.bot.conftest import Demo, GatedAsk, Served, run_uvicorn

ALERTS_CHANNEL = "#alerts"


# ------------------------------------------------------------------------------- webhook bodies


def _scenario_alerts(demo: Demo) -> list[Event]:
    """The alert events of the seeded run (same seed and start: the same alerts, fingerprints included)."""
    result = simulate(None, load_scenario(DEFAULT_SCENARIO), start=demo.truth.window_start)
    return [e for e in result.events if e.kind == "alert"]


def _alert(demo: Demo, service: str, alertname: str, status: str = "firing") -> dict[str, Any]:
    """One alert object of an Alertmanager webhook, taken from the scenario's alerts."""
    matches = [
        e
        for e in _scenario_alerts(demo)
        if e.entity.service == service and e.attributes["alertname"] == alertname and e.attributes["status"] == status
    ]
    assert matches, f"the scenario has no {status} {alertname} on {service}"
    a = matches[-1].attributes
    return {
        "status": status,
        "labels": a["labels"],
        "annotations": a["annotations"],
        "startsAt": a["startsAt"],
        "endsAt": a["endsAt"],
        "generatorURL": a["generatorURL"],
        "fingerprint": a["fingerprint"],
    }


def _notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    """An Alertmanager v4 webhook body for one notification group."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    first = alerts[0]["labels"]
    group = {"alertname": first["alertname"], "service": first.get("service", "")}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group["alertname"]}", service="{group["service"]}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "sherlog",
        "groupLabels": group,
        "commonLabels": first,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.monitoring.svc:9093",
        "alerts": list(alerts),
    }


# ------------------------------------------------------------------------------- helpers


def _investigations(http: httpx.Client) -> list[dict[str, Any]]:
    r = http.get("/investigations", params={"limit": 100})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["investigations"]
    return items


def _wait_finished(
    http: httpx.Client, iid: int, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 90.0
) -> dict[str, Any]:
    """The investigation once it is no longer running (and `until(item)` holds, e.g. it was posted)."""
    deadline = time.monotonic() + timeout
    while True:
        item = http.get(f"/investigations/{iid}").json()
        if item["status"] != "running" and (until is None or until(item)):
            return item
        if time.monotonic() > deadline:
            raise TimeoutError(f"investigation {iid} not finished after {timeout}s: {item}")
        time.sleep(0.1)


def _by_fingerprints(items: list[dict[str, Any]], *alerts: dict[str, Any]) -> list[dict[str, Any]]:
    want = sorted(a["fingerprint"] for a in alerts)
    return [i for i in items if sorted(i["trigger"]["fingerprints"]) == want]


@contextlib.contextmanager
def _serve(demo: Demo, ask: AskFn, settings: Settings | None = None, **create: Any) -> Iterator[httpx.Client]:
    """The real app on loopback with `ask` as the engine; yields a keep-alive client on it."""
    settings = settings or demo.stack.settings
    services = BotServices(settings=settings, db=demo.stack.db, ask=ask)
    server, thread, port = run_uvicorn(create_app(settings, stack=demo.stack, services=services, **create))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(30)


# ------------------------------------------------------------------------------- the hook


def test_a_firing_alert_is_investigated_once_and_posted_to_the_alerts_channel(
    demo: Demo, serve_slack: Callable[..., Served]
) -> None:
    served = serve_slack(alerts_channel=ALERTS_CHANNEL)
    alert = _alert(demo, "checkout", "HighErrorRate")
    body = _notification(alert)
    with httpx.Client(base_url=served.url, timeout=30) as http:
        r = http.post("/hooks/alertmanager", json=body)
        assert r.status_code == 200, r.text
        [item] = _by_fingerprints(_investigations(http), alert)
        assert item["trigger"] == {
            "source": "alertmanager",
            "alertname": "HighErrorRate",
            "labels": alert["labels"],
            "fingerprints": [alert["fingerprint"]],
        }
        assert item["question"] == "why is checkout firing HighErrorRate?"

        # the answer is recorded first, then posted: wait for both
        done = _wait_finished(http, item["id"], until=lambda i: bool(i["posted_to"]) or i["status"] != "done")
        assert done["status"] == "done" and done["error"] is None, done
        answer = Answer.model_validate(done["answer"])
        assert answer.root_causes, answer.summary
        assert short_entity(answer.root_causes[0].entity) == demo.truth.root_cause, answer.root_causes
        assert done["posted_to"] == [f"slack:{ALERTS_CHANNEL}"]
        assert done["finished_at"] >= done["created_at"]

        # the engine saw the alert's window and ran once, on the alert platform
        [(question, platform)] = served.ask.questions
        assert platform == "alert"
        assert question.until is not None and question.since is not None
        starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
        assert question.since < starts < question.until

        # the post is the answer card with the alert banner, in the alerts channel, with buttons
        [post] = served.recorder.wait_for("chat.postMessage", lambda c: c.params.get("channel") == ALERTS_CHANNEL)
        text = block_text(post.params["blocks"])
        assert "HighErrorRate firing on checkout" in text and "orders-db" in text
        answer_id = alert_answer_id("slack", ALERTS_CHANNEL, item["id"])
        assert answer_id in str(post.params["blocks"])
        assert served.services.answers.load("slack", answer_id).answer == answer

        # Alertmanager resends the same group (repeat, or a second replica): within the cooldown, no new run
        assert http.post("/hooks/alertmanager", json=body).status_code == 200
        assert len(_by_fingerprints(_investigations(http), alert)) == 1
        assert len(served.ask.questions) == 1
        assert http.get(f"/investigations/{item['id']}").json() == done


def test_resolved_only_notifications_and_unknown_ids_start_nothing(
    demo: Demo, serve_slack: Callable[..., Served]
) -> None:
    served = serve_slack()
    resolved = _alert(demo, "ad", "KubeHpaMaxedOut", status="resolved")
    with httpx.Client(base_url=served.url, timeout=30) as http:
        before = [i["id"] for i in _investigations(http)]
        r = http.post("/hooks/alertmanager", json=_notification(resolved))
        assert r.status_code == 200, r.text
        assert r.json()["rejected"] == 0
        assert [i["id"] for i in _investigations(http)] == before
        missing = http.get("/investigations/987654")
        assert missing.status_code == 404 and "no investigation 987654" in missing.json()["error"]
        assert http.get("/investigations", params={"limit": 0}).status_code == 422
    assert served.ask.questions == []


def test_an_engine_failure_is_recorded_and_the_server_keeps_serving(demo: Demo) -> None:
    def broken_engine(question: Question, platform: str) -> Answer:
        # the real Engine turns its own errors into answers; this stands for what it cannot catch
        raise RuntimeError("graph store connection reset")

    alert = _alert(demo, "auth", "HighErrorRate")
    with _serve(demo, broken_engine, investigations=InvestigationConfig(settle=timedelta(0))) as http:
        assert http.post("/hooks/alertmanager", json=_notification(alert)).status_code == 200
        [item] = _by_fingerprints(_investigations(http), alert)
        failed = _wait_finished(http, item["id"])
        assert failed["status"] == "failed"
        assert failed["error"] == "RuntimeError: graph store connection reset"
        assert failed["answer"] is None and failed["posted_to"] == []
        assert http.get("/health").status_code == 200


def test_a_full_queue_records_the_dropped_investigation(demo: Demo, real_ask: AskFn) -> None:
    ask = GatedAsk(real_ask)
    ask.gate.clear()  # the first investigation holds the only worker until the test opens the gate
    first, queued, dropped = (
        _alert(demo, "orders-db", "HighErrorRate"),
        _alert(demo, "orders-db", "DBConnectionPoolExhausted"),
        _alert(demo, "orders-db", "HighLatencyP99"),
    )
    try:
        config = InvestigationConfig(workers=1, queue_size=1, settle=timedelta(0))
        with _serve(demo, ask, investigations=config) as http:
            assert http.post("/hooks/alertmanager", json=_notification(first)).status_code == 200
            assert ask.started.wait(30)  # the worker took it: the queue is empty again
            for alert in (queued, dropped):
                assert http.post("/hooks/alertmanager", json=_notification(alert)).status_code == 200
            items = _investigations(http)
            [drop] = _by_fingerprints(items, dropped)
            assert drop["status"] == "failed" and drop["error"].startswith(DROPPED), drop
            ask.gate.set()
            for alert in (first, queued):
                [item] = _by_fingerprints(items, alert)
                done = _wait_finished(http, item["id"])
                assert done["status"] == "done", done
                top = Answer.model_validate(done["answer"]).root_causes[0]
                assert short_entity(top.entity) == demo.truth.root_cause
            # a dropped alert is not "already investigated": its resend gets a run
            assert http.post("/hooks/alertmanager", json=_notification(dropped)).status_code == 200
            retried = [i for i in _by_fingerprints(_investigations(http), dropped) if i["id"] != drop["id"]]
            assert len(retried) == 1
            assert _wait_finished(http, retried[0]["id"])["status"] == "done"
    finally:
        ask.gate.set()


def test_shutting_down_records_what_was_waiting_as_not_run(demo: Demo, real_ask: AskFn) -> None:
    ask = GatedAsk(real_ask)
    alert = _alert(demo, "frontend", "HighErrorRate")
    # a settle time longer than the test: the investigation is still waiting when the server stops
    with _serve(demo, ask, investigations=InvestigationConfig(settle=timedelta(hours=1))) as http:
        assert http.post("/hooks/alertmanager", json=_notification(alert)).status_code == 200
        [item] = _by_fingerprints(_investigations(http), alert)
        assert item["status"] == "running"
    record = demo.stack.db.get_investigation(item["id"])
    assert (record.status, record.error) == ("failed", SHUTTING_DOWN)
    assert ask.questions == []


def test_reading_investigations_needs_the_intake_token_when_one_is_set(demo: Demo, real_ask: AskFn) -> None:
    server = demo.stack.settings.server.model_copy(update={"ingest_token": SecretStr("s3cret")})
    settings = demo.stack.settings.model_copy(update={"server": server})
    with _serve(demo, real_ask, settings) as http:
        refused = http.get("/investigations")
        assert refused.status_code == 401 and "bearer token" in refused.json()["error"]
        assert http.get("/investigations/1").status_code == 401
        ok = http.get("/investigations", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and isinstance(ok.json()["investigations"], list)


# ------------------------------------------------------------------------------- Discord


@pytest.fixture
async def discord_fake() -> AsyncIterator[DiscordFake]:
    async with DiscordFake() as f:
        old = Route.BASE
        Route.BASE = f.base  # type: ignore[misc]
        try:
            yield f
        finally:
            Route.BASE = old  # type: ignore[misc]


async def test_the_answer_is_posted_to_the_discord_alerts_channel(
    demo: Demo, real_ask: AskFn, discord_fake: DiscordFake
) -> None:
    services = BotServices(settings=demo.stack.settings, db=demo.stack.db, ask=real_ask)
    client = SherlogDiscord(services, sync_commands=False)
    await client.login("discord-test-token")
    client._connection.parse_guild_create(dfake.guild_create())
    try:
        alert = _alert(demo, "frontend", "HighErrorRate")
        events = parse_alertmanager_webhook(_notification(alert)).events
        [trigger] = triggers_from_events(events, datetime.now(UTC))
        assert trigger.entity.service == "frontend"
        question = Question(text="why is frontend firing HighErrorRate?", until=trigger.received_at)
        answer = await asyncio.to_thread(real_ask, question, "alert")
        poster = DiscordAlertPoster(client, asyncio.get_running_loop(), dfake.CHANNEL_ID, services)
        await asyncio.to_thread(poster.post, 41, trigger, answer)

        [sent] = discord_fake.of("POST", f"/channels/{dfake.CHANNEL_ID}/messages")
        assert "HighErrorRate firing on frontend (alertmanager)" in sent.json["content"]
        [embed] = sent.json["embeds"]
        assert "orders-db" in embed["title"]
        answer_id = alert_answer_id("discord", dfake.CHANNEL_ID, 41)
        buttons = [c["custom_id"] for row in sent.json["components"] for c in row["components"]]
        assert f"sherlog:declare:{answer_id}" in buttons
        stored = services.answers.load("discord", answer_id)
        assert stored.thread == sent.response["id"] and stored.answer.root_causes == answer.root_causes
    finally:
        await client.close()


async def test_a_discord_alerts_channel_must_be_an_id(demo: Demo, real_ask: AskFn) -> None:
    services = BotServices(settings=demo.stack.settings, db=demo.stack.db, ask=real_ask)
    with pytest.raises(ConfigError, match="must be a channel id"):
        DiscordAlertPoster(SherlogDiscord(services), asyncio.get_running_loop(), "#alerts", services)


# ------------------------------------------------------------------------------- the scheduler


def test_serve_runs_the_weekly_report_scheduler_only_with_a_destination(
    demo: Demo, real_ask: AskFn, tmp_path: Path
) -> None:
    services = BotServices(settings=demo.stack.settings, db=demo.stack.db, ask=real_ask)
    with_dest = demo.stack.settings.model_copy(
        update={"data_dir": tmp_path, "report": ReportSettings(cron="0 9 * * mon", slack_channel="#reports")}
    )
    app = create_app(with_dest, stack=demo.stack, services=services)
    server, thread, _ = run_uvicorn(app)  # returns once the lifespan has started
    try:
        scheduler = app.state.runtime.scheduler
        assert scheduler is not None and scheduler.running
        job = scheduler.get_job(JOB_ID)
        assert job is not None
        assert job.next_run_time == next_fire_time(with_dest, datetime.now(UTC))
    finally:
        server.should_exit = True
        thread.join(30)
    assert not thread.is_alive() and not scheduler.running
    assert (tmp_path / "scheduler.db").exists()

    without = demo.stack.settings.model_copy(update={"data_dir": tmp_path / "none"})
    app = create_app(without, stack=demo.stack, services=services)
    server, thread, _ = run_uvicorn(app)
    try:
        assert app.state.runtime.started and app.state.runtime.scheduler is None
    finally:
        server.should_exit = True
        thread.join(30)
    assert not (tmp_path / "none" / "scheduler.db").exists()


# ------------------------------------------------------------------------------- triggers


def test_only_firing_alerts_of_a_group_make_its_trigger(demo: Demo) -> None:
    firing = _alert(demo, "checkout", "HighErrorRate")
    resolved = _alert(demo, "ad", "KubeHpaMaxedOut", status="resolved")
    events = parse_alertmanager_webhook(_notification(firing, resolved)).events
    received = datetime.now(UTC)
    [trigger] = triggers_from_events(events, received)
    assert trigger == AlertTrigger(
        source="alertmanager",
        alertname="HighErrorRate",
        labels=firing["labels"],
        fingerprints=(firing["fingerprint"],),
        entity=EntityRef(cluster="sim", namespace="boutique", service="checkout"),
        starts_at=datetime.fromisoformat(firing["startsAt"].replace("Z", "+00:00")),
        received_at=received,
        summary=firing["annotations"]["summary"],
    )
    assert triggers_from_events(parse_alertmanager_webhook(_notification(resolved)).events, received) == []
    assert received - trigger.starts_at < timedelta(hours=2)
