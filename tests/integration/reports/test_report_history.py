"""`sherlog report weekly` on the demo history (chaos.history), ingested through core's Ingestor
into a real embedded stack, with the post going to a Slack recorder."""

from __future__ import annotations

import math
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from chaos.history import History, generate_history
from core.settings import Settings
from core.wiring import open_stack
from reports.cli import app
from reports.week import Week
from tests.fixtures.slack_recorder import SlackRecorder, block_text

PARIS = ZoneInfo("Europe/Paris")
WEEK = "2026-W46"  # Mon 9 – Sun 15 Nov 2026, inside the history's 30 days (it ends 17 Nov 09:15Z)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


def _load_history(settings: Settings) -> History:
    pipeline = pytest.importorskip("core.ingest.pipeline", reason="core.ingest.pipeline.Ingestor is not there yet")
    history = generate_history(seed=0)
    stack = open_stack(settings)
    try:
        with pipeline.Ingestor(stack) as ingestor:
            events = ingestor.ingest_events(history.events)
            incidents = ingestor.ingest_incidents(history.incidents)
    finally:
        stack.close()
    assert not events.rejected, events.rejected[:3]
    assert not incidents.rejected, incidents.rejected[:3]
    return history


def _nearest_rank_minutes(values: list[float], p: float) -> float | None:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] if ordered else None


def _fmt_minutes(m: float) -> str:
    # the report's duration format, for whole-minute or whole-second values
    s = round(m * 60)
    h, rem = divmod(s, 3600)
    mins, secs = divmod(rem, 60)
    if h:
        return f"{h} h {mins:02d} min"
    return f"{mins} min" + (f" {secs:02d} s" if secs else "") if mins else f"{secs} s"


def test_weekly_report_from_the_demo_history(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = _load_history(settings)
    week = Week.parse(WEEK, PARIS)

    # the week's numbers straight from the generated history (not from the database)
    mine = [i for i in history.incidents if week.contains(i.declared_at)]
    assert len(mine) >= 3, "the history should have incidents in the week"
    ttr = [(i.resolved_at - i.declared_at).total_seconds() / 60 for i in mine]
    firing = [e for e in history.alerts if week.contains(e.ts) and e.attributes.get("status") == "firing"]
    changes = [e for e in history.changes if week.contains(e.ts)]

    out = tmp_path / "report-out"
    with SlackRecorder() as rec:
        for key, value in {
            "SHERLOG_DATA_DIR": str(settings.data_dir),
            "SHERLOG_TIMEZONE": "Europe/Paris",
            "SHERLOG_GRAPH__URI": settings.graph.uri or "",
            "SHERLOG_GRAPH__GRAPH_NAME": settings.graph.graph_name,
            "SHERLOG_SLACK__BOT_TOKEN": "xoxb-history",
            "SHERLOG_SLACK__API_BASE_URL": rec.base_url,
            "SHERLOG_REPORT__SLACK_CHANNEL": "#reliability",
            "SHERLOG_REPORT__SLOS": '[{"name": "checkout-availability", "service": "checkout", "objective": 0.99}]',
        }.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(app, ["weekly", "--week", WEEK, "--out", str(out), "--post"])
        assert result.exit_code == 0, result.output
        (msg,) = rec.of("chat.postMessage")
        uploads = dict(rec.uploads)
        assert len(rec.of("files.completeUploadExternal")) == 1

    # files: markdown + three readable PNGs
    md = (out / "report.md").read_text()
    for name in ("incidents_per_day.png", "mttr_trend.png", "slo_budget.png"):
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000
        assert f"]({name})" in md
    assert sorted(uploads.values()) == sorted(
        (out / n).read_bytes() for n in ("incidents_per_day.png", "mttr_trend.png", "slo_budget.png")
    )

    # the report agrees with the history it was built from
    assert f"| Incidents | {len(mine)} |" in md
    assert f"| MTTR median | {_fmt_minutes(_nearest_rank_minutes(ttr, 50) or 0)} |" in md
    assert f"| MTTR p90 | {_fmt_minutes(_nearest_rank_minutes(ttr, 90) or 0)} |" in md
    assert f"| Firing alerts | {len(firing)} |" in md
    assert f"| Changes | {len(changes)} |" in md
    linked = sum(1 for i in mine if i.related_change)
    assert f"{len(changes)} changes; incidents linked to a change: {linked};" in md
    for i in mine:
        assert f"| {i.id} |" in md or f"| hist-{i.id} |" in md

    # the Slack summary says the same
    assert "Weekly reliability report — 2026-W46" in block_text(msg.params["blocks"])
    assert msg.params["channel"] == "#reliability"
    assert f"Weekly reliability report {WEEK}: {len(mine)} incidents" in msg.params["text"]
