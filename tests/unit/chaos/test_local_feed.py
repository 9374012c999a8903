"""What the feeder sends to Sherlog: demo log lines as Events, tailing files without losing
lines, and bodies that Sherlog's own intake decoders accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.local.app import demo_topology
from chaos.local.feed import SOURCE, LogTail, log_line_event
from chaos.local.service import JsonLog
from core.errors import InvalidPayload
from core.intake.payloads import parse_log_batch, parse_topology
from core.model import EventKind, Severity


def test_service_log_lines_become_log_events(tmp_path: Path) -> None:
    log = JsonLog(tmp_path / "payments.log", "payments")
    log.write("info", "GET / 200", status=200, duration_ms=3.2, trace_id="t1")
    log.write("error", "card processor refused", status=500, duration_ms=4.0, trace_id="t2", peer=None)
    log.close()
    lines = (tmp_path / "payments.log").read_text().splitlines()
    ok, err = (log_line_event("payments", line, f"id-{i}") for i, line in enumerate(lines))
    assert ok.kind == EventKind.LOG and ok.source == SOURCE
    assert ok.entity.service == "payments" and ok.entity.namespace == "demo" and ok.entity.cluster == "local"
    assert ok.severity == Severity.INFO and ok.body == "GET / 200" and ok.trace_id == "t1"
    assert ok.attributes == {"status": 200, "duration_ms": 3.2}
    assert err.severity == Severity.ERROR and err.body == "card processor refused"
    assert "peer" not in err.attributes  # None fields are not written at all
    assert err.ts.tzinfo is not None and err.ingest_id == "id-1"


def test_bad_log_lines_are_named() -> None:
    with pytest.raises(InvalidPayload, match="payments log line is not JSON"):
        log_line_event("payments", "not json", "x")
    with pytest.raises(InvalidPayload, match="lacks 'ts'/'msg'"):
        log_line_event("payments", json.dumps({"level": "info"}), "x")


def test_log_tail_reads_complete_lines_and_resumes_only_after_commit(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    tail = LogTail(path)
    assert tail.read() == ([], 0)  # no file yet
    path.write_bytes(b'{"a":1}\n{"a":2}\n{"a":')
    lines, end = tail.read()
    assert lines == [(0, '{"a":1}'), (8, '{"a":2}')]
    assert end == 16
    # not committed (the push failed): the same lines come again
    assert tail.read() == (lines, end)
    tail.commit(end)
    with path.open("ab") as f:
        f.write(b"3}\n")
    assert tail.read() == ([(16, '{"a":3}')], 24)


def test_event_batches_pass_sherlogs_intake_decoder(tmp_path: Path) -> None:
    log = JsonLog(tmp_path / "checkout.log", "checkout")
    log.write("error", "call to payments failed: HTTP 500", status=502, trace_id="t", peer="payments")
    log.close()
    lines = (tmp_path / "checkout.log").read_text().splitlines()
    events = [log_line_event("checkout", line, f"k{i}") for i, line in enumerate(lines)]
    body = json.dumps({"events": [e.model_dump(mode="json") for e in events]}).encode()
    decoded = parse_log_batch(body)
    assert decoded.batch.errors == []
    assert decoded.batch.events == events


def test_topology_body_passes_sherlogs_intake_decoder() -> None:
    topo = parse_topology(json.dumps(demo_topology()).encode(), fmt="static")
    assert topo.errors == []
    assert {e.name for e in topo.entities} >= {"frontend", "checkout", "payments", "orders-db", "catalog"}
