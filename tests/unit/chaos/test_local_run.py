"""Choosing the real fault: spec strings, scenarios mapped onto injectors, parameter checks.
Nothing here starts a process."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.faults import FaultKind
from chaos.local.app import DEMO_SERVICES, DemoApp, ServiceSpec, check_services, demo_topology
from chaos.local.faults import EXPECTED_ALERT, FillDisk, LocalFaultKind, make_fault
from chaos.local.run import SCENARIO_FAULTS, LocalFaultSpec, fault_for_scenario, parse_fault_spec, resolve_fault
from chaos.local.sandbox import MAX_FILL_BYTES
from chaos.local.stack import ALERT_NAMES
from chaos.scenarios import list_scenarios, load_scenario
from core.errors import InputError, NotFound
from core.sources.topology import from_static


def test_parse_fault_spec() -> None:
    assert parse_fault_spec("kill:catalog") == LocalFaultSpec(LocalFaultKind.KILL, "catalog", {})
    spec = parse_fault_spec("errors:payments:rate=0.8,message=card declined")
    assert spec.params == {"rate": 0.8, "message": "card declined"}
    assert spec.alertname == "HighErrorRate"
    assert parse_fault_spec("disk_fill:orders-db:bytes=1024").params == {"bytes": 1024}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("payments", "not kind:service"),
        ("explode:payments", "unknown kind 'explode'"),
        ("errors:", "not kind:service"),
        ("errors:payments:rate", "'rate' is not key=value"),
    ],
)
def test_bad_fault_specs(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_fault_spec(text)


def test_every_local_fault_has_an_alert_rule() -> None:
    assert set(EXPECTED_ALERT.values()) <= set(ALERT_NAMES)
    assert set(EXPECTED_ALERT) == set(LocalFaultKind)


def test_scenarios_map_onto_real_faults() -> None:
    bad_deploy = fault_for_scenario(load_scenario("payments-bad-deploy"))
    assert (bad_deploy.kind, bad_deploy.target, bad_deploy.scenario) == (
        LocalFaultKind.ERRORS,
        "payments",
        "payments-bad-deploy",
    )
    assert bad_deploy.question == "why did checkout errors jump?"
    cpu = resolve_fault("catalog-cpu-hog")
    assert (cpu.kind, cpu.target) == (LocalFaultKind.CPU_BURN, "catalog")
    retargeted = resolve_fault("shipping-latency", target="payments")
    assert (retargeted.kind, retargeted.target) == (LocalFaultKind.LATENCY, "payments")
    # every shipped scenario either maps or says why not
    for sc in list_scenarios():
        if sc.fault.kind in SCENARIO_FAULTS:
            assert fault_for_scenario(sc).kind == SCENARIO_FAULTS[sc.fault.kind][0]
        else:
            with pytest.raises(InputError, match="no real injector"):
                fault_for_scenario(sc)
    assert FaultKind.MEMORY_LEAK not in SCENARIO_FAULTS


def test_unknown_scenario_is_not_found() -> None:
    with pytest.raises(NotFound, match="scenario 'no-such-thing'"):
        resolve_fault("no-such-thing")


def test_make_fault_checks_target_and_parameters(tmp_path: Path) -> None:
    app = DemoApp(tmp_path)
    with pytest.raises(InputError, match="not a demo service; choose one of: frontend, checkout"):
        make_fault(app, "errors", "shipping")
    with pytest.raises(InputError, match="unknown local fault kind 'melt'"):
        make_fault(app, "melt", "payments")
    with pytest.raises(InputError, match=r"no parameter.*'speed'.*allowed: rate, message"):
        make_fault(app, "errors", "payments", {"speed": 3})
    with pytest.raises(InputError, match=r"no parameter.*allowed: none"):
        make_fault(app, "kill", "payments", {"signal": 9})
    fault = make_fault(app, "latency", "payments", {"ms": 1200})
    assert fault.alertname == "HighLatencyP99"
    assert fault.describe() == "added 1200 ms to every request of payments"


def test_disk_fill_is_bounded_and_stays_in_the_sandbox(tmp_path: Path) -> None:
    app = DemoApp(tmp_path / "app")
    fill = make_fault(app, "disk_fill", "orders-db")
    assert isinstance(fill, FillDisk)
    assert fill.nbytes == app.disk_quota_bytes
    assert fill.path.is_relative_to((tmp_path / "app" / "sandbox" / "orders-db").resolve())
    with pytest.raises(InputError, match="outside the sandbox"):
        make_fault(app, "disk_fill", "orders-db", {"path": "../../../escape.bin"})
    with pytest.raises(InputError, match=r"integer in 1\.\."):
        make_fault(app, "disk_fill", "orders-db", {"bytes": MAX_FILL_BYTES + 1})
    assert not any(tmp_path.rglob("*.bin"))


def test_heal_before_inject_does_nothing(tmp_path: Path) -> None:
    fault = make_fault(DemoApp(tmp_path), "errors", "payments")
    fault.heal()  # never injected: must not try to reach the (unstarted) service
    assert fault.healed_at is None


def test_demo_topology_is_valid_static_topology() -> None:
    topo = from_static(demo_topology())
    topo.raise_for_errors()
    edges = {(r.src, r.dst) for r in topo.relations if r.kind == "DEPENDS_ON"}
    assert ("service:local/demo/checkout", "service:local/demo/payments") in edges
    assert ("service:local/demo/frontend", "service:local/demo/catalog") in edges
    assert len([e for e in topo.entities if e.id.startswith("service:")]) == len(DEMO_SERVICES)


def test_service_graph_is_checked() -> None:
    with pytest.raises(InputError, match="cycle a -> b -> a"):
        check_services([ServiceSpec("a", ("b",)), ServiceSpec("b", ("a",))])
    with pytest.raises(InputError, match="unknown service 'c'"):
        check_services([ServiceSpec("a", ("c",))])
    with pytest.raises(InputError, match="duplicate"):
        check_services([ServiceSpec("a"), ServiceSpec("a")])
