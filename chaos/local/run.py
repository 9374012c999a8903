"""`sherlog chaos run SCENARIO --target local`: break the demo app for real and let the alert reach Sherlog.

``run_local("payments-bad-deploy", sherlog_url=..., workdir=...)``:

1. starts the :class:`~chaos.local.stack.LocalTarget` (services, Prometheus, Alertmanager
   whose webhook points at Sherlog) and waits for a baseline;
2. feeds Sherlog the topology, then logs and metrics every few seconds;
3. injects the fault (a scenario's fault kind mapped onto a real injector, or a
   fault spec like ``errors:payments:rate=0.8``);
4. polls until the expected alert for the faulted service fires and Alertmanager
   has delivered it to Sherlog's webhook;
5. optionally keeps feeding until ``wait_for(result)`` is true (e.g. Sherlog posted its answer);
6. heals the fault and stops everything, also when a step fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.faults import FaultKind
from chaos.local.app import LoadStats
from chaos.local.faults import EXPECTED_ALERT, Fault, LocalFaultKind, make_fault
from chaos.local.feed import FeedStats, TelemetryFeeder
from chaos.local.procs import poll
from chaos.local.stack import LocalTarget
from chaos.scenarios import Scenario, load_scenario
from core.errors import BackendTimeout, InputError, SherlogError

WEBHOOK_PATH = "/hooks/alertmanager"

#: how each simulated fault kind is done for real on the demo app
SCENARIO_FAULTS: dict[FaultKind, tuple[LocalFaultKind, dict[str, Any]]] = {
    FaultKind.CPU_HOG: (LocalFaultKind.CPU_BURN, {}),
    FaultKind.NOISY_NEIGHBOUR: (LocalFaultKind.CPU_BURN, {}),
    FaultKind.LATENCY_INJECTION: (LocalFaultKind.LATENCY, {}),
    FaultKind.PACKET_LOSS: (LocalFaultKind.LATENCY, {"ms": 600}),
    FaultKind.ERROR_SPIKE: (LocalFaultKind.ERRORS, {}),
    FaultKind.BAD_DEPLOY: (LocalFaultKind.ERRORS, {}),
    FaultKind.CERT_EXPIRED: (
        LocalFaultKind.ERRORS,
        {"rate": 1.0, "message": "x509: certificate has expired or is not yet valid"},
    ),
    FaultKind.DNS_FAILURE: (LocalFaultKind.ERRORS, {"rate": 1.0, "message": "dial tcp: lookup failed: no such host"}),
    FaultKind.DB_POOL_EXHAUSTION: (
        LocalFaultKind.ERRORS,
        {"message": "FATAL: sorry, too many clients already (connection pool exhausted)"},
    ),
    FaultKind.CRASH_LOOP: (LocalFaultKind.KILL, {}),
    FaultKind.DEPENDENCY_DOWN: (LocalFaultKind.KILL, {}),
    FaultKind.DISK_FULL: (LocalFaultKind.DISK_FILL, {}),
}


@dataclass(frozen=True)
class LocalFaultSpec:
    """What to break, where, with which parameters (and the scenario it came from, if any)."""

    kind: LocalFaultKind
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    scenario: str | None = None
    question: str | None = None

    @property
    def alertname(self) -> str:
        return EXPECTED_ALERT[self.kind]


def _value(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def parse_fault_spec(text: str) -> LocalFaultSpec:
    """`kind:service[:key=value,...]`, e.g. `errors:payments:rate=0.8` or `kill:catalog`."""
    parts = text.strip().split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise InputError(
            f"fault spec {text!r} is not kind:service[:key=value,...]",
            hint=f"kinds: {', '.join(k.value for k in LocalFaultKind)}; e.g. errors:payments:rate=0.8",
        )
    try:
        kind = LocalFaultKind(parts[0])
    except ValueError as e:
        raise InputError(
            f"fault spec {text!r}: unknown kind '{parts[0]}'; known: {', '.join(k.value for k in LocalFaultKind)}"
        ) from e
    params: dict[str, Any] = {}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"fault spec {text!r}: parameter {item!r} is not key=value")
            params[key.strip()] = _value(raw.strip())
    return LocalFaultSpec(kind, parts[1], params)


def fault_for_scenario(scenario: Scenario, *, target: str | None = None) -> LocalFaultSpec:
    """The real fault that reproduces a scenario on the demo app (optionally aimed at another service)."""
    mapped = SCENARIO_FAULTS.get(scenario.fault.kind)
    if mapped is None:
        doable = ", ".join(sorted(k.value for k in SCENARIO_FAULTS))
        raise InputError(
            f"scenario '{scenario.name}': fault kind '{scenario.fault.kind}' has no real injector on the local target",
            hint=f"local faults exist for: {doable}",
        )
    kind, params = mapped
    return LocalFaultSpec(
        kind, target or scenario.fault.target, dict(params), scenario=scenario.name, question=scenario.question
    )


def resolve_fault(what: str | Scenario | LocalFaultSpec, *, target: str | None = None) -> LocalFaultSpec:
    """A fault spec from a scenario name/path, a Scenario, a `kind:service` spec string or a spec."""
    if isinstance(what, LocalFaultSpec):
        return what
    if isinstance(what, Scenario):
        return fault_for_scenario(what, target=target)
    if ":" in what and not what.endswith((".yaml", ".yml")):
        return parse_fault_spec(what)
    return fault_for_scenario(load_scenario(what), target=target)


@dataclass
class LocalRunResult:
    """What was injected where, and when the alert reached the webhook."""

    fault: LocalFaultSpec
    description: str
    workdir: Path
    service_urls: dict[str, str]
    prometheus_url: str
    alertmanager_url: str
    webhook_url: str
    injected_at: datetime
    alert: dict[str, Any] = field(default_factory=dict)
    fired_at: datetime | None = None
    delivered_at: datetime | None = None
    webhook_failures: int = 0
    waited: bool | None = None
    healed_at: datetime | None = None
    feed: FeedStats | None = None
    load: LoadStats | None = None

    @property
    def seconds_to_delivery(self) -> float | None:
        if self.delivered_at is None:
            return None
        return (self.delivered_at - self.injected_at).total_seconds()


def _wait_delivered(target: LocalTarget, spec: LocalFaultSpec, result: LocalRunResult, timeout: float) -> None:
    """Poll until the expected alert is firing for the target and Sherlog's webhook copy got through."""
    ok_before, failed_before = target.webhook_requests()
    witnessed_before = len(target.witness.notifications())

    def delivered() -> bool:
        if result.fired_at is None:
            active = target.active_alerts(alertname=spec.alertname, service=spec.target)
            if not active:
                return False
            result.fired_at = datetime.now(UTC)
            result.alert = {k: active[0].get(k) for k in ("labels", "annotations", "startsAt", "fingerprint")}
        # successes first, witness second: a success counted here was already recorded by the witness
        ok, failed = target.webhook_requests()
        result.webhook_failures = failed - failed_before
        if not target.witness.find(spec.alertname, service=spec.target):
            return False
        witnessed = len(target.witness.notifications()) - witnessed_before
        # each notification goes to Sherlog and the witness: all of Sherlog's copies got through
        # once successes since the injection reach twice what the witness saw
        return ok - ok_before >= 2 * witnessed

    try:
        poll(delivered, timeout=timeout, what=f"{spec.alertname} for {spec.target} delivered to {target.webhook_url}")
    except BackendTimeout as e:
        state = "fired but not delivered" if result.fired_at else "never fired"
        am_log = target.alertmanager.log_tail() if target.alertmanager else ""
        raise BackendTimeout(
            f"{e.message}: the alert {state}; webhook failures since injection: {result.webhook_failures}; "
            f"alertmanager log ends:\n{am_log}",
            backend="chaos-local",
        ) from e
    result.delivered_at = datetime.now(UTC)


def run_local(
    what: str | Scenario | LocalFaultSpec,
    *,
    sherlog_url: str,
    workdir: Path,
    webhook_url: str | None = None,
    target: str | None = None,
    token: str | None = None,
    feed: bool = True,
    rps: float = 10.0,
    alert_timeout_s: float = 60.0,
    wait_for: Callable[[LocalRunResult], bool] | None = None,
    wait_for_timeout_s: float = 60.0,
    heal: bool = True,
    progress: Callable[[str], None] | None = None,
) -> LocalRunResult:
    """Start the local target, inject the fault, wait until the alert reached Sherlog; see the module doc.

    `webhook_url` defaults to Sherlog's Alertmanager hook (`sherlog_url` + /hooks/alertmanager).
    `wait_for(result)` is polled after delivery while telemetry keeps flowing; its outcome is
    `result.waited` (False after `wait_for_timeout_s`).
    """
    say = progress or (lambda _msg: None)
    spec = resolve_fault(what, target=target)
    hook = webhook_url or sherlog_url.rstrip("/") + WEBHOOK_PATH
    stack = LocalTarget(workdir, hook, rps=rps)
    fault = make_fault(stack.app, spec.kind, spec.target, spec.params)  # validates before anything starts
    feeder: TelemetryFeeder | None = None
    result: LocalRunResult | None = None
    try:
        say(f"starting the demo app, Prometheus and Alertmanager in {workdir}")
        stack.start()
        if feed:
            say(f"feeding topology, logs and metrics to {sherlog_url}")
            feeder = TelemetryFeeder(stack, sherlog_url, token=token).start()
            feeder.push_once()  # the baseline is in Sherlog before anything breaks
        fault.inject()
        assert fault.injected_at is not None
        result = LocalRunResult(
            fault=spec,
            description=fault.describe(),
            workdir=workdir,
            service_urls={n: stack.app.url(n) for n in stack.app.names},
            prometheus_url=stack.prometheus_url,
            alertmanager_url=stack.alertmanager_url,
            webhook_url=hook,
            injected_at=fault.injected_at,
        )
        say(f"injected: {result.description}; waiting for {spec.alertname} to reach {hook}")
        _wait_delivered(stack, spec, result, alert_timeout_s)
        say(f"{spec.alertname} delivered {result.seconds_to_delivery:.1f}s after the injection")
        if wait_for is not None:
            res = result
            try:
                poll(lambda: wait_for(res), timeout=wait_for_timeout_s, what="the caller's condition", interval=0.5)
                result.waited = True
            except BackendTimeout:
                result.waited = False
        return result
    finally:
        _cleanup(stack, fault, feeder, result, heal, say)


def _cleanup(
    stack: LocalTarget,
    fault: Fault,
    feeder: TelemetryFeeder | None,
    result: LocalRunResult | None,
    heal: bool,
    say: Callable[[str], None],
) -> None:
    # every step runs even if an earlier one fails: processes must never be left behind
    try:
        if heal and fault.injected_at is not None:
            try:
                fault.heal()
                say("healed")
            except SherlogError as e:
                say(f"heal failed: {e}")
        if result is not None:
            result.healed_at = fault.healed_at
            result.load = stack.load.snapshot() if stack.load else None
        if feeder is not None:
            stats = feeder.stop(final_push=True)
            if result is not None:
                result.feed = stats
    finally:
        stack.stop()
