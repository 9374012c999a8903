"""`sherlog ingest ...` end to end: real files in, real stores written, rejections listed by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_helpers import log, metric
from typer.testing import CliRunner

from core.cli.ingest import app
from core.db.store import RelationalStore
from core.errors import InputError
from core.graph import build_graph_store
from core.settings import Settings

BOUTIQUE = Path(__file__).resolve().parents[4] / "chaos" / "environments" / "boutique.topology.yaml"


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    assert settings.graph.uri is not None
    return {
        "SHERLOG_DATA_DIR": str(settings.data_dir),
        "SHERLOG_GRAPH__URI": settings.graph.uri,
        "SHERLOG_GRAPH__GRAPH_NAME": settings.graph.graph_name,
        "COLUMNS": "200",
    }


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_events_file_with_bad_lines(env: dict[str, str], settings: Settings, tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    lines = [
        json.dumps(log(1, "user u1 logged in")),
        json.dumps(metric(1, "cpu", 0.4)),
        "{not json",
        "",
        json.dumps({**metric(2, "cpu", "high")}),
        json.dumps(log(2, "user u2 logged in")),
    ]
    f.write_text("\n".join(lines) + "\n")
    code, out = _run(env, "events", str(f))
    assert code == 1, out
    assert (_row(out, "accepted"), _row(out, "rejected")) == ("3", "2")
    # rejections name the file's line numbers and the field
    assert "│    3 │ (json)" in out and "│    5 │ attributes.value" in out, out
    with RelationalStore(settings.db_url) as db:
        counts = db.counts()
    assert (counts["log_lines"], counts["metric_points"]) == (2, 1)

    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(lines[:2]) + "\n")
    code, out = _run(env, "events", "-", stdin=good.read_text())
    assert code == 0, out
    assert _row(out, "duplicates") == "2" and _row(out, "accepted") == "0"


def test_topology_alerts_metrics_and_runbooks(
    env: dict[str, str], settings: Settings, tmp_path: Path, shared_data: Path
) -> None:
    code, out = _run(env, "topology", str(BOUTIQUE))
    assert code == 0, out
    graph = build_graph_store(settings)
    try:
        assert graph.count_nodes("Database") == 1 and graph.count_edges("DEPENDS_ON") > 10

        webhook = {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "KubePodCrashLooping", "namespace": "boutique", "service": "cart"},
                    "annotations": {"summary": "crash looping"},
                    "startsAt": "2025-03-03T12:00:00Z",
                },
                {"status": "firing", "labels": {}, "startsAt": "2025-03-03T12:00:00Z"},
            ],
        }
        (tmp_path / "am.json").write_text(json.dumps(webhook))
        code, out = _run(env, "alerts", str(tmp_path / "am.json"), "--cluster", "sim")
        assert code == 1 and "alerts[1].labels.alertname" in out, out
        rows = graph.query("MATCH (a:Alert)-[:FIRED_ON]->(s) RETURN s.id AS id")
        assert rows == [{"id": "service:sim/boutique/cart"}]

        rb = tmp_path / "rb"
        rb.mkdir()
        src = shared_data / "runbooks/prometheus-operator-runbooks/content/runbooks/kubernetes/KubePodCrashLooping.md"
        (rb / "KubePodCrashLooping.md").symlink_to(src)
        code, out = _run(env, "runbooks", str(rb), "--base-url", "https://rb.example")
        assert code == 0, out
        assert graph.query("MATCH (:Alert)-[:RELATED_RUNBOOK]->(r:Runbook) RETURN r.url AS u") == [
            {"u": "https://rb.example/kubepodcrashlooping"}
        ]
    finally:
        graph.close()

    csv = tmp_path / "m.csv"
    csv.write_text("time,cart_cpu,orders-db_lat_90\n1700000000,0.5,12\n1700000001,0.6,\n1700000002,0.7,14\n")
    code, out = _run(env, "metrics-csv", str(csv), "--entity-prefix", "sim/boutique")
    assert code == 0, out
    with RelationalStore(settings.db_url) as db:
        points = db.counts()["metric_points"]
        ids = {p.entity_id for p in db.metric_points(since=_ts(1699999999), until=_ts(1700000010))}
    assert points == 5  # the empty cell is a missing sample
    assert ids == {"service:sim/boutique/cart", "service:sim/boutique/orders-db"}
    with pytest.raises(InputError, match="entity-prefix"):
        _run(env, "metrics-csv", str(csv), "--entity-prefix", "a/b/c")


def _row(out: str, name: str) -> str:
    """The number in the result table's row `name`."""
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if cells and cells[0] == name:
            return cells[-1]
    raise AssertionError(f"no row {name!r} in:\n{out}")


def _ts(epoch: float):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)
