"""A system only minutes old still gets log evidence: the baseline is carved from what exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.db.store import RelationalStore
from core.engine.gatherers.logs import scan_logs

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_six_minutes_of_logs_still_yield_a_burst(tmp_path: Path) -> None:
    db = RelationalStore(f"sqlite:///{tmp_path / 'x.db'}")
    entity = "service:local/demo/payments"
    counts = {}
    for minute in range(6):  # quiet for 3 minutes, then an error template bursts
        counts[(T0 + timedelta(minutes=minute), entity, "t-ok")] = ("info", 10)
        if minute >= 3:
            counts[(T0 + timedelta(minutes=minute), entity, "t-err")] = ("error", 40)
    db.add_log_counts(counts)
    until = T0 + timedelta(minutes=6)
    scan = scan_logs(db, None, [entity], since=until - timedelta(minutes=30), until=until, baseline=timedelta(hours=1))
    assert scan.baseline_used is not None and scan.baseline_used <= timedelta(minutes=3)
    assert any(sig.template_id == "t-err" for sig in scan.signals), scan.signals
    db.close()
