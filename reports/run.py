"""Produce one weekly report end to end: build it, write markdown + charts, optionally post.

Shared by the CLI (`sherlog report weekly`) and the scheduler job, so both follow the
same no-double-post rules (reports.post).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.db.store import RelationalStore
from core.settings import Settings
from reports.markdown import ReportFiles, write_report
from reports.post import PostOutcome, Publisher, build_publishers, post_report
from reports.report import HasDb, WeeklyReport, build_weekly_report
from reports.week import Week


@dataclass(frozen=True)
class RunResult:
    """The report, where its files are, and what happened per chat destination (empty if not posted)."""

    report: WeeklyReport
    files: ReportFiles
    outcomes: list[PostOutcome]


def default_out_dir(settings: Settings, week: Week) -> Path:
    """`<data dir>/reports/<week>`."""
    return settings.data_dir / "reports" / week.label


def run_weekly(
    settings: Settings,
    source: HasDb | RelationalStore,
    *,
    week: Week | str | None = None,
    out_dir: Path | None = None,
    post: bool = False,
    force: bool = False,
    now: datetime | None = None,
    publishers: Sequence[Publisher] | None = None,
) -> RunResult:
    """Build the report for `week` (default: last complete ISO week), write it, and post it if asked."""
    db = source if isinstance(source, RelationalStore) else source.db
    report = build_weekly_report(db, settings, week, now=now)
    files = write_report(report, out_dir or default_out_dir(settings, report.week))
    outcomes: list[PostOutcome] = []
    if post:
        pubs = build_publishers(settings) if publishers is None else publishers
        outcomes = post_report(db, report, files, pubs, force=force)
    return RunResult(report, files, outcomes)
