"""ISO weeks in a configured timezone, as half-open UTC intervals.

A report week is ISO week `YYYY-Www` *in the configured timezone*: it starts at local
midnight on Monday and ends at local midnight on the following Monday. Both bounds are
converted to UTC instants, so a week that contains a DST change is 167 or 169 hours
long, and every comparison against stored (UTC) timestamps is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError, InputError

_WEEK_RE = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (e.g. "Europe/Paris"); ConfigError names it when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(
            f"unknown timezone {name!r} in settings.timezone",
            hint="use an IANA name such as UTC, Europe/Paris or America/New_York (SHERLOG_TIMEZONE)",
        ) from e


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first instant (UTC) whose local date in `tz` is `day`.

    fold=0 matters only in zones that change clocks at midnight: if 00:00 does not exist
    (spring forward), the earlier offset maps it to the instant of the jump, which is when
    the day really starts; if it exists twice, the first one is the start.
    """
    return datetime.combine(day, time(0), tzinfo=tz).replace(fold=0).astimezone(UTC)


@dataclass(frozen=True)
class Week:
    """ISO week `year`-W`week` in `tz`: the half-open UTC interval [start, end)."""

    year: int
    week: int
    tz: ZoneInfo

    def __post_init__(self) -> None:
        try:
            date.fromisocalendar(self.year, self.week, 1)
        except ValueError as e:
            raise InputError(f"{self.year}-W{self.week:02d} is not an ISO week: {e}") from e

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo) -> Week:
        """`2026-W47` (or `2026W47`, any case) → Week; InputError says what is wrong."""
        m = _WEEK_RE.match(text.strip())
        if not m:
            raise InputError(f"week {text!r} is not an ISO week: write it like 2026-W47")
        return cls(int(m.group(1)), int(m.group(2)), tz)

    @classmethod
    def containing(cls, instant: datetime, tz: ZoneInfo) -> Week:
        """The ISO week (in `tz`) that contains the aware datetime `instant`."""
        if instant.tzinfo is None:
            raise InputError(f"instant {instant.isoformat()} is naive: give it a timezone")
        iso = instant.astimezone(tz).date().isocalendar()
        return cls(iso.year, iso.week, tz)

    @classmethod
    def last_complete(cls, now: datetime, tz: ZoneInfo) -> Week:
        """The most recent ISO week that has fully ended at `now` (the week before `now`'s)."""
        return cls.containing(now, tz).shift(-1)

    @property
    def label(self) -> str:
        """`2026-W47`: the period key reports are recorded under."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def days(self) -> list[date]:
        """The seven local dates, Monday first."""
        return [self.monday + timedelta(days=i) for i in range(7)]

    @property
    def start(self) -> datetime:
        """Local midnight on Monday, as a UTC instant (inclusive)."""
        return local_midnight(self.monday, self.tz)

    @property
    def end(self) -> datetime:
        """Local midnight on the next Monday, as a UTC instant (exclusive)."""
        return local_midnight(self.monday + timedelta(days=7), self.tz)

    def day_bounds(self) -> list[tuple[date, datetime, datetime]]:
        """(local date, start, end) per day in UTC; a DST day is 23 or 25 hours long."""
        return [(d, local_midnight(d, self.tz), local_midnight(d + timedelta(days=1), self.tz)) for d in self.days]

    def shift(self, weeks: int) -> Week:
        """The week `weeks` later (negative: earlier), across year boundaries."""
        iso = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return Week(iso.year, iso.week, self.tz)

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def describe(self) -> str:
        """Human span, e.g. `Mon 19 Oct – Sun 25 Oct 2026 (Europe/Paris)`."""
        first, last = self.days[0], self.days[-1]
        return f"{first:%a %d %b} – {last:%a %d %b %Y} ({self.tz.key})"

    def __str__(self) -> str:
        return self.label
