"""The weekly report on a schedule: APScheduler 3 with a persistent job store.

- Trigger: `settings.report.cron` (crontab syntax, default `0 9 * * mon`) in
  `settings.timezone`, so "Monday 09:00" stays 09:00 local across DST changes.
  Numeric weekdays follow crontab (0 and 7 = Sunday, 1 = Monday); APScheduler 3 itself
  counts 0 = Monday, so numbers are translated to names before it sees them.
- Job store: SQLite file `<data dir>/scheduler.db` (kept apart from Sherlog's own
  database so its table never meets Sherlog's migrations). The job survives restarts.
- Misfires: a run missed while the process was down fires once when it comes back
  (coalesce) if that is within `MISFIRE_GRACE`; the report it posts is the last complete
  ISO week at that moment, i.e. the same week the missed run would have posted.
- No double post: the job goes through reports.post, which claims (week, destination)
  in the relational store before posting. A restarted scheduler, a second instance or
  a manual `sherlog report weekly --post` never posts the same week twice.

The job function is referenced by name in the job store and takes one string (a
runtime key), so nothing secret or unpicklable is stored; `start_scheduler` registers
the live settings and stack under that key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from core.db.store import RelationalStore
from core.errors import ConfigError
from core.settings import Settings
from reports.post import Publisher
from reports.report import HasDb
from reports.run import RunResult, run_weekly
from reports.week import zone

log = logging.getLogger(__name__)

JOB_ID = "sherlog-weekly-report"
JOB_FUNC = "reports.scheduler:weekly_job"
# A scheduler down at fire time still posts when it is back within three days: a Monday
# report arriving on Tuesday beats none. Later than that, `sherlog report weekly --post`.
MISFIRE_GRACE = timedelta(days=3)
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


# ---------------------------------------------------------------------------- cron


def _dow_numbers(part: str, expr: str) -> list[int]:
    """Crontab day numbers (0..6, Sunday = 0) named by one comma item of the weekday field."""
    body, _, step_s = part.partition("/")
    try:
        step = int(step_s) if step_s else 1
        if body == "*":
            lo, hi = 0, 6
        elif "-" in body:
            a, b = body.split("-", 1)
            lo, hi = int(a), int(b)
        else:
            lo = hi = int(body)
    except ValueError:
        raise ConfigError(f"report.cron {expr!r}: bad day-of-week item {part!r}") from None
    if not (0 <= lo <= 7 and 0 <= hi <= 7) or lo > hi or step < 1:
        raise ConfigError(f"report.cron {expr!r}: day-of-week {part!r} must be within 0-7 (0 and 7 = Sunday)")
    return [d % 7 for d in range(lo, hi + 1, step)]


def _translate_dow(field: str, expr: str) -> str:
    """Crontab weekday numbers → names; names (`mon`, `mon-fri`) and a bare `*` pass through."""
    if field == "*":
        return field
    out: list[str] = []
    for part in field.split(","):
        if part[:1].isdigit() or part.startswith("*"):
            out.extend(_DOW_NAMES[d] for d in _dow_numbers(part, expr))
        else:
            out.append(part)
    return ",".join(dict.fromkeys(out))


def build_trigger(cron: str, tz: ZoneInfo) -> CronTrigger:
    """A CronTrigger for a crontab line (minute hour day month weekday) in `tz`; ConfigError if malformed."""
    fields = cron.split()
    if len(fields) != 5:
        raise ConfigError(
            f"report.cron {cron!r} has {len(fields)} fields; crontab needs 5: minute hour day month weekday",
            hint='e.g. "0 9 * * mon" for Mondays at 09:00',
        )
    minute, hour, day, month, dow = fields
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=_translate_dow(dow, cron), timezone=tz
        )
    except ValueError as e:
        raise ConfigError(f"report.cron {cron!r} is not a valid crontab line: {e}") from e


def next_fire_time(settings: Settings, after: datetime) -> datetime | None:
    """When the weekly report fires next after `after` (aware), in the configured timezone."""
    trigger = build_trigger(settings.report.cron, zone(settings.timezone))
    return trigger.get_next_fire_time(None, after)


# ---------------------------------------------------------------------------- runtime registry


@dataclass
class _Runtime:
    settings: Settings
    source: HasDb | RelationalStore
    publishers: Callable[[], Sequence[Publisher]] | None = None


_RUNTIMES: dict[str, _Runtime] = {}
_LOCK = threading.Lock()


def runtime_key(settings: Settings) -> str:
    """Stable across restarts of the same installation: the data directory."""
    return str(settings.data_dir.resolve())


def weekly_job(key: str) -> RunResult:
    """The scheduled job: write this week's report under the data dir and post it (once per destination)."""
    with _LOCK:
        rt = _RUNTIMES.get(key)
    if rt is None:
        raise ConfigError(f"weekly report job fired for {key!r} but no scheduler registered it in this process")
    pubs = rt.publishers() if rt.publishers else None
    result = run_weekly(rt.settings, rt.source, post=True, publishers=pubs)
    for o in result.outcomes:
        log.info("weekly report %s → %s: %s %s", result.report.week.label, o.destination or "-", o.status, o.detail)
    return result


# ---------------------------------------------------------------------------- scheduler


def jobstore_url(settings: Settings) -> str:
    return f"sqlite:///{settings.ensure_data_dir() / 'scheduler.db'}"


def _is_current(job: Job | None, trigger: CronTrigger, key: str) -> bool:
    """True when the stored job already has this schedule, function, argument and misfire policy."""
    return (
        job is not None
        and repr(job.trigger) == repr(trigger)
        and job.func_ref == JOB_FUNC
        and tuple(job.args) == (key,)
        and job.misfire_grace_time == int(MISFIRE_GRACE.total_seconds())
        and bool(job.coalesce)
    )


def start_scheduler(
    settings: Settings,
    stack: HasDb | RelationalStore,
    *,
    store_url: str | None = None,
    publishers: Callable[[], Sequence[Publisher]] | None = None,
) -> BackgroundScheduler:
    """Start a BackgroundScheduler that posts the weekly report; returns it running.

    The job already in the store is kept when its schedule is unchanged, so a run missed
    while the process was down is still due and fires on start (within MISFIRE_GRACE);
    re-adding it would recompute its next run from now and lose the missed one.
    `publishers` overrides the destinations from settings (tests, the bot's own adapters).
    """
    tz = zone(settings.timezone)
    trigger = build_trigger(settings.report.cron, tz)
    key = runtime_key(settings)
    with _LOCK:
        _RUNTIMES[key] = _Runtime(settings, stack, publishers)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=store_url or jobstore_url(settings))},
        timezone=tz,
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    scheduler.start(paused=True)
    if not _is_current(scheduler.get_job(JOB_ID), trigger, key):
        scheduler.add_job(
            JOB_FUNC,
            trigger,
            args=[key],
            id=JOB_ID,
            name="weekly reliability report",
            replace_existing=True,
            misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
            coalesce=True,
            max_instances=1,
        )
        log.info("scheduled the weekly report: %s (%s)", settings.report.cron, tz.key)
    scheduler.resume()
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler, *, wait: bool = True) -> None:
    """Shut the scheduler down (waiting for a running report by default)."""
    if scheduler.running:
        scheduler.shutdown(wait=wait)
