"""SLOs evaluated by a PromQL query against a real Prometheus (Debian package, started by the test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.db.store import RelationalStore
from core.settings import SLO, ReportSettings, Settings, SourcesSettings
from core.sources.prometheus import PrometheusClient
from reports.slo import evaluate_slos
from reports.week import Week
from tests.fixtures.net import free_port
from tests.fixtures.procs import ServerProcess
from tests.fixtures.prometheus import throwaway_prometheus, wait_for_series


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with throwaway_prometheus(tmp_path_factory.mktemp("prom-slo")) as server:
        wait_for_series(server.url, 'up{job="prometheus"}')
        yield server


def test_query_slos_use_prometheus(tmp_path: Path, prom: ServerProcess) -> None:
    slos = [
        # Prometheus scraping itself is always up: SLI 1.0, the whole budget left
        SLO(name="prom-up", service="prometheus", objective=0.99, query='up{job="prometheus"}'),
        # a query whose SLI is 0.5 everywhere: burn (1 − 0.5) / 0.01 = 50
        SLO(name="half", service="prometheus", objective=0.99, query='up{job="prometheus"} * 0.5'),
        SLO(name="broken", service="prometheus", objective=0.99, query="sum(rate(("),
    ]
    settings = Settings(
        data_dir=tmp_path,
        sources=SourcesSettings(prometheus_url=prom.url),
        report=ReportSettings(slos=slos),
    )
    week = Week.containing(datetime.now(UTC), ZoneInfo("UTC"))  # Prometheus only has data from now on
    db = RelationalStore(f"sqlite:///{tmp_path / 'sherlog.db'}")
    try:
        up, half, broken = evaluate_slos(db, settings, week)
    finally:
        db.close()
    assert (up.source, up.achieved, up.budget.remaining, up.caveats) == ("prometheus", 1.0, 1.0, ())
    assert up.sli.samples >= 1
    assert half.achieved == pytest.approx(0.5)
    assert half.budget.burn == pytest.approx(50.0)
    assert broken.achieved is None
    assert any("Prometheus query failed" in c and "rejected the query" in c for c in broken.caveats)


def test_an_unreachable_prometheus_is_a_caveat(tmp_path: Path) -> None:
    slo = SLO(name="x", service="checkout", objective=0.99, query="up")
    settings = Settings(data_dir=tmp_path, report=ReportSettings(slos=[slo]))
    week = Week.parse("2026-W43", ZoneInfo("UTC"))
    db = RelationalStore(f"sqlite:///{tmp_path / 'sherlog.db'}")
    try:
        with PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout_s=2.0) as client:
            (res,) = evaluate_slos(db, settings, week, prometheus=client)
    finally:
        db.close()
    assert res.achieved is None
    assert res.caveats and res.caveats[0].startswith("Prometheus query failed")
