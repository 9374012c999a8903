"""Each fault kind produces its declared signals on the root, trips its alerts, and propagates with a delay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from chaos_helpers import alerts, anomaly_onset, pods_of, series

from chaos.faults import FAULTS, FaultKind, check_target, eligible_targets, get_fault
from chaos.scenarios import Scenario
from chaos.simulate import SimulationResult
from chaos.spec import EnvironmentSpec
from core.errors import InputError
from core.model import EventKind

KINDS = [k.value for k in FaultKind]


def _run_for(kind: str, runs: dict[str, SimulationResult], scenarios: list[Scenario]) -> SimulationResult:
    name = next(s.name for s in scenarios if s.fault.kind.value == kind)
    return runs[name]


def _signal_onset(result: SimulationResult, metric: str, direction: str, scope: str) -> datetime | None:
    """Earliest anomaly of ``metric`` on the root (any of its pods, or any service on a root node)."""
    env, root, onset = result.env, result.truth.root_cause, result.truth.onset
    if scope == "component":
        candidates = [series(result, metric, service=root)]
    elif scope == "pod":
        candidates = [series(result, metric, pod=p) for p in pods_of(result, root)]
    elif scope == "node":
        candidates = [series(result, metric, node=root)]
    else:  # node_services
        candidates = [series(result, metric, service=s) for s in env.services_on(root)]
        candidates += [series(result, metric, pod=p) for s in env.services_on(root) for p in pods_of(result, s)]
    found = [t for c in candidates if (t := anomaly_onset(c, onset, direction)) is not None]
    return min(found) if found else None


def test_the_library_has_every_kind_the_issue_lists() -> None:
    assert len(FAULTS) >= 14
    assert set(KINDS) == {
        "cpu_hog", "memory_leak", "latency_injection", "error_spike", "crash_loop", "bad_deploy", "disk_full",
        "db_pool_exhaustion", "dependency_down", "dns_failure", "cert_expired", "packet_loss", "noisy_neighbour",
        "queue_backlog",
    }  # fmt: skip
    for fd in FAULTS.values():
        assert fd.root_signals and fd.alerts and fd.runbook and fd.facts and fd.questions
        assert fd.target_kinds <= {"Service", "Database", "Cache", "Queue", "Node"}


@pytest.mark.parametrize("kind", KINDS)
def test_root_shows_every_declared_signal_after_onset(
    kind: str, scenario_runs: dict[str, SimulationResult], shipped_scenarios: list[Scenario]
) -> None:
    result = _run_for(kind, scenario_runs, shipped_scenarios)
    for sig in get_fault(kind).root_signals:
        t = _signal_onset(result, sig.metric, sig.direction, sig.scope)
        assert t is not None, f"{kind}: {sig.metric} did not go {sig.direction} on {result.truth.root_cause}"
        assert t >= result.truth.onset


@pytest.mark.parametrize("kind", KINDS)
def test_declared_alerts_fire_after_onset_and_only_then(
    kind: str, scenario_runs: dict[str, SimulationResult], shipped_scenarios: list[Scenario]
) -> None:
    result = _run_for(kind, scenario_runs, shipped_scenarios)
    onset = result.truth.onset
    fired_after = {e.attributes["alertname"] for e in alerts(result) if e.ts > onset}
    assert set(get_fault(kind).alerts) <= fired_after
    assert result.truth.expected_alerts == list(get_fault(kind).alerts)
    # nothing derived from metrics fires before the onset, except a certificate that was already expiring
    early = [
        (e.attributes["alertname"], e.entity.service)
        for e in alerts(result)
        if e.ts < onset and "graph?g0.expr=" in e.attributes["generatorURL"]
    ]
    allowed = {("CertificateExpiringSoon", result.truth.root_cause)} if kind == "cert_expired" else set()
    assert set(early) <= allowed


@pytest.mark.parametrize("kind", KINDS)
def test_failure_propagates_to_callers_later_than_the_root(
    kind: str, scenario_runs: dict[str, SimulationResult], shipped_scenarios: list[Scenario]
) -> None:
    result = _run_for(kind, scenario_runs, shipped_scenarios)
    env, root, onset = result.env, result.truth.root_cause, result.truth.onset
    root_t = min(
        t for s in get_fault(kind).root_signals if (t := _signal_onset(result, s.metric, s.direction, s.scope))
    )
    if env.has_node(root):
        on_node = set(env.services_on(root))
        callers = {c for s in on_node for c in env.callers(s)} - on_node
    else:
        callers = set(env.callers(root))
    caller_t: dict[str, datetime] = {}
    for c in callers:
        found = [
            t
            for m in ("http_error_ratio", "latency_p99_ms")
            if (t := anomaly_onset(series(result, m, service=c), onset, "up")) is not None
        ]
        if found:
            caller_t[c] = min(found)
    if env.has_node(root) and not caller_t:
        # every caller of the node's services runs on the node too; the node metric must lead them
        services_t = [t for s in on_node if (t := _signal_onset_service(result, s))]
        assert services_t and min(services_t) >= root_t
        return
    assert caller_t, f"{kind}: no caller of {root} showed errors or latency"
    assert min(caller_t.values()) > root_t, f"{kind}: a caller moved before the root ({caller_t} vs {root_t})"


def _signal_onset_service(result: SimulationResult, service: str) -> datetime | None:
    found = [
        t
        for m in ("http_error_ratio", "latency_p99_ms")
        if (t := anomaly_onset(series(result, m, service=service), result.truth.onset, "up")) is not None
    ]
    return min(found) if found else None


@pytest.mark.parametrize("kind", KINDS)
def test_callers_log_errors_or_warnings_naming_the_dependency(
    kind: str, scenario_runs: dict[str, SimulationResult], shipped_scenarios: list[Scenario]
) -> None:
    result = _run_for(kind, scenario_runs, shipped_scenarios)
    env, root = result.env, result.truth.root_cause
    if env.has_node(root) or kind == "cpu_hog":
        pytest.skip("callers notice this kind only through their own latency metrics")
    callers = set(env.callers(root))
    lines = [
        e
        for e in result.events
        if e.kind == EventKind.LOG
        and e.entity.service in callers
        and e.severity.value in ("warning", "error")
        and e.ts >= result.truth.onset
        and root in e.body
    ]
    assert lines, f"{kind}: no caller logged a warning or error mentioning {root}"


@pytest.mark.parametrize("kind", KINDS)
def test_kubernetes_events_and_changes_match_the_definition(
    kind: str, scenario_runs: dict[str, SimulationResult], shipped_scenarios: list[Scenario]
) -> None:
    result = _run_for(kind, scenario_runs, shipped_scenarios)
    fd = get_fault(kind)
    onset = result.truth.onset
    reasons = {e.attributes["reason"] for e in result.events if e.kind == EventKind.K8S_EVENT and e.ts >= onset}
    assert set(fd.k8s_reasons) <= reasons
    if fd.change_type:
        changes = [
            e for e in result.events if e.kind == EventKind.CHANGE and e.entity.service == result.truth.root_cause
        ]
        assert [c.attributes["change_type"] for c in changes] == [fd.change_type]
        assert changes[0].ts == onset


def test_root_is_the_earliest_to_log_its_symptom(scenario_runs: dict[str, SimulationResult]) -> None:
    result = scenario_runs["checkout-db-pool"]
    onset = result.truth.onset
    first: dict[str, datetime] = {}
    for e in result.events:
        if e.kind == EventKind.LOG and e.ts >= onset and ("too many clients" in e.body or "orders-db" in e.body):
            first.setdefault(e.entity.service or "", e.ts)
    assert min(first, key=lambda s: first[s]) == "orders-db"
    assert {"checkout", "auth"} <= set(first)


def test_bad_deploy_rolls_new_pods_with_the_new_version(scenario_runs: dict[str, SimulationResult]) -> None:
    result = scenario_runs["payments-bad-deploy"]
    change = next(e for e in result.events if e.kind == EventKind.CHANGE and e.entity.service == "payments")
    assert change.attributes["version"] == "v2.3.1" and change.attributes["previous_version"] == "v2.3.0"
    errors = [
        e for e in result.events if e.kind == EventKind.LOG and e.entity.service == "payments" and "v2.3.1" in e.body
    ]
    assert errors and all(e.ts > change.ts for e in errors)
    late = result.truth.onset + (result.truth.window_end - result.truth.onset) / 2

    def payments_pods(keep: Callable[[datetime], bool]) -> set[str | None]:
        return {
            e.entity.pod
            for e in result.events
            if e.kind == EventKind.METRIC and e.entity.service == "payments" and e.entity.pod and keep(e.ts)
        }

    pods_after = payments_pods(lambda ts: ts > late)
    pods_before = payments_pods(lambda ts: ts < change.ts)
    assert pods_after and pods_before and not (pods_after & pods_before)


def test_noisy_neighbour_shows_a_foreign_pod_scheduled_on_the_node(scenario_runs: dict[str, SimulationResult]) -> None:
    result = scenario_runs["node1-noisy-neighbour"]
    scheduled = [
        e for e in result.events
        if e.kind == EventKind.K8S_EVENT and e.attributes["reason"] == "Scheduled" and e.entity.node == "node-1"
        and e.entity.namespace == "batch"
    ]  # fmt: skip
    assert scheduled and scheduled[0].ts == result.truth.onset


def test_targets_are_checked(boutique: EnvironmentSpec) -> None:
    check_target(boutique, "db_pool_exhaustion", "orders-db")
    with pytest.raises(InputError, match="targets Database"):
        check_target(boutique, "db_pool_exhaustion", "checkout")
    with pytest.raises(InputError, match="not a node or service"):
        check_target(boutique, "cpu_hog", "mainframe")
    with pytest.raises(InputError, match="nothing depends on 'frontend'"):
        check_target(boutique, "dns_failure", "frontend")
    with pytest.raises(InputError, match="unknown fault kind 'meteor'"):
        get_fault("meteor")
    assert eligible_targets(boutique, "disk_full") == ["node-1", "node-2", "node-3"]
    assert "frontend" not in eligible_targets(boutique, "dependency_down")
