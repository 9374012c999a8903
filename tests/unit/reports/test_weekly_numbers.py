"""Every number of the weekly report on the fixture week (tests/fixtures/report_week.py), by hand.

Week 2026-W43 in Europe/Paris = [2026-10-18 22:00Z, 2026-10-25 23:00Z) (169 h: DST ends inside).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.db.store import RelationalStore
from reports.markdown import render_markdown
from reports.report import WeeklyReport, build_weekly_report
from tests.fixtures.report_week import WEEK, fixture_settings, load_report_week

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday after the week: the week is complete
MIN = timedelta(minutes=1)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeeklyReport]:
    tmp = tmp_path_factory.mktemp("report-week")
    db = RelationalStore(f"sqlite:///{tmp / 'sherlog.db'}")
    load_report_week(db)
    yield build_weekly_report(db, fixture_settings(tmp), WEEK, now=NOW)
    db.close()


def test_week_bounds_are_local_midnights_in_utc(report: WeeklyReport) -> None:
    # Monday 19 Oct 00:00 CEST (UTC+2) and Monday 26 Oct 00:00 CET (UTC+1)
    assert report.week.start == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)
    assert report.week.end == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert report.previous.week.label == "2026-W42"


def test_incidents_by_severity_and_service(report: WeeklyReport) -> None:
    cur = report.current
    # created in the week: A B C D E F G. W44-H (Mon 00:30 CET) and W42-I (Sun 23:59 CEST) are outside.
    assert [i.key for i in cur.incidents] == ["W43-A", "W43-B", "W43-C", "W43-D", "W43-F", "W43-E", "W43-G"]
    # SEV1: A, G; SEV2: B, C; SEV3: D, E; SEV4: F
    assert cur.by_severity == {1: 2, 2: 2, 3: 2, 4: 1}
    # checkout: A, C; payments: B, G; then the singles by name ("(none)" for F sorts first)
    assert cur.by_service == [("checkout", 2), ("payments", 2), ("(none)", 1), ("frontend", 1), ("search", 1)]


def test_mtta_median_and_p90_nearest_rank(report: WeeklyReport) -> None:
    # minutes to acknowledge, sorted: C3 A5 G8 B12 D20 F30 E45 (n=7)
    # median = rank ceil(0.5*7)=4 → 12 min; p90 = rank ceil(0.9*7)=7 → 45 min
    s = report.current.mtta
    assert (s.count, s.median, s.p90, s.pending) == (7, 12 * MIN, 45 * MIN, 0)


def test_mttr_uses_utc_instants_across_the_dst_change(report: WeeklyReport) -> None:
    # E: Sunday 25 Oct 01:30 CEST → 03:30 CET is 180 real minutes (the wall clock says 120).
    e = next(i for i in report.current.incidents if i.key == "W43-E")
    assert e.resolved_at is not None and e.resolved_at - e.created_at == 180 * MIN
    # minutes to resolve, sorted: A45 C60 E180 B200 D240 G300 (n=6; F unresolved)
    # median = rank ceil(0.5*6)=3 → E's 180 min. Reading E as 120 min would make the median 120.
    # p90 = rank ceil(0.9*6)=6 → 300 min
    s = report.current.mttr
    assert (s.count, s.median, s.p90, s.pending) == (6, 180 * MIN, 300 * MIN, 1)


def test_open_incidents_at_week_end(report: WeeklyReport) -> None:
    # at 2026-10-25 23:00Z: G (resolved the next morning), W41-J (never resolved), F (never resolved)
    # ordered worst first: G sev1, J sev3, F sev4
    assert [i.key for i in report.current.open_at_end] == ["W43-G", "W41-J", "W43-F"]
    # at the end of W42 (2026-10-18 22:00Z): I (created 21:59Z, resolved 22:29Z) and J
    assert [i.key for i in report.previous.open_at_end] == ["W41-J", "W42-I"]


def test_alert_volume_and_the_ten_noisiest(report: WeeklyReport) -> None:
    a = report.current.alerts
    # 4+3+2+2 + nine singles = 20 firing; resolved notifications and the 26 Oct 00:00 one do not count
    assert (a.total, a.distinct) == (20, 13)
    # count desc, then name (case-sensitive: "DNS..." < "Disk...", "TLS..." < "Target...")
    assert a.top == [
        ("HighErrorRate", 4),
        ("HighLatencyP99", 3),
        ("CPUThrottlingHigh", 2),
        ("KubePodCrashLooping", 2),
        ("DNSLookupFailures", 1),
        ("DiskPressure", 1),
        ("KubeHpaMaxedOut", 1),
        ("NodeNotReady", 1),
        ("PostgresTooManyConnections", 1),
        ("RabbitMQMemoryHigh", 1),
    ]
    assert report.previous.alerts.total == 12


def test_changes_and_change_failure_rate(report: WeeklyReport) -> None:
    # W43: 10 changes; A and G name a change → 2/10
    c = report.current.changes
    assert (c.changes, c.failed, c.failure_rate) == (10, 2, 0.2)
    # W42: 4 changes; K names one → 1/4
    p = report.previous.changes
    assert (p.changes, p.failed, p.failure_rate) == (4, 1, 0.25)


def test_week_over_week_deltas(report: WeeklyReport) -> None:
    # W42: I, K, L. MTTA sorted 1, 4, 10 → median (rank 2) 4 min; MTTR sorted 30, 60, 120 → median 60, p90 120
    prev = report.previous
    assert (prev.total, prev.mtta.median, prev.mttr.median, prev.mttr.p90) == (3, 4 * MIN, 60 * MIN, 120 * MIN)
    d = report.deltas
    assert d.incidents == 7 - 3
    assert d.mtta_median_s == (12 - 4) * 60
    assert d.mttr_median_s == (180 - 60) * 60
    assert d.mttr_p90_s == (300 - 120) * 60
    assert d.open_at_end == 3 - 2
    assert d.alerts == 20 - 12
    assert d.changes == 10 - 4
    assert d.change_failure_rate == pytest.approx(0.2 - 0.25, abs=1e-12)


def test_mttr_trend_over_eight_weeks(report: WeeklyReport) -> None:
    # W36..W43; only W40 (M: 75 min), W42 (median 60) and W43 (median 180) have resolved incidents
    got = [(p.week.label, p.mttr.count, p.mttr.median) for p in report.mttr_trend]
    assert got == [
        ("2026-W36", 0, None),
        ("2026-W37", 0, None),
        ("2026-W38", 0, None),
        ("2026-W39", 0, None),
        ("2026-W40", 1, 75 * MIN),
        ("2026-W41", 0, None),  # J is unresolved
        ("2026-W42", 3, 60 * MIN),
        ("2026-W43", 6, 180 * MIN),
    ]


def test_incidents_per_local_day(report: WeeklyReport) -> None:
    # E was created Saturday 23:30Z = Sunday 01:30 local: it counts on Sunday, with G (Sunday 23:30 CET)
    per_day = {d: sev for d, sev in report.per_day}
    assert list(per_day) == [date(2026, 10, 19) + timedelta(days=i) for i in range(7)]
    assert per_day[date(2026, 10, 19)] == {1: 1, 2: 0, 3: 0, 4: 0}  # A
    assert per_day[date(2026, 10, 20)] == {1: 0, 2: 1, 3: 0, 4: 0}  # B
    assert per_day[date(2026, 10, 21)] == {1: 0, 2: 1, 3: 0, 4: 0}  # C
    assert per_day[date(2026, 10, 22)] == {1: 0, 2: 0, 3: 1, 4: 0}  # D, 23:50 Thursday
    assert per_day[date(2026, 10, 23)] == {1: 0, 2: 0, 3: 0, 4: 0}
    assert per_day[date(2026, 10, 24)] == {1: 0, 2: 0, 3: 0, 4: 1}  # F
    assert per_day[date(2026, 10, 25)] == {1: 1, 2: 0, 3: 1, 4: 0}  # E, G


def test_slo_availability_weighted_by_request_rate(report: WeeklyReport) -> None:
    s = next(x for x in report.slos if x.name == "checkout-availability")
    # Σ(err·rps) = 0·100 + 0.01·50 + 0.05·10 + 0·40 = 1.0; Σrps = 200 → error 0.005 → achieved 0.995
    # (the plain mean would say 0.985; W42's and other services' samples are left out)
    assert s.source == "metrics" and s.sli.samples == 4
    assert s.achieved == pytest.approx(0.995, abs=1e-12)
    # budget 1 − 0.99 = 0.01; burn 0.005 / 0.01 = 0.5; remaining 0.5
    assert s.budget.budget == pytest.approx(0.01, abs=1e-12)
    assert s.budget.burn == pytest.approx(0.5, abs=1e-9)
    assert s.budget.remaining == pytest.approx(0.5, abs=1e-9)
    assert s.budget.met is True


def test_slo_latency_fraction_under_threshold(report: WeeklyReport) -> None:
    s = next(x for x in report.slos if x.name == "checkout-latency")
    # ≤ 300 ms: 120 250 300 180 200 290 100 150 = 8 of 10 → 0.8
    assert (s.sli.samples, s.achieved) == (10, 0.8)
    # budget 0.05; burn 0.2 / 0.05 = 4; remaining −3 (overspent)
    assert s.budget.burn == pytest.approx(4.0, abs=1e-9)
    assert s.budget.remaining == pytest.approx(-3.0, abs=1e-9)
    assert s.budget.met is False


def test_slos_without_data_or_source_say_so(report: WeeklyReport) -> None:
    search = next(x for x in report.slos if x.name == "search-availability")
    assert search.achieved is None and search.budget.remaining is None
    assert any("no metric points for service 'search'" in c for c in search.caveats)
    prom = next(x for x in report.slos if x.name == "payments-prom")
    # no prometheus_url: a caveat, then ingested metrics (payments: 0.5 error ratio → 0.5 achieved)
    assert any("sources.prometheus_url is not set" in c for c in prom.caveats)
    assert prom.source == "metrics" and prom.achieved == pytest.approx(0.5)
    assert any(c.startswith("SLO search-availability:") for c in report.caveats)


def test_markdown_shows_the_numbers(report: WeeklyReport, tmp_path: Path) -> None:
    md = render_markdown(report)
    assert "# Weekly reliability report — 2026-W43" in md
    assert "| Incidents | 7 | 3 | +4 |" in md
    assert "| MTTA median | 12 min | 4 min | +8 min |" in md
    assert "| MTTR median | 3 h 00 min | 1 h 00 min | +2 h 00 min |" in md
    assert "| MTTR p90 | 5 h 00 min | 2 h 00 min | +3 h 00 min |" in md
    assert "| Open at week end | 3 | 2 | +1 |" in md
    assert "| Firing alerts | 20 | 12 | +8 |" in md
    assert "| Change-failure rate | 20.0% | 25.0% | −5.0 pp |" in md
    assert "| 1 | HighErrorRate | 4 |" in md and "| 10 | RabbitMQMemoryHigh | 1 |" in md
    assert "| checkout-latency | checkout | latency ≤ 300 ms | 95.00% | 80.000% | 400.0% | −300.0% | 10 |" in md
    assert "| W43-E | SEV3 | frontend |" in md and "Sun 25 Oct 01:30 CEST | 45 min | 3 h 00 min |" in md
