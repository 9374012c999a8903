"""ISO week ↔ [start, end) in a timezone, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.errors import ConfigError, InputError
from reports.week import Week, zone

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("label", "tz", "start", "end", "hours"),
    [
        # Paris, summer: both Mondays at UTC+2
        ("2026-W42", PARIS, utc(2026, 10, 11, 22), utc(2026, 10, 18, 22), 168),
        # Paris leaves DST on Sunday 25 Oct 2026 (W43): starts at UTC+2, ends at UTC+1
        ("2026-W43", PARIS, utc(2026, 10, 18, 22), utc(2026, 10, 25, 23), 169),
        # Paris enters DST on Sunday 29 Mar 2026 (W13): starts at UTC+1, ends at UTC+2
        ("2026-W13", PARIS, utc(2026, 3, 22, 23), utc(2026, 3, 29, 22), 167),
        # New York enters DST on Sunday 8 Mar 2026 (W10): UTC−5 → UTC−4
        ("2026-W10", NEW_YORK, utc(2026, 3, 2, 5), utc(2026, 3, 9, 4), 167),
        # New York leaves DST on Sunday 1 Nov 2026 (W44): UTC−4 → UTC−5
        ("2026-W44", NEW_YORK, utc(2026, 10, 26, 4), utc(2026, 11, 2, 5), 169),
        # the same label is a different interval in another zone
        ("2026-W44", PARIS, utc(2026, 10, 25, 23), utc(2026, 11, 1, 23), 168),
    ],
)
def test_week_bounds(label: str, tz: ZoneInfo, start: datetime, end: datetime, hours: int) -> None:
    w = Week.parse(label, tz)
    assert (w.start, w.end) == (start, end)
    assert w.end - w.start == timedelta(hours=hours)
    assert w.start.tzinfo == UTC
    assert w.shift(1).start == w.end  # weeks tile time with no gap or overlap


def test_dst_days_last_23_and_25_hours() -> None:
    days = Week.parse("2026-W43", PARIS).day_bounds()
    lengths = [(d, hi - lo) for d, lo, hi in days]
    assert lengths[-1] == (date(2026, 10, 25), timedelta(hours=25))
    assert all(length == timedelta(hours=24) for _, length in lengths[:-1])
    spring = Week.parse("2026-W10", NEW_YORK).day_bounds()
    assert spring[-1][2] - spring[-1][1] == timedelta(hours=23)


def test_contains_is_half_open() -> None:
    w = Week.parse("2026-W43", PARIS)
    assert w.contains(w.start)
    assert not w.contains(w.end)
    assert w.contains(w.end - timedelta(microseconds=1))


def test_containing_and_last_complete_use_local_dates() -> None:
    # Sunday 25 Oct 23:30Z is already Monday 00:30 in Paris (W44) but still Sunday in New York (W43)
    instant = utc(2026, 10, 25, 23, 30)
    assert Week.containing(instant, PARIS).label == "2026-W44"
    assert Week.containing(instant, NEW_YORK).label == "2026-W43"
    assert Week.last_complete(instant, PARIS).label == "2026-W43"
    assert Week.last_complete(instant, NEW_YORK).label == "2026-W42"


def test_shift_crosses_years_with_53_weeks() -> None:
    # 2026 has 53 ISO weeks (1 Jan 2026 is a Thursday)
    assert Week.parse("2027-W01", PARIS).shift(-1).label == "2026-W53"
    assert Week.parse("2026-W53", PARIS).shift(1).label == "2027-W01"
    assert Week.parse("2026-W01", PARIS).monday == date(2025, 12, 29)


@pytest.mark.parametrize("bad", ["2026-47", "W47", "2026-W4", "last week", ""])
def test_bad_labels_are_refused_with_the_expected_shape(bad: str) -> None:
    with pytest.raises(InputError, match="2026-W47"):
        Week.parse(bad, PARIS)


def test_week_53_of_a_52_week_year_is_refused() -> None:
    with pytest.raises(InputError, match="2025-W53 is not an ISO week"):
        Week.parse("2025-W53", PARIS)


def test_lenient_spellings() -> None:
    assert Week.parse("2026w47", PARIS).label == "2026-W47"


def test_unknown_timezone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        zone("Mars/Olympus")
