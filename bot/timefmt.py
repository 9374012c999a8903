"""Timestamps and durations as chat shows them: always UTC, always explicit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def fmt_ts(ts: datetime | None) -> str:
    """`2026-01-02 10:03:04 UTC`, or `-` for no time."""
    if ts is None:
        return "-"
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_clock(ts: datetime | None) -> str:
    """`10:03:04` (UTC), for timelines where the date is in the heading."""
    if ts is None:
        return "--:--:--"
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%H:%M:%S")


def fmt_duration(delta: timedelta | None) -> str:
    """`1h 02m`, `3m 20s`, `45s`."""
    if delta is None:
        return "-"
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rem = divmod(total, 86_400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {seconds:02d}s"
    return f"{sign}{seconds}s"


def since(start: datetime | None, end: datetime | None) -> timedelta | None:
    """end - start, or None when either is unknown."""
    if start is None or end is None:
        return None
    return end - start


def stamp(start: datetime | None, ts: datetime | None, label: str = "") -> str:
    """`2026-01-02 10:03:04 UTC (MTTA 3m 20s)`: a milestone and how long after `start` it came."""
    prefix = f"{label} " if label else ""
    return f"{fmt_ts(ts)} ({prefix}{fmt_duration(since(start, ts))})"
