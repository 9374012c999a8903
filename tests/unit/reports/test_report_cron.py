"""The report trigger: crontab in the configured timezone, next fire time across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.errors import ConfigError
from core.settings import ReportSettings, Settings
from reports.scheduler import build_trigger, next_fire_time

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def settings(tmp_path: Path, tz: str, cron: str | None = None) -> Settings:
    report = ReportSettings(cron=cron) if cron else ReportSettings()
    return Settings(data_dir=tmp_path, timezone=tz, report=report)


@pytest.mark.parametrize(
    ("tz", "after", "expected"),
    [
        # default "0 9 * * mon" in Paris: 09:00 CEST = 07:00Z before 25 Oct, 09:00 CET = 08:00Z after
        ("Europe/Paris", utc(2026, 10, 13, 12), utc(2026, 10, 19, 7)),
        ("Europe/Paris", utc(2026, 10, 20, 12), utc(2026, 10, 26, 8)),
        # spring: 09:00 CET = 08:00Z on 23 Mar; 09:00 CEST = 07:00Z on 30 Mar
        ("Europe/Paris", utc(2026, 3, 17, 12), utc(2026, 3, 23, 8)),
        ("Europe/Paris", utc(2026, 3, 24, 12), utc(2026, 3, 30, 7)),
        # New York: 09:00 EDT = 13:00Z on 26 Oct; 09:00 EST = 14:00Z on 2 Nov (DST ended 1 Nov)
        ("America/New_York", utc(2026, 10, 20, 12), utc(2026, 10, 26, 13)),
        ("America/New_York", utc(2026, 10, 27, 12), utc(2026, 11, 2, 14)),
        # 08:59 local on a Monday: fires the same morning
        ("Europe/Paris", utc(2026, 10, 26, 7, 59), utc(2026, 10, 26, 8)),
        # 09:00 local exactly has just fired: the next one is a week later
        ("Europe/Paris", utc(2026, 10, 26, 8, 0, 1), utc(2026, 11, 2, 8)),
    ],
)
def test_next_fire_time_keeps_local_nine_across_dst(
    tmp_path: Path, tz: str, after: datetime, expected: datetime
) -> None:
    got = next_fire_time(settings(tmp_path, tz), after)
    assert got is not None
    assert got.astimezone(UTC) == expected
    local = got.astimezone(ZoneInfo(tz))
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)


@pytest.mark.parametrize(
    ("cron", "weekday"),
    [
        ("0 9 * * 1", 0),  # crontab 1 = Monday (APScheduler 3 alone would read Tuesday)
        ("0 9 * * 0", 6),  # 0 = Sunday
        ("0 9 * * 7", 6),  # 7 = Sunday too
        ("0 9 * * 5", 4),  # Friday
        ("0 9 * * fri", 4),
    ],
)
def test_numeric_weekdays_follow_crontab(tmp_path: Path, cron: str, weekday: int) -> None:
    got = next_fire_time(settings(tmp_path, "UTC", cron), utc(2026, 11, 21, 12))
    assert got is not None and got.weekday() == weekday and got.hour == 9


def test_weekday_ranges_lists_and_steps(tmp_path: Path) -> None:
    trig = build_trigger("30 8 * * 1-5", PARIS)
    fires = []
    t = utc(2026, 11, 21, 0)  # a Saturday
    for _ in range(6):
        nxt = trig.get_next_fire_time(None, t)
        assert nxt is not None
        fires.append(nxt.astimezone(PARIS).strftime("%a %H:%M"))
        t = nxt.astimezone(UTC).replace(second=1)
    assert fires == ["Mon 08:30", "Tue 08:30", "Wed 08:30", "Thu 08:30", "Fri 08:30", "Mon 08:30"]
    assert "day_of_week='sun,tue,thu,sat'" in repr(build_trigger("0 9 * * */2", PARIS))
    assert "day_of_week='sun,mon,fri'" in repr(build_trigger("0 9 * * 0,1,5", PARIS))


@pytest.mark.parametrize(
    ("cron", "match"),
    [
        ("0 9 * *", "has 4 fields"),
        ("0 9 * * 8", "within 0-7"),
        ("0 9 * * 5-1", "within 0-7"),
        ("0 25 * * mon", "not a valid crontab line"),
        ("0 9 * * x-y", "not a valid crontab line"),
    ],
)
def test_bad_cron_is_a_config_error_naming_the_setting(cron: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as e:
        build_trigger(cron, PARIS)
    assert "report.cron" in str(e.value)
