"""Time phrases in questions: "last 2h", "since 14:05", "between 13:00 and 14:00", "yesterday".

`parse_window(text, now, tz)` finds the phrases and turns them into a `[since, until)` window
in UTC. Clock times ("14:05") are read in the operator's timezone (`Settings.timezone`) on the
day of `now`; a clock time later than `now` means the same time yesterday, because nobody asks
about the future. Problems (a window that ends before it starts, one in the future) are
returned as plain sentences together with the sane window actually used, so the answer can say
what it did instead of failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNITS: dict[str, float] = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
    "weeks": 7 * 86400,
}
_UNIT_RE = "|".join(sorted(_UNITS, key=len, reverse=True))
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm)?"
_ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
_CLOCK_NC = r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:am|pm)?"
_POINT = rf"(?:{_ISO}|{_CLOCK_NC}|yesterday|today|midnight|noon)"

_LAST = re.compile(
    rf"\b(?:in\s+the\s+|over\s+the\s+|for\s+the\s+)?(?:last|past|previous)\s+(\d+(?:\.\d+)?)?\s*({_UNIT_RE})\b", re.I
)
_BARE_DURATION = re.compile(rf"^\s*(\d+(?:\.\d+)?)\s*({_UNIT_RE})\s*$", re.I)
_BETWEEN = re.compile(rf"\b(?:between|from)\s+({_POINT})\s+(?:and|to|until|till|-)\s+({_POINT})", re.I)
_SINCE = re.compile(rf"\b(?:since|after|starting(?:\s+at)?)\s+({_POINT})", re.I)
_UNTIL = re.compile(rf"\b(?:until|till|before|up\s+to)\s+({_POINT})", re.I)
_AROUND = re.compile(rf"\b(?:at|around)\s+({_CLOCK_NC})", re.I)
_YESTERDAY = re.compile(r"\byesterday\b", re.I)
_TODAY = re.compile(r"\btoday\b|\bthis\s+morning\b", re.I)


def zone(name: str) -> tzinfo:
    """The tzinfo for an IANA name; UTC when the name is unknown (the caller reports it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@dataclass(frozen=True)
class Window:
    """A resolved `[since, until)` window in UTC with what produced it."""

    since: datetime
    until: datetime
    phrase: str = ""
    explicit: bool = False
    problems: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return (self.until - self.since).total_seconds()


@dataclass
class ParsedTime:
    """What the text said about time (any part may be missing)."""

    since: datetime | None = None
    until: datetime | None = None
    phrases: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.phrases)


def parse_duration(text: str) -> timedelta:
    """`"90m"`, `"2h"`, `"1.5 hours"` → timedelta; ValueError naming the text otherwise."""
    m = _BARE_DURATION.match(text)
    if not m:
        raise ValueError(f"cannot read {text!r} as a duration; use e.g. 30m, 2h, 1d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])


def _clock(m: re.Match[str], now_local: datetime) -> datetime | None:
    hh, mm, ss, ampm = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), (m.group(4) or "").lower()
    if ampm == "pm" and hh < 12:
        hh += 12
    if ampm == "am" and hh == 12:
        hh = 0
    if hh > 23 or mm > 59 or ss > 59:
        return None
    t = datetime.combine(now_local.date(), time(hh, mm, ss), tzinfo=now_local.tzinfo)
    # a clock time later than now means the most recent such time: yesterday's
    return t - timedelta(days=1) if t > now_local else t


def parse_point(raw: str, now: datetime, tz: tzinfo) -> datetime | None:
    """One time point ("14:05", "2pm", ISO, "yesterday", "today") as UTC, or None if unreadable."""
    now_local = now.astimezone(tz)
    s = raw.strip().lower()
    midnight = datetime.combine(now_local.date(), time(0, 0), tzinfo=now_local.tzinfo)
    if s == "yesterday":
        return (midnight - timedelta(days=1)).astimezone(UTC)
    if s in ("today", "midnight"):
        return midnight.astimezone(UTC)
    if s == "noon":
        noon = midnight + timedelta(hours=12)
        return (noon - timedelta(days=1) if noon > now_local else noon).astimezone(UTC)
    iso = re.fullmatch(_ISO, raw.strip(), re.I)
    if iso:
        try:
            dt = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            return None
        return (dt.replace(tzinfo=tz) if dt.tzinfo is None else dt).astimezone(UTC)
    m = re.fullmatch(_CLOCK, s, re.I)
    if m:
        t = _clock(m, now_local)
        return t.astimezone(UTC) if t is not None else None
    return None


def parse_time_phrases(text: str, now: datetime, tz: tzinfo = UTC) -> ParsedTime:
    """Every time phrase in `text`, combined into since/until (UTC). Nothing is invented here:
    missing parts stay None for `resolve_window` to fill."""
    out = ParsedTime()

    def point(raw: str, phrase: str) -> datetime | None:
        p = parse_point(raw, now, tz)
        if p is None:
            out.problems.append(f"I could not read the time in '{phrase}'")
        return p

    m = _BETWEEN.search(text)
    if m:
        out.phrases.append(m.group(0))
        a, b = point(m.group(1), m.group(0)), point(m.group(2), m.group(0))
        out.since, out.until = a, b
        # "between 23:00 and 01:00": the end is the day after the start
        wraps = a is not None and b is not None and b <= a and re.fullmatch(_CLOCK, m.group(2).strip(), re.I)
        if wraps and b is not None and b + timedelta(days=1) <= now + timedelta(minutes=1):
            out.until = b + timedelta(days=1)
        return out
    m = _LAST.search(text)
    if m:
        out.phrases.append(m.group(0).strip())
        n = float(m.group(1)) if m.group(1) else 1.0
        out.since = now - timedelta(seconds=n * _UNITS[m.group(2).lower()])
    m = _SINCE.search(text)
    if m:
        out.phrases.append(m.group(0))
        out.since = point(m.group(1), m.group(0))
    m = _UNTIL.search(text)
    if m:
        out.phrases.append(m.group(0))
        out.until = point(m.group(1), m.group(0))
    if not out.phrases:
        if _YESTERDAY.search(text):
            y = parse_point("yesterday", now, tz)
            t = parse_point("today", now, tz)
            out.since, out.until = y, t
            out.phrases.append("yesterday")
        elif _TODAY.search(text):
            out.since = parse_point("today", now, tz)
            out.phrases.append("today")
        else:
            m = _AROUND.search(text)
            if m:
                # "what happened at 14:05": a half-hour either side
                centre = point(m.group(1), m.group(0))
                if centre is not None:
                    out.phrases.append(m.group(0))
                    out.since, out.until = centre - timedelta(minutes=30), centre + timedelta(minutes=30)
    return out


def resolve_window(
    parsed: ParsedTime,
    now: datetime,
    *,
    default: timedelta,
    since: datetime | None = None,
    until: datetime | None = None,
    fallback: Window | None = None,
) -> Window:
    """The window to investigate: explicit `since`/`until` (CLI flags) win over phrases, phrases over
    `fallback` (a follow-up's remembered window), and that over `default` before `now`.

    Contradictions are repaired, never raised: a window ending before it starts is swapped, an end
    in the future is clamped to now, and each repair is described in `problems`.
    """
    problems = list(parsed.problems)
    explicit = since is not None or until is not None or parsed.found
    s = since if since is not None else parsed.since
    u = until if until is not None else parsed.until
    phrase = ", ".join(parsed.phrases)
    if since is not None or until is not None:
        phrase = " ".join(
            p
            for p in (f"since {since.isoformat()}" if since else "", f"until {until.isoformat()}" if until else "")
            if p
        )
    if not explicit and fallback is not None:
        return Window(fallback.since, fallback.until, fallback.phrase or "same window as before", False, ())
    if u is None:
        u = now
    if s is None:
        s = u - default
    if s.tzinfo is None:
        s = s.replace(tzinfo=UTC)
    if u.tzinfo is None:
        u = u.replace(tzinfo=UTC)
    if s > u:
        problems.append(
            f"the window you gave ends ({_hm(u)}) before it starts ({_hm(s)}); I looked at {_hm(u)}–{_hm(s)} instead"
        )
        s, u = u, s
    elif s == u:
        problems.append(
            f"the window you gave is empty (it starts and ends at {_hm(s)}); I looked at the {_dur(default)} before it"
        )
        s = u - default
    if u > now + timedelta(minutes=1):
        if s >= now:
            problems.append(
                f"the window you gave ({_hm(s)}–{_hm(u)}) is in the future; I looked at the last {_dur(default)}"
            )
            s, u = now - default, now
        else:
            problems.append(f"the window you gave ends in the future ({_hm(u)}); I looked up to now ({_hm(now)})")
            u = now
    return Window(s.astimezone(UTC), u.astimezone(UTC), phrase, explicit, tuple(problems))


def _hm(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _dur(d: timedelta) -> str:
    secs = int(d.total_seconds())
    if secs % 86400 == 0 and secs >= 86400:
        return f"{secs // 86400} d"
    if secs % 3600 == 0 and secs >= 3600:
        return f"{secs // 3600} h"
    return f"{secs // 60} min"


def describe(window: Window) -> str:
    """`09:31–10:31 UTC` (with the date when the window spans days or is not today's)."""
    a, b = window.since.astimezone(UTC), window.until.astimezone(UTC)
    if a.date() == b.date():
        return f"{a:%Y-%m-%d} {a:%H:%M}–{b:%H:%M} UTC"
    return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} UTC"
