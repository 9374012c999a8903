"""Posting the weekly report: Slack (Block Kit + the files upload flow) and Discord (embed + files),
against local recording servers, and the at-most-once guard around them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import select

from core.db.store import RelationalStore
from core.db.tables import ReportRecord
from core.errors import ConfigError
from core.settings import DiscordSettings, Settings, SlackSettings
from reports.markdown import write_report
from reports.post import DiscordPublisher, build_publishers, post_report
from reports.report import build_weekly_report
from reports.run import run_weekly
from tests.fixtures.discord_fake import CHANNEL_ID, DiscordFake
from tests.fixtures.report_week import WEEK, fixture_settings, load_report_week
from tests.fixtures.slack_recorder import SlackRecorder, block_text

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
CHANNEL = "#sre-weekly"
DEST = f"slack:{CHANNEL}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def recorder() -> Iterator[SlackRecorder]:
    with SlackRecorder() as rec:
        yield rec


@pytest.fixture
def db(tmp_path: Path) -> Iterator[RelationalStore]:
    store = RelationalStore(f"sqlite:///{tmp_path / 'sherlog.db'}")
    load_report_week(store)
    yield store
    store.close()


def slack_settings(tmp_path: Path, rec: SlackRecorder) -> Settings:
    return fixture_settings(
        tmp_path,
        slack_channel=CHANNEL,
        slack=SlackSettings(bot_token=SecretStr("xoxb-report-test"), api_base_url=rec.base_url),
    )


def test_slack_post_carries_the_summary_and_the_three_charts(
    tmp_path: Path, recorder: SlackRecorder, db: RelationalStore
) -> None:
    settings = slack_settings(tmp_path, recorder)
    result = run_weekly(settings, db, week=WEEK, out_dir=tmp_path / "out", post=True, now=NOW)
    assert [(o.destination, o.status) for o in result.outcomes] == [(DEST, "posted")]

    (msg,) = recorder.of("chat.postMessage")
    assert msg.token == "xoxb-report-test"
    assert msg.params["channel"] == CHANNEL
    text = block_text(msg.params["blocks"])
    assert "Weekly reliability report — 2026-W43" in text
    assert "7 (+4 vs 2026-W42)" in text  # incidents and week-over-week delta
    assert "3 h 00 min / 5 h 00 min" in text  # MTTR median / p90
    assert "2 of 10 changes (20.0%)" in text
    assert "1. HighErrorRate ×4" in text
    assert "checkout-latency: 80.000%" in text
    assert msg.params["text"].startswith("Weekly reliability report 2026-W43: 7 incidents")

    # the upload flow: one URL per chart, the bytes uploaded, then completion into the summary's thread
    asked = recorder.of("files.getUploadURLExternal")
    charts = result.files.charts.all()
    assert sorted(c.params["filename"] for c in asked) == sorted(p.name for p in charts)
    sizes = {p.name: p.stat().st_size for p in charts}
    assert all(int(c.params["length"]) == sizes[c.params["filename"]] for c in asked)
    file_ids = [c.response["file_id"] for c in asked]
    assert sorted(recorder.uploads) == sorted(file_ids)
    by_name = {c.params["filename"]: recorder.uploads[c.response["file_id"]] for c in asked}
    for p in charts:
        assert by_name[p.name] == p.read_bytes() and by_name[p.name][:8] == PNG_MAGIC
    (done,) = recorder.of("files.completeUploadExternal")
    assert done.params["channel_id"] == msg.response["channel"]
    assert done.params["thread_ts"] == msg.response["ts"]
    assert sorted(f["id"] for f in done.params["files"]) == sorted(file_ids)

    # the claim is confirmed with the report's path
    with db.session() as s:
        (row,) = s.exec(select(ReportRecord)).all()
    assert (row.kind, row.period, row.posted_to, row.path) == ("weekly", WEEK, DEST, str(result.files.markdown))


def test_a_second_run_for_the_same_week_does_not_post_again(
    tmp_path: Path, recorder: SlackRecorder, db: RelationalStore
) -> None:
    settings = slack_settings(tmp_path, recorder)
    first = run_weekly(settings, db, week=WEEK, post=True, now=NOW)
    second = run_weekly(settings, db, week=WEEK, post=True, now=NOW)
    assert first.outcomes[0].status == "posted"
    assert (second.outcomes[0].status, second.outcomes[0].detail) == ("skipped", "already posted")
    assert len(recorder.of("chat.postMessage")) == 1
    # another week is another post
    third = run_weekly(settings, db, week="2026-W42", post=True, now=NOW)
    assert third.outcomes[0].status == "posted"
    assert len(recorder.of("chat.postMessage")) == 2


def test_a_refused_post_releases_the_claim_so_the_next_run_retries(
    tmp_path: Path, recorder: SlackRecorder, db: RelationalStore
) -> None:
    settings = slack_settings(tmp_path, recorder)
    recorder.fail_methods["chat.postMessage"] = "channel_not_found"
    failed = run_weekly(settings, db, week=WEEK, post=True, now=NOW)
    assert failed.outcomes[0].status == "failed"
    assert "channel_not_found" in failed.outcomes[0].detail
    assert recorder.of("files.getUploadURLExternal") == []  # nothing else was attempted
    del recorder.fail_methods["chat.postMessage"]
    retried = run_weekly(settings, db, week=WEEK, post=True, now=NOW)
    assert retried.outcomes[0].status == "posted"


def test_a_failed_chart_upload_keeps_the_claim_and_warns(
    tmp_path: Path, recorder: SlackRecorder, db: RelationalStore
) -> None:
    settings = slack_settings(tmp_path, recorder)
    recorder.fail_methods["files.completeUploadExternal"] = "not_in_channel"
    result = run_weekly(settings, db, week=WEEK, post=True, now=NOW)
    (o,) = result.outcomes
    assert o.status == "posted" and "not_in_channel" in o.warnings[0]
    # the summary is out: posting it again would duplicate it
    assert run_weekly(settings, db, week=WEEK, post=True, now=NOW).outcomes[0].status == "skipped"
    assert len(recorder.of("chat.postMessage")) == 1


def test_an_unconfirmed_claim_is_reported_and_force_posts(
    tmp_path: Path, recorder: SlackRecorder, db: RelationalStore
) -> None:
    settings = slack_settings(tmp_path, recorder)
    # what a crash between the claim and the post leaves behind
    assert db.record_report("weekly", WEEK, DEST, None)
    skipped = run_weekly(settings, db, week=WEEK, post=True, now=NOW)
    assert skipped.outcomes[0].status == "skipped"
    assert "never confirmed" in skipped.outcomes[0].detail and "--force" in skipped.outcomes[0].detail
    assert recorder.of("chat.postMessage") == []
    forced = run_weekly(settings, db, week=WEEK, post=True, force=True, now=NOW)
    assert forced.outcomes[0].status == "posted"
    assert len(recorder.of("chat.postMessage")) == 1


def test_without_destinations_the_report_is_recorded_once(tmp_path: Path, db: RelationalStore) -> None:
    settings = fixture_settings(tmp_path)
    assert run_weekly(settings, db, week=WEEK, post=True, now=NOW).outcomes[0].status == "recorded"
    assert run_weekly(settings, db, week=WEEK, post=True, now=NOW).outcomes[0].status == "skipped"


def test_a_channel_without_a_token_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"slack\.bot_token"):
        build_publishers(fixture_settings(tmp_path, slack_channel=CHANNEL))
    with pytest.raises(ConfigError, match=r"discord\.token"):
        build_publishers(fixture_settings(tmp_path, discord_channel=CHANNEL_ID))
    with pytest.raises(ConfigError, match="numeric Discord channel id"):
        build_publishers(
            fixture_settings(tmp_path, discord_channel="#general", discord=DiscordSettings(token=SecretStr("t")))
        )


async def test_discord_post_has_an_embed_and_the_three_pngs(tmp_path: Path, db: RelationalStore) -> None:
    report = build_weekly_report(db, fixture_settings(tmp_path), WEEK, now=NOW)
    files = write_report(report, tmp_path / "out")
    async with DiscordFake() as fake:
        pub = DiscordPublisher("discord-test-token", CHANNEL_ID, api_base=fake.base)
        # the publisher is synchronous (it runs in the scheduler's thread); keep the fake's loop free
        outcomes = await asyncio.to_thread(post_report, db, report, files, [pub])
        again = await asyncio.to_thread(post_report, db, report, files, [pub])
    assert [(o.destination, o.status) for o in outcomes] == [(f"discord:{CHANNEL_ID}", "posted")]
    assert again[0].status == "skipped"
    (req,) = fake.of("POST", f"/channels/{CHANNEL_ID}/messages")
    assert outcomes[0].detail == req.response["id"]
    (embed,) = req.json["embeds"]
    assert embed["title"] == "Weekly reliability report — 2026-W43"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Incidents"] == "7 (+4 vs 2026-W42)"
    assert fields["MTTR median / p90"].startswith("3 h 00 min / 5 h 00 min")
    assert embed["image"]["url"] == "attachment://incidents_per_day.png"
    assert [a["filename"] for a in req.json["attachments"]] == [p.name for p in files.charts.all()]
    assert {name: data for name, data in req.files.items()} == {p.name: p.read_bytes() for p in files.charts.all()}
