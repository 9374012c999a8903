"""Build the weekly reliability report from the relational store.

`build_weekly_report(stack_or_db, settings, week)` reads incidents, alert and change
records and metric points once, then hands them to the pure functions in
reports.metrics. The result is a plain dataclass that the markdown, chart and
chat renderers share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from sqlmodel import col, or_, select

from core.db.store import RelationalStore
from core.db.tables import EventRecord, Incident
from core.settings import Settings
from core.sources.prometheus import PrometheusClient
from reports import metrics as m
from reports.slo import SLOResult, evaluate_slos
from reports.week import Week, zone

TREND_WEEKS = 8
NOISIEST = 10


class HasDb(Protocol):
    """Anything carrying a RelationalStore as `.db` (core.wiring.Stack does)."""

    @property
    def db(self) -> RelationalStore: ...


@dataclass(frozen=True)
class WeekSummary:
    """The headline numbers of one ISO week."""

    week: Week
    incidents: list[Incident]
    by_severity: dict[int, int]
    by_service: list[tuple[str, int]]
    mtta: m.DurationStats
    mttr: m.DurationStats
    open_at_end: list[Incident]
    alerts: m.AlertStats
    changes: m.ChangeStats

    @property
    def total(self) -> int:
        return len(self.incidents)


@dataclass(frozen=True)
class Deltas:
    """This week minus the previous week; None where either side is undefined. Durations in seconds."""

    incidents: float | None
    mtta_median_s: float | None
    mttr_median_s: float | None
    mttr_p90_s: float | None
    open_at_end: float | None
    alerts: float | None
    changes: float | None
    change_failure_rate: float | None


@dataclass(frozen=True)
class TrendPoint:
    """MTTR of one week of the trend."""

    week: Week
    mttr: m.DurationStats


@dataclass(frozen=True)
class WeeklyReport:
    """Everything the weekly reliability report says, for one ISO week in one timezone."""

    week: Week
    generated_at: datetime
    current: WeekSummary
    previous: WeekSummary
    deltas: Deltas
    per_day: list[tuple[date, dict[int, int]]]
    mttr_trend: list[TrendPoint]
    slos: list[SLOResult]
    caveats: list[str] = field(default_factory=list)

    @property
    def timezone(self) -> str:
        return self.week.tz.key


def _db(source: HasDb | RelationalStore) -> RelationalStore:
    return source if isinstance(source, RelationalStore) else source.db


def _load_incidents(db: RelationalStore, since: datetime, open_since: datetime, until: datetime) -> list[Incident]:
    """Incidents created in [since, until), plus older ones still open at some point after `open_since`."""
    stmt = select(Incident).where(
        Incident.created_at < until,
        or_(
            Incident.created_at >= since,
            col(Incident.resolved_at).is_(None),
            col(Incident.resolved_at) >= open_since,
        ),
    )
    with db.session() as s:
        return list(s.exec(stmt.order_by(col(Incident.created_at), col(Incident.id))))


def _in(records: list[EventRecord], week: Week) -> list[EventRecord]:
    return [r for r in records if week.contains(r.ts)]


def summarize_week(
    week: Week, incidents: list[Incident], alerts: list[EventRecord], changes: list[EventRecord]
) -> WeekSummary:
    """Headline numbers of `week` from rows that may cover more than the week."""
    mine = m.created_in(incidents, week.start, week.end)
    return WeekSummary(
        week=week,
        incidents=mine,
        by_severity=m.by_severity(mine),
        by_service=m.by_service(mine),
        mtta=m.mtta(mine),
        mttr=m.mttr(mine),
        open_at_end=m.open_at(incidents, week.end),
        alerts=m.alert_stats(_in(alerts, week), limit=NOISIEST),
        changes=m.change_stats(mine, _in(changes, week)),
    )


def week_deltas(cur: WeekSummary, prev: WeekSummary) -> Deltas:
    return Deltas(
        incidents=m.delta(cur.total, prev.total),
        mtta_median_s=m.delta(m.seconds(cur.mtta.median), m.seconds(prev.mtta.median)),
        mttr_median_s=m.delta(m.seconds(cur.mttr.median), m.seconds(prev.mttr.median)),
        mttr_p90_s=m.delta(m.seconds(cur.mttr.p90), m.seconds(prev.mttr.p90)),
        open_at_end=m.delta(len(cur.open_at_end), len(prev.open_at_end)),
        alerts=m.delta(cur.alerts.total, prev.alerts.total),
        changes=m.delta(cur.changes.changes, prev.changes.changes),
        change_failure_rate=m.delta(cur.changes.failure_rate, prev.changes.failure_rate),
    )


def resolve_week(settings: Settings, week: Week | str | None, *, now: datetime | None = None) -> Week:
    """A Week from a label, a Week, or None (= the last complete ISO week in the configured timezone)."""
    tz = zone(settings.timezone)
    if isinstance(week, Week):
        return week
    if week is None:
        return Week.last_complete(now or datetime.now(UTC), tz)
    return Week.parse(week, tz)


def build_weekly_report(
    source: HasDb | RelationalStore,
    settings: Settings,
    week: Week | str | None = None,
    *,
    now: datetime | None = None,
    prometheus: PrometheusClient | None = None,
) -> WeeklyReport:
    """The weekly reliability report for `week` (default: the last complete ISO week).

    `source` is a core.wiring.Stack or a RelationalStore; only the relational store is read.
    """
    db = _db(source)
    now = now or datetime.now(UTC)
    wk = resolve_week(settings, week, now=now)
    prev = wk.shift(-1)
    trend_weeks = [wk.shift(-k) for k in range(TREND_WEEKS - 1, -1, -1)]
    incidents = _load_incidents(db, trend_weeks[0].start, prev.start, wk.end)
    alerts = db.event_records(kinds=["alert"], since=prev.start, until=wk.end)
    changes = db.event_records(kinds=["change"], since=prev.start, until=wk.end)

    current = summarize_week(wk, incidents, alerts, changes)
    previous = summarize_week(prev, incidents, alerts, changes)
    trend = [TrendPoint(w, m.mttr(m.created_in(incidents, w.start, w.end))) for w in trend_weeks]
    slos = evaluate_slos(db, settings, wk, prometheus=prometheus)

    caveats: list[str] = []
    if now < wk.end:
        caveats.append(f"{wk.label} is not over yet (it ends {wk.end.astimezone(wk.tz):%a %d %b %H:%M %Z}).")
    if current.mttr.pending:
        caveats.append(
            f"{current.mttr.pending} of {current.total} incidents of the week are not resolved yet: "
            "MTTR covers the resolved ones."
        )
    if not settings.report.slos:
        caveats.append("No SLOs configured: add [[report.slos]] entries to sherlog.toml.")
    for s in slos:
        caveats.extend(f"SLO {s.name}: {c}" for c in s.caveats)
    return WeeklyReport(
        week=wk,
        generated_at=now,
        current=current,
        previous=previous,
        deltas=week_deltas(current, previous),
        per_day=m.per_day_by_severity(current.incidents, wk.day_bounds()),
        mttr_trend=trend,
        slos=slos,
        caveats=caveats,
    )
