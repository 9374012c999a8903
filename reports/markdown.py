"""Render a WeeklyReport as markdown, and write it with its charts to a directory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from reports.charts import Charts, render_charts
from reports.metrics import DurationStats
from reports.report import WeeklyReport

REPORT_FILENAME = "report.md"


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` produced."""

    directory: Path
    markdown: Path
    charts: Charts


def fmt_duration(d: timedelta | float | None) -> str:
    """`1 h 05 min`, `12 min 30 s`, `45 s`; "—" for undefined. Signed when negative."""
    if d is None:
        return "—"
    total = d.total_seconds() if isinstance(d, timedelta) else float(d)
    sign = "−" if total < 0 else ""
    s = round(abs(total))
    h, rem = divmod(s, 3600)
    mins, secs = divmod(rem, 60)
    if h:
        return f"{sign}{h} h {mins:02d} min"
    if mins:
        return f"{sign}{mins} min" + (f" {secs:02d} s" if secs else "")
    return f"{sign}{secs} s"


def fmt_delta_count(v: float | None) -> str:
    if v is None:
        return "—"
    return "±0" if v == 0 else f"{v:+.0f}".replace("-", "−")


def fmt_delta_duration(v: float | None) -> str:
    if v is None:
        return "—"
    return "±0" if v == 0 else ("+" if v > 0 else "") + fmt_duration(v)


def fmt_pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f}%".replace("-", "−")


def fmt_delta_pct_points(v: float | None) -> str:
    if v is None:
        return "—"
    return "±0" if v == 0 else f"{v * 100:+.1f} pp".replace("-", "−")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _stats(s: DurationStats) -> str:
    return f"{fmt_duration(s.median)} / {fmt_duration(s.p90)} (n={s.count})"


def _local(ts: datetime | None, report: WeeklyReport) -> str:
    return "—" if ts is None else f"{ts.astimezone(report.week.tz):%a %d %b %H:%M %Z}"


def render_markdown(report: WeeklyReport, charts: Charts | None = None) -> str:
    """The report as markdown; chart images are linked by file name (same directory)."""
    cur, prev, dl = report.current, report.previous, report.deltas
    wk = report.week
    out: list[str] = [
        f"# Weekly reliability report — {wk.label}",
        "",
        f"{wk.describe()} · generated {report.generated_at.astimezone(wk.tz):%Y-%m-%d %H:%M %Z}",
        "",
        "## Summary",
        "",
        f"| | {wk.label} | {prev.week.label} | change |",
        "|---|---:|---:|---:|",
        f"| Incidents | {cur.total} | {prev.total} | {fmt_delta_count(dl.incidents)} |",
        f"| MTTA median | {fmt_duration(cur.mtta.median)} | {fmt_duration(prev.mtta.median)} "
        f"| {fmt_delta_duration(dl.mtta_median_s)} |",
        f"| MTTR median | {fmt_duration(cur.mttr.median)} | {fmt_duration(prev.mttr.median)} "
        f"| {fmt_delta_duration(dl.mttr_median_s)} |",
        f"| MTTR p90 | {fmt_duration(cur.mttr.p90)} | {fmt_duration(prev.mttr.p90)} "
        f"| {fmt_delta_duration(dl.mttr_p90_s)} |",
        f"| Open at week end | {len(cur.open_at_end)} | {len(prev.open_at_end)} | {fmt_delta_count(dl.open_at_end)} |",
        f"| Firing alerts | {cur.alerts.total} | {prev.alerts.total} | {fmt_delta_count(dl.alerts)} |",
        f"| Changes | {cur.changes.changes} | {prev.changes.changes} | {fmt_delta_count(dl.changes)} |",
        f"| Change-failure rate | {fmt_pct(cur.changes.failure_rate)} | {fmt_pct(prev.changes.failure_rate)} "
        f"| {fmt_delta_pct_points(dl.change_failure_rate)} |",
        "",
    ]
    if charts:
        out += [f"![Incidents per day by severity]({charts.incidents_per_day.name})", ""]

    out += ["## Incidents", "", "| severity | incidents |", "|---|---:|"]
    out += [f"| SEV{sev} | {n} |" for sev, n in cur.by_severity.items()]
    out += ["", "| service | incidents |", "|---|---:|"]
    out += [f"| {_cell(svc)} | {n} |" for svc, n in cur.by_service] or ["| — | 0 |"]
    out += [""]
    if cur.incidents:
        out += [
            f"MTTA median / p90: {_stats(cur.mtta)}. MTTR median / p90: {_stats(cur.mttr)}.",
            "",
            "| incident | sev | service | title | created | to acknowledge | to resolve | change |",
            "|---|---|---|---|---|---:|---:|---|",
        ]
        for i in cur.incidents:
            tta = i.acknowledged_at - i.created_at if i.acknowledged_at else None
            ttr = i.resolved_at - i.created_at if i.resolved_at else None
            out.append(
                f"| {_cell(i.key)} | SEV{i.severity} | {_cell(i.service or '—')} | {_cell(i.title)} "
                f"| {_local(i.created_at, report)} | {fmt_duration(tta)} "
                f"| {fmt_duration(ttr) if ttr is not None else 'unresolved'} | {_cell(i.change_id or '—')} |"
            )
        out.append("")
    out += [f"### Open at week end ({len(cur.open_at_end)})", ""]
    if cur.open_at_end:
        out += ["| incident | sev | service | title | created | status |", "|---|---|---|---|---|---|"]
        for i in cur.open_at_end:
            out.append(
                f"| {_cell(i.key)} | SEV{i.severity} | {_cell(i.service or '—')} | {_cell(i.title)} "
                f"| {_local(i.created_at, report)} | {i.status} |"
            )
    else:
        out.append("None: every incident was resolved by the end of the week.")
    out += ["", "## MTTR trend", ""]
    if charts:
        out += [f"![MTTR trend over {len(report.mttr_trend)} weeks]({charts.mttr_trend.name})", ""]
    out += ["| week | resolved | median | p90 |", "|---|---:|---:|---:|"]
    out += [
        f"| {p.week.label} | {p.mttr.count} | {fmt_duration(p.mttr.median)} | {fmt_duration(p.mttr.p90)} |"
        for p in report.mttr_trend
    ]
    out += [
        "",
        "## Alerts",
        "",
        f"{cur.alerts.total} firing alerts ({cur.alerts.distinct} distinct names); previous week {prev.alerts.total}.",
        "",
    ]
    if cur.alerts.top:
        out += ["| # | alert | firings |", "|---:|---|---:|"]
        out += [f"| {k} | {_cell(name)} | {n} |" for k, (name, n) in enumerate(cur.alerts.top, 1)]
        out.append("")
    ch = cur.changes
    out += [
        "## Changes",
        "",
        f"{ch.changes} changes; incidents linked to a change: {ch.failed}; "
        f"change-failure rate {fmt_pct(ch.failure_rate)} (previous week {fmt_pct(prev.changes.failure_rate)}).",
        "",
        "## SLOs",
        "",
    ]
    if charts:
        out += [f"![SLO error budget remaining]({charts.slo_budget.name})", ""]
    if report.slos:
        out += [
            "| SLO | service | kind | objective | achieved | budget burned | budget remaining | samples | source |",
            "|---|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for s in report.slos:
            kind = s.kind + (f" ≤ {s.threshold_ms:g} ms" if s.threshold_ms is not None and s.kind == "latency" else "")
            out.append(
                f"| {_cell(s.name)} | {_cell(s.service)} | {kind} | {fmt_pct(s.objective, 2)} "
                f"| {fmt_pct(s.achieved, 3)} | {fmt_pct(s.budget.burn)} | {fmt_pct(s.budget.remaining)} "
                f"| {s.sli.samples} | {s.source} |"
            )
    else:
        out.append("No SLOs configured.")
    out.append("")
    if report.caveats:
        out += ["## Caveats", ""] + [f"- {_cell(c)}" for c in report.caveats] + [""]
    out += [
        "## How these numbers are computed",
        "",
        f"- The week is ISO week {wk.label} in {report.timezone}: [{wk.start:%Y-%m-%d %H:%M}Z, "
        f"{wk.end:%Y-%m-%d %H:%M}Z). An incident belongs to the week it was created in.",
        "- MTTA = acknowledged − created, MTTR = resolved − created, between UTC instants (DST-safe).",
        "- Median and p90 are nearest-rank: the value at rank ⌈p·n⌉ of the sorted durations.",
        "- Firing alerts count one per alert episode (resolved notifications are not counted).",
        "- Change-failure rate = incidents of the week linked to a change ÷ changes in the week.",
        "- Error budget = 1 − objective; burned = (1 − achieved) ÷ budget; remaining = 1 − burned.",
        "",
    ]
    return "\n".join(out)


def write_report(report: WeeklyReport, out_dir: Path) -> ReportFiles:
    """Draw the charts and write `report.md` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = render_charts(report, out_dir)
    md = out_dir / REPORT_FILENAME
    md.write_text(render_markdown(report, charts), encoding="utf-8")
    return ReportFiles(directory=out_dir, markdown=md, charts=charts)
