"""simulate(): deterministic, valid Events in realistic formats, a bounded window, a ground truth."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chaos.scenarios import load_scenario
from chaos.simulate import SimConfig, SimulationResult, simulate
from chaos.spec import EnvironmentSpec
from core.errors import InputError
from core.model import Event, EventKind

ROOT = Path(__file__).resolve().parents[3]
PLAIN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR|FATAL) \[[a-z-]+\] .+")
LOGFMT = re.compile(r'^time=\S+Z level=(debug|info|warning|error|critical) service=[a-z-]+ msg=(".*"|\S+)')
POSTGRES = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] (LOG|WARNING|ERROR|FATAL|PANIC|DEBUG):  .+")
REDIS = re.compile(r"^\d+:M \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} [.*#-] .+")
RABBIT = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00 \[(debug|info|warning|error|critical)\] <0\.\d+\.0> .+"
)


def _dump(result: SimulationResult) -> list[str]:
    return [e.model_dump_json() for e in result.events]


def test_same_seed_gives_identical_events_and_another_seed_differs(boutique: EnvironmentSpec) -> None:
    sc = load_scenario("checkout-db-pool")
    a = simulate(boutique, sc, 7)
    b = simulate(boutique, sc, 7)
    c = simulate(boutique, sc, 8)
    assert _dump(a) == _dump(b)
    assert a.truth == b.truth
    assert _dump(a) != _dump(c)
    assert a.truth.onset != c.truth.onset or a.truth.red_herrings != c.truth.red_herrings


def test_events_are_identical_across_processes_with_different_hash_seeds() -> None:
    script = (
        "import hashlib; from chaos.scenarios import load_scenario; from chaos.simulate import simulate; "
        "r = simulate(None, load_scenario('payments-bad-deploy'), 3); "
        "print(hashlib.sha256(''.join(e.model_dump_json() for e in r.events).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {"PYTHONHASHSEED": hash_seed, "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert out.returncode == 0, out.stderr[-2000:]
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_every_event_is_a_valid_core_event(scenario_runs: dict[str, SimulationResult]) -> None:
    for name, result in scenario_runs.items():
        assert len({e.ingest_id for e in result.events}) == len(result.events), f"{name}: duplicate ingest ids"
        # every non-metric event, and a fixed stride of the (uniform, numerous) metric samples
        metrics = 0
        for e in result.events:
            if e.kind == EventKind.METRIC:
                metrics += 1
                if metrics % 7:
                    continue
            again = Event.model_validate(json.loads(e.model_dump_json()))
            assert again == e, name
            assert e.ts.tzinfo is not None


def test_events_are_sorted_and_inside_the_window(scenario_runs: dict[str, SimulationResult]) -> None:
    for result in scenario_runs.values():
        ts = [e.ts for e in result.events]
        assert ts == sorted(ts)
        assert result.start <= ts[0] and ts[-1] < result.end
        window = result.end - result.start
        assert timedelta(minutes=60) <= window <= timedelta(minutes=100)
        assert result.start + timedelta(minutes=40) <= result.truth.onset <= result.start + timedelta(minutes=50)


def test_volumes_are_realistic_but_bounded(scenario_runs: dict[str, SimulationResult]) -> None:
    for name, result in scenario_runs.items():
        counts = result.counts_by_kind()
        assert 1500 <= counts["log"] <= 8000, (name, counts)
        assert counts["metric"] > 10000, (name, counts)
        assert counts.get("alert", 0) >= 1, (name, counts)


def test_log_lines_are_in_their_services_formats(scenario_runs: dict[str, SimulationResult]) -> None:
    result = scenario_runs["checkout-db-pool"]
    fmt = {s.name: s.log_format for s in result.env.services}
    seen = set()
    for e in result.events:
        if e.kind != EventKind.LOG or e.entity.service not in fmt:
            continue
        f = fmt[e.entity.service]
        seen.add(f)
        if f == "json":
            doc = json.loads(e.body)
            assert {"ts", "level", "logger", "msg"} <= set(doc)
            assert doc["level"] == e.severity.value
        else:
            pattern = {"plain": PLAIN, "logfmt": LOGFMT, "postgres": POSTGRES, "redis": REDIS, "rabbitmq": RABBIT}[f]
            assert pattern.match(e.body), (f, e.body)
        assert "{" not in e.body or f == "json", e.body  # no unfilled placeholders
        assert e.entity.cluster == "sim" and e.entity.pod and e.entity.node
    assert seen == {"json", "plain", "logfmt", "postgres", "redis", "rabbitmq"}


def test_metric_alert_k8s_and_change_attributes_follow_the_contract(scenario_runs: dict[str, SimulationResult]) -> None:
    result = scenario_runs["currency-crashloop"]
    metrics = {e.attributes["metric"] for e in result.events if e.kind == EventKind.METRIC}
    assert {
        "http_requests_per_second", "http_error_ratio", "latency_p50_ms", "latency_p99_ms", "cpu_usage_cores",
        "memory_working_set_bytes", "db_connections_in_use", "db_connections_max", "queue_depth", "disk_used_ratio",
    } <= metrics  # fmt: skip
    assert not any(m.startswith("_") for m in metrics)
    for e in result.events:
        if e.kind == EventKind.METRIC:
            assert e.body == "" and set(e.attributes) == {"metric", "value", "unit"}
            assert isinstance(e.attributes["value"], float)
        elif e.kind == EventKind.ALERT:
            a = e.attributes
            assert a["status"] in ("firing", "resolved")
            assert a["labels"]["alertname"] == a["alertname"]
            assert set(a["annotations"]) == {"summary", "description", "runbook_url"}
            assert a["annotations"]["runbook_url"].startswith("https://")
        elif e.kind == EventKind.K8S_EVENT:
            assert {"reason", "object", "type"} <= set(e.attributes)
            assert e.attributes["type"] in ("Normal", "Warning")
        elif e.kind == EventKind.CHANGE:
            assert set(e.attributes) == {"change_type", "version", "previous_version", "author", "description"}
            assert e.attributes["change_type"] in ("deploy", "config", "scale")
    crash = [
        e for e in result.events if e.kind == EventKind.ALERT and e.attributes["alertname"] == "KubePodCrashLooping"
    ]
    assert crash and crash[0].entity.service == "currency" and crash[0].entity.pod
    assert "kubepodcrashlooping" in crash[0].attributes["annotations"]["runbook_url"]


def test_ground_truth(scenario_runs: dict[str, SimulationResult]) -> None:
    truth = scenario_runs["checkout-db-pool"].truth
    assert truth.root_cause == "orders-db" and truth.root_cause_kind == "Database"
    assert truth.root_cause_id == "database:sim/boutique/orders-db"
    assert truth.fault_kind == "db_pool_exhaustion"
    assert truth.expected_runbook == "DBConnectionPoolExhausted"
    assert truth.expected_facts == ["orders-db", "connection pool", "too many clients"]
    assert truth.question == "why is checkout failing?"
    assert "checkout" in truth.affected
    node = scenario_runs["node3-disk-full"].truth
    assert node.root_cause_kind == "Node" and node.root_cause_id == "node:sim/node-3"


def test_expected_facts_appear_in_the_telemetry(scenario_runs: dict[str, SimulationResult]) -> None:
    for name, result in scenario_runs.items():
        text = "\n".join(e.body + json.dumps(e.attributes) for e in result.events if e.kind != EventKind.METRIC)
        # a metric's name is evidence too (node_network_packet_loss_ratio says "packet loss")
        text += "\n".join(
            {e.attributes["metric"].replace("_", " ") for e in result.events if e.kind == EventKind.METRIC}
        )
        text = text.lower()
        for fact in result.truth.expected_facts:
            assert fact.lower() in text, f"{name}: fact {fact!r} appears nowhere in the events"


def test_red_herrings_are_injected_by_some_seeds(boutique: EnvironmentSpec) -> None:
    sc = load_scenario("shipping-latency")
    notes = [
        n for seed in range(6) for n in simulate(boutique, sc, seed, config=SimConfig(step_s=60)).truth.red_herrings
    ]
    assert any("deploy of" in n for n in notes)
    assert any("flapping" in n for n in notes)
    deploys = [n for n in notes if "deploy of" in n]
    for n in deploys:  # the benign deploy never touches the fault's path
        assert not any(s in n for s in ("shipping", "checkout", "frontend"))


def test_start_can_be_moved_and_step_changed(boutique: EnvironmentSpec) -> None:
    sc = load_scenario("cart-error-spike")
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    r = simulate(boutique, sc, config=SimConfig(step_s=15), start=start)
    assert r.start == start and r.events[0].ts >= start
    assert r.step_s == 15
    base = simulate(boutique, sc)
    assert r.counts_by_kind()["metric"] > 1.8 * base.counts_by_kind()["metric"]
    with pytest.raises(InputError, match="timezone-aware"):
        simulate(boutique, sc, start=datetime(2026, 3, 2, 8, 0))


def test_write_produces_the_three_files(scenario_runs: dict[str, SimulationResult], tmp_path: Path) -> None:
    result = scenario_runs["cart-redis-down"]
    paths = result.write(tmp_path / "out")
    lines = paths["events"].read_text().splitlines()
    assert len(lines) == len(result.events)
    assert Event.model_validate_json(lines[0]) == result.events[0]
    truth = json.loads(paths["truth"].read_text())
    assert truth["root_cause"] == "redis-cart" and truth["fault_kind"] == "dependency_down"
    assert "services:" in paths["topology"].read_text()
    digest = hashlib.sha256(paths["events"].read_bytes()).hexdigest()
    result.write(tmp_path / "again")
    assert hashlib.sha256((tmp_path / "again" / "events.jsonl").read_bytes()).hexdigest() == digest
