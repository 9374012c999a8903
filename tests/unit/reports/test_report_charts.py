"""The three PNG charts exist, are valid PNGs of a readable size, also for an empty week."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from core.db.store import RelationalStore
from core.settings import Settings
from reports.charts import render_charts
from reports.markdown import REPORT_FILENAME, write_report
from reports.report import build_weekly_report
from tests.fixtures.report_week import WEEK, fixture_settings, load_report_week

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    assert 10_000 < len(data) < 1_000_000, f"{path.name} is {len(data)} bytes"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return im.size


def test_charts_and_markdown_for_the_fixture_week(tmp_path: Path) -> None:
    db = RelationalStore(f"sqlite:///{tmp_path / 'sherlog.db'}")
    try:
        load_report_week(db)
        report = build_weekly_report(db, fixture_settings(tmp_path), WEEK, now=NOW)
    finally:
        db.close()
    files = write_report(report, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "incidents_per_day.png",
        "mttr_trend.png",
        REPORT_FILENAME,
        "slo_budget.png",
    ]
    for png in files.charts.all():
        w, h = _check_png(png)
        assert w >= 800 and h >= 300  # big enough to read in chat
    md = files.markdown.read_text()
    for png in files.charts.all():
        assert f"]({png.name})" in md  # linked relative to the markdown file


@pytest.mark.parametrize("slos", [True, False])
def test_charts_for_an_empty_week(tmp_path: Path, slos: bool) -> None:
    db = RelationalStore(f"sqlite:///{tmp_path / 'sherlog.db'}")
    try:
        s = fixture_settings(tmp_path) if slos else Settings(data_dir=tmp_path, timezone="Europe/Paris")
        report = build_weekly_report(db, s, WEEK, now=NOW)
    finally:
        db.close()
    assert report.current.total == 0 and report.current.mttr.median is None
    charts = render_charts(report, tmp_path / "empty")
    for png in charts.all():
        _check_png(png)
