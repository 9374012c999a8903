"""The report scheduler: a real APScheduler with a real SQLite job store, posting to a Slack recorder.

Time is driven by calling the job function and by editing the stored job's next run time,
never by sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import SecretStr

from core.db.store import RelationalStore
from core.errors import ConfigError
from core.settings import Settings, SlackSettings
from reports.post import Publisher, SlackPublisher
from reports.scheduler import (
    JOB_ID,
    MISFIRE_GRACE,
    build_trigger,
    jobstore_url,
    runtime_key,
    start_scheduler,
    stop_scheduler,
    weekly_job,
)
from tests.fixtures.report_week import fixture_settings, load_report_week
from tests.fixtures.slack_recorder import SlackRecorder

PARIS = ZoneInfo("Europe/Paris")
CHANNEL = "#sre-weekly"


@pytest.fixture
def recorder() -> Iterator[SlackRecorder]:
    with SlackRecorder() as rec:
        yield rec


def make_settings(tmp_path: Path, rec: SlackRecorder, cron: str | None = None) -> Settings:
    s = fixture_settings(
        tmp_path,
        slack_channel=CHANNEL,
        slack=SlackSettings(bot_token=SecretStr("xoxb-sched"), api_base_url=rec.base_url),
    )
    if cron is not None:
        s.report.cron = cron
    return s


def backdate_job(url: str, when: datetime) -> None:
    """Edit the stored job while no scheduler runs, as if its fire time had passed while we were down.

    (Editing it through a paused scheduler races APScheduler's shutdown: a job due at the moment
    of shutdown is submitted to the closed executor and its run is lost.)
    """
    store = SQLAlchemyJobStore(url=url)
    store.start(BackgroundScheduler(timezone=PARIS), "default")  # only used to unpickle the job
    try:
        job = store.lookup_job(JOB_ID)
        assert job is not None
        job._modify(next_run_time=when)
        store.update_job(job)
    finally:
        store.shutdown()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[RelationalStore]:
    store = RelationalStore(f"sqlite:///{tmp_path / 'sherlog.db'}")
    load_report_week(store)
    yield store
    store.close()


def test_job_is_persisted_and_a_restarted_scheduler_does_not_post_twice(
    tmp_path: Path, recorder: SlackRecorder, db: RelationalStore
) -> None:
    settings = make_settings(tmp_path, recorder)
    before = datetime.now(PARIS)
    sched = start_scheduler(settings, db)
    try:
        job = sched.get_job(JOB_ID)
        assert job is not None
        first_next = job.next_run_time
        # the default cron: next Monday 09:00 local, computed in the configured zone
        local = first_next.astimezone(PARIS)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        assert before < first_next <= before + timedelta(days=7)
        assert first_next == build_trigger(settings.report.cron, PARIS).get_next_fire_time(None, before)
        assert (job.coalesce, job.misfire_grace_time) == (True, int(MISFIRE_GRACE.total_seconds()))
        # "the cron fires": run the job the scheduler would run
        result = weekly_job(runtime_key(settings))
        assert [o.status for o in result.outcomes] == ["posted"]
    finally:
        stop_scheduler(sched)
    assert (tmp_path / "scheduler.db").is_file()
    assert result.files.markdown == tmp_path / "reports" / result.report.week.label / "report.md"

    # restart: the stored job is reused as it is (same id, same next run), not re-created
    sched = start_scheduler(settings, db)
    try:
        jobs = sched.get_jobs()
        assert [j.id for j in jobs] == [JOB_ID]
        assert jobs[0].next_run_time == first_next
        again = weekly_job(runtime_key(settings))
        assert [(o.status, o.detail) for o in again.outcomes] == [("skipped", "already posted")]
    finally:
        stop_scheduler(sched)
    assert len(recorder.of("chat.postMessage")) == 1


def test_a_changed_cron_replaces_the_stored_job(tmp_path: Path, recorder: SlackRecorder, db: RelationalStore) -> None:
    sched = start_scheduler(make_settings(tmp_path, recorder), db)
    stop_scheduler(sched)
    sched = start_scheduler(make_settings(tmp_path, recorder, cron="30 7 * * 5"), db)  # Fridays 07:30
    try:
        (job,) = sched.get_jobs()
        local = job.next_run_time.astimezone(PARIS)
        assert (local.weekday(), local.hour, local.minute) == (4, 7, 30)
    finally:
        stop_scheduler(sched)


def test_a_run_missed_while_down_fires_once_on_restart(
    tmp_path: Path, recorder: SlackRecorder, db: RelationalStore
) -> None:
    # a daily cron whose last fire was an hour ago: restarting now is a misfire within the grace time,
    # and the next regular fire is ~23 h away, so nothing else can run during the test
    now = datetime.now(PARIS)
    last_fire = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    settings = make_settings(tmp_path, recorder, cron=f"{last_fire.minute} {last_fire.hour} * * *")
    runs: list[int] = []

    def publishers() -> Sequence[Publisher]:
        runs.append(1)  # called once per job execution
        return [SlackPublisher("xoxb-sched", CHANNEL, base_url=recorder.base_url)]

    stop_scheduler(start_scheduler(settings, db, publishers=publishers))
    # the process was down for three days: three daily runs were missed
    backdate_job(jobstore_url(settings), last_fire - timedelta(days=2))
    assert runs == []

    sched = start_scheduler(settings, db, publishers=publishers)
    try:
        (msg,) = recorder.wait_for("chat.postMessage", timeout=60)
        recorder.wait_for("files.completeUploadExternal", timeout=60)
        assert runs == [1]  # coalesced: three missed runs, one execution
        (job,) = sched.get_jobs()
        # rescheduled to the next regular fire, about 23 h from now
        assert job.next_run_time == build_trigger(settings.report.cron, PARIS).get_next_fire_time(None, now)
        assert job.next_run_time > now
    finally:
        stop_scheduler(sched)
    assert msg.params["channel"] == CHANNEL
    # a further restart has nothing due
    sched = start_scheduler(settings, db, publishers=publishers)
    try:
        assert sched.get_jobs()[0].next_run_time > now
        assert weekly_job(runtime_key(settings)).outcomes[0].status == "skipped"
    finally:
        stop_scheduler(sched)
    assert len(recorder.of("chat.postMessage")) == 1


def test_the_job_refuses_to_run_unregistered(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no scheduler registered"):
        weekly_job(str(tmp_path / "nowhere"))
