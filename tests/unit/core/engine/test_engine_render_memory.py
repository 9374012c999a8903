"""Plain-text/Markdown rendering of an Answer, thread-memory (de)serialisation, metric families and
the time-grid the metric scan scores on."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from core.engine.gatherers.metrics import metric_family, to_grid
from core.engine.memory import ThreadState, thread_key
from core.engine.render_text import render
from core.model import Answer, Cost, Evidence, EvidenceKind, RootCause, RunbookRef


def _answer() -> Answer:
    return Answer(
        question="why is checkout failing?",
        summary="Most likely root cause: orders-db (database) [ev-metric-00000001].",
        root_causes=[
            RootCause(
                entity="service:sim/shop/orders-db",
                confidence=0.93,
                why="pool full [ev-metric-00000001].",
                fault_kind="db_pool_exhaustion",
            )
        ],
        evidence=[
            Evidence(
                id="ev-metric-00000001",
                kind=EvidenceKind.METRIC,
                ts=datetime(2026, 11, 17, 10, 1, tzinfo=UTC),
                entity="service:sim/shop/orders-db",
                text="orders-db: db_connections_in_use rose to 100",
            )
        ],
        causal_path=["checkout", "orders-db"],
        runbooks=[RunbookRef(id="runbook:db", title="DBConnectionPoolExhausted", url="https://runbooks.example/db")],
        next_steps=["Terminate the blocking query"],
        caveats=["logs unavailable: timed out after 2 s"],
        cost=Cost(latency_ms=123.4),
    )


def test_markdown_rendering_has_every_section() -> None:
    text = render(_answer())
    for part in (
        "*Root causes*",
        "1. orders-db — db pool exhaustion (93%)",
        "*Causal path*\ncheckout → orders-db",
        "`ev-metric-00000001` 10:01:00 orders-db",
        "DBConnectionPoolExhausted <https://runbooks.example/db>",
        "1. Terminate the blocking query",
        "- logs unavailable: timed out after 2 s",
        "answered in 123 ms · template narration",
    ):
        assert part in text, part


def test_plain_rendering_and_empty_sections() -> None:
    bare = Answer(question="q", summary="nothing to see [ev-topo-00000002].", cost=Cost(latency_ms=5))
    text = render(bare, markdown=False)
    assert text.startswith("nothing to see")
    assert "ROOT CAUSES" not in text and "CAVEATS" not in text
    assert "ROOT CAUSES" in render(_answer(), markdown=False)


def test_thread_state_round_trip_and_versioning() -> None:
    s = ThreadState(
        focus=["service:a"],
        intent="why",
        since="2026-11-17T09:00:00+00:00",
        until="2026-11-17T10:00:00+00:00",
        root_cause="service:db",
        nodes=["node:n1"],
    )
    again = ThreadState.from_json(s.to_json())
    assert again == s
    w = again.window() if again else None
    assert w is not None and w.since == datetime(2026, 11, 17, 9, tzinfo=UTC)
    assert ThreadState.from_json({}) is None and ThreadState.from_json({"v": 999, "focus": []}) is None
    assert thread_key("slack", "C1", None) is None
    assert thread_key("slack", "C1", "T1") == ("slack", "C1", "T1")


def test_metric_families_by_name() -> None:
    assert metric_family("container_cpu_cfs_throttled_ratio") == "throttle"
    assert metric_family("ssl_certificate_expiry_seconds") == "expiry"
    assert metric_family("http_error_ratio") == "errors"
    assert metric_family("latency_p99_ms") == "latency"
    assert metric_family("http_requests_per_second") == "throughput"
    assert metric_family("kube_pod_container_status_restarts_total") == "restarts"
    assert metric_family("up") == "availability"
    assert metric_family("dns_lookup_errors_per_second") == "dns"
    assert metric_family("frobnication_level") == "other"


def test_grid_aligns_series_and_marks_gaps() -> None:
    series = {
        ("a", "m"): ([0.0, 30.0, 60.0, 90.0], [1.0, 2.0, 3.0, 4.0]),
        ("b", "m"): ([1.0, 61.0], [10.0, 30.0]),  # sparse, slightly offset
    }
    times, keys, values, step = to_grid(series)
    assert step == 30.0 and keys == [("a", "m"), ("b", "m")]
    assert list(times) == [0.0, 30.0, 60.0, 90.0]
    assert values[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert values[0, 1] == 10.0 and np.isnan(values[1, 1]) and values[2, 1] == 30.0
