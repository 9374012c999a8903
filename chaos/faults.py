"""The fault library: fourteen kinds of incident, each with its target, symptoms and propagation.

A :class:`FaultDefinition` says what a fault is aimed at (a service, a database, a
queue, a node), which signals move on the root (``root_signals``, checked by the
tests against what the simulator produces), which alerts its symptoms trip,
which runbook answers it and which facts a good answer mentions. Its ``apply``
function edits a :class:`~chaos.state.SimState`: the root's *own* latency,
errors, reachability and resources with realistic ramps, pods restarting, log
bursts with the messages the software really prints, Kubernetes events and
changes. Propagation to callers is the simulator's job (each hop adds a delay
and is attenuated by the edge weight); node faults act on the services whose
pods run on the node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from chaos.spec import EnvironmentSpec
from chaos.state import (
    ChangeItem,
    ComponentState,
    K8sItem,
    LogItem,
    Pod,
    SimState,
    pod_ip,
    pod_name,
    replicaset_name,
    stable_hash,
    stable_token,
)
from core.errors import InputError

_MIB = 1024 * 1024


class FaultKind(StrEnum):
    CPU_HOG = "cpu_hog"
    MEMORY_LEAK = "memory_leak"
    LATENCY_INJECTION = "latency_injection"
    ERROR_SPIKE = "error_spike"
    CRASH_LOOP = "crash_loop"
    BAD_DEPLOY = "bad_deploy"
    DISK_FULL = "disk_full"
    DB_POOL_EXHAUSTION = "db_pool_exhaustion"
    DEPENDENCY_DOWN = "dependency_down"
    DNS_FAILURE = "dns_failure"
    CERT_EXPIRED = "cert_expired"
    PACKET_LOSS = "packet_loss"
    NOISY_NEIGHBOUR = "noisy_neighbour"
    QUEUE_BACKLOG = "queue_backlog"


TargetKind = Literal["Service", "Database", "Cache", "Queue", "Node"]


@dataclass(frozen=True)
class Signal:
    """A metric that moves on the root (or on the services of a root node) after onset."""

    metric: str
    direction: Literal["up", "down"]
    scope: Literal["component", "pod", "node", "node_services"] = "component"


Apply = Callable[[SimState, str, Mapping[str, Any]], dict[str, str]]


@dataclass(frozen=True)
class FaultDefinition:
    """One kind of fault: what it targets, what it does, how it is answered.

    ``apply(state, target, params)`` edits the state and returns context values
    (e.g. ``version``) used to fill ``facts`` and ``questions``.
    """

    kind: FaultKind
    title: str
    description: str
    target_kinds: frozenset[str]
    root_signals: tuple[Signal, ...]
    alerts: tuple[str, ...]  # alerts the symptoms trip within a 30-minute window
    runbook: str  # the alert/runbook name the answer should point to
    facts: tuple[str, ...]  # templates: {target}, {version}, {config_key}, ...
    questions: tuple[str, ...]  # templates: {target}, {caller}, {symptom}
    apply: Apply
    requires_callers: bool = False
    k8s_reasons: tuple[str, ...] = ()
    change_type: str | None = None
    hop_delay_s: float = 20.0
    param_defaults: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- helpers

_PORTS = {"Service": "8080", "Database": "5432", "Cache": "6379", "Queue": "5672"}


def host_of(env: EnvironmentSpec, name: str) -> str:
    return f"{name}.{env.namespace}.svc.cluster.local"


def _combine(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """Independent failure probabilities: 1 - (1-a)(1-b)."""
    return 1.0 - (1.0 - a) * (1.0 - np.asarray(b))


def _node_share(comp: ComponentState, node: str) -> float:
    return sum(1 for p in comp.pods if p.node == node) / max(1, len(comp.pods))


def _author(st: SimState, *salt: object) -> str:
    people = ("alice.moreau", "bjorn.lind", "chen.wei", "dana.okafor", "eli.navarro", "farah.haddad", "ci-bot")
    return people[stable_hash(st.env.name, *salt) % len(people)]


def bump_version(version: str, *, salt: object = 0) -> str:
    """Next patch version: v2.3.0 → v2.3.1 (non-semver strings get a ``-hotfix`` suffix)."""
    head, _, tail = version.rpartition(".")
    if head and tail.isdigit():
        return f"{head}.{int(tail) + 1}"
    return f"{version}-hotfix{stable_hash(version, salt) % 9 + 1}"


def _restart_k8s(st: SimState, comp: ComponentState, pod: Pod, t_s: float, image_tag: str) -> None:
    obj = f"Pod/{pod.name}"
    image = f"registry.internal/{st.env.namespace}/{comp.name}:{image_tag}"
    st.k8s.append(
        K8sItem(
            t_s,
            "Pulled",
            "Normal",
            f'Container image "{image}" already present on machine',
            obj,
            comp.name,
            pod.name,
            pod.node,
        )
    )
    st.k8s.append(
        K8sItem(t_s + 0.4, "Created", "Normal", f"Created container {comp.name}", obj, comp.name, pod.name, pod.node)
    )
    st.k8s.append(
        K8sItem(t_s + 0.9, "Started", "Normal", f"Started container {comp.name}", obj, comp.name, pod.name, pod.node)
    )


_STARTUP = {
    "go": "starting {service} {version} listening on :8080",
    "node": "{service}@{version} server listening on port 8080",
    "python": "Starting {service} {version} (gunicorn worker boot)",
    "java": "Started {service} {version} in 7.4 seconds (JVM running for 8.1)",
    "csharp": "Now listening on: http://0.0.0.0:8080 ({service} {version})",
}


def _startup_line(comp: ComponentState) -> str:
    return _STARTUP.get(comp.spec.language, "starting {service} {version}")


# ---------------------------------------------------------------------------- cpu hog


def _cpu_hog(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    ramp = st.ramp(0, float(params.get("ramp_s", 90)))
    c.cpu_floor = np.maximum(c.cpu_floor, float(params.get("cpu_fraction", 0.97)) * ramp)
    c.throttle = c.throttle + 0.45 * ramp
    c.lat_mult = c.lat_mult * (1.0 + float(params.get("slowdown", 2.4)) * ramp)
    slow = {
        "java": "request processing took {slow_ms}ms; worker pool saturated (active=200, queued={count})",
        "python": "slow request {method} {path} took {slow_ms}ms",
        "node": "event loop lag {slow_ms}ms exceeds threshold",
    }.get(c.spec.language, "slow request {method} {path} took {slow_ms}ms")
    st.burst(target, slow, level="warning", start_s=st.onset_s + 45, per_min=4)
    for i, k in enumerate((240, 540, 900)):
        pod = c.pods[i % len(c.pods)]
        st.k8s.append(
            K8sItem(
                st.onset_s + k,
                "Unhealthy",
                "Warning",
                f'Liveness probe failed: Get "http://{pod.ip}:8080/healthz": context deadline exceeded '
                "(Client.Timeout exceeded while awaiting headers)",
                f"Pod/{pod.name}",
                target,
                pod.name,
                pod.node,
                count=i + 1,
            )
        )
    return {}


# ---------------------------------------------------------------------------- memory leak

_OOM_MSG = {
    "go": "fatal error: runtime: out of memory",
    "java": "java.lang.OutOfMemoryError: Java heap space",
    "python": "MemoryError: unable to allocate 64.0 MiB for response buffer",
    "node": "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    "csharp": "System.OutOfMemoryException: Insufficient memory to continue the execution of the program.",
}


def _memory_leak(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    res = c.spec.resources
    limit = res.memory_limit_mib * _MIB
    headroom = limit - res.memory_base_mib * _MIB * 1.04
    fill_s = float(params.get("fill_s", 480))
    restart_s = 25.0
    gc = np.zeros(st.n)
    for k, pod in enumerate(c.pods):
        add = np.zeros(st.n)
        down = np.zeros(st.n)
        cycle_start = st.onset_s + 40.0 * k
        period = fill_s + 150.0 * k  # replicas leak at different speeds (different traffic mix)
        ooms: list[float] = []
        while cycle_start < st.end_s:
            oom_at = cycle_start + period
            in_cycle = (st.t >= cycle_start) & (st.t < oom_at)
            x = np.clip((st.t - cycle_start) / period, 0, 1)
            # concave: the heap grows fast at first, then GC fights for the last megabytes
            add = np.where(in_cycle, headroom * (1.0 - (1.0 - x) ** 2), add)
            if oom_at >= st.end_s:
                break
            ooms.append(oom_at)
            down += st.window(oom_at, oom_at + restart_s) * 1.0
            cycle_start = oom_at + restart_s
        c.mem_add[pod.name] = add
        c.oom[pod.name] = ooms
        c.restarts.setdefault(pod.name, []).extend(ooms)
        c.not_ready[pod.name] = down > 0
        # garbage collection works harder as the heap fills: latency follows memory
        gc += np.clip((add / headroom - 0.65) / 0.35, 0, 1) / len(c.pods)
        c.unreach = np.clip(c.unreach + np.clip(down, 0, 1) * (restart_s / st.step_s) / len(c.pods), 0, 1)
        ctx = {"limit_mib": f"{res.memory_limit_mib:.0f}", "version": pod.version}
        for oom_at in ooms:
            for j, pct in enumerate((86, 91, 95, 98)):
                st.log(
                    oom_at - 110 + 30 * j,
                    target,
                    "warning",
                    "memory usage at {heap_pct}% of limit ({limit_mib}Mi)",
                    pod=pod.name,
                    heap_pct=pct,
                    **ctx,
                )
            st.log(oom_at - 1.5, target, "critical", _OOM_MSG.get(c.spec.language, _OOM_MSG["go"]), pod=pod.name)
            st.k8s.append(
                K8sItem(
                    oom_at,
                    "OOMKilled",
                    "Warning",
                    f"Container {target} in pod {pod.name} was OOMKilled: memory limit "
                    f"{res.memory_limit_mib:.0f}Mi exceeded",
                    f"Pod/{pod.name}",
                    target,
                    pod.name,
                    pod.node,
                )
            )
            _restart_k8s(st, c, pod, oom_at + 4, pod.version)
            st.log(
                oom_at + restart_s - 3,
                target,
                "info",
                _startup_line(c),
                pod=pod.name,
                service=target,
                version=pod.version,
            )
    c.lat_mult = c.lat_mult * (1.0 + 1.6 * gc)
    return {"limit_mib": f"{res.memory_limit_mib:.0f}"}


# ---------------------------------------------------------------------------- latency injection


def _latency_injection(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    delay = float(params.get("delay_ms", 1600))
    c.lat_add = c.lat_add + delay * st.ramp(0, 20)
    st.burst(
        target,
        "handled {method} {path} in {elapsed_ms}ms (slow: upstream provider latency)",
        level="warning",
        start_s=st.onset_s + 3,
        per_min=3,
        context={"elapsed_ms": f"{delay * 1.05:.0f}"},
    )
    return {"delay_ms": f"{delay:.0f}"}


# ---------------------------------------------------------------------------- error spike

_EXCEPTIONS = {
    "go": "panic recovered in handler {path}: runtime error: index out of range [3] with length 3",
    "node": "Unhandled error in {path}: TypeError: Cannot read properties of undefined (reading 'units')",
    "python": "Exception on {path} [{method}]: KeyError: 'price_usd'",
    "java": (
        "Servlet.service() threw exception: java.lang.NullPointerException: Cannot invoke "
        '"Money.getUnits()" because "price" is null'
    ),
    "csharp": (
        "Unhandled exception in {path}: System.NullReferenceException: "
        "Object reference not set to an instance of an object."
    ),
}


def _error_spike(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    c.err = _combine(c.err, float(params.get("error_ratio", 0.3)) * st.ramp(0, 30))
    c.error_templates = [("error", _EXCEPTIONS.get(c.spec.language, _EXCEPTIONS["go"]))]
    c.fail_error = "{dep} responded 500 Internal Server Error"
    st.log(st.onset_s + 2, target, "error", c.error_templates[0][1])
    return {}


# ---------------------------------------------------------------------------- crash loop (bad config)

_BAD_CONFIGS = (
    ("UPSTREAM_TIMEOUT", "30", 'invalid duration "30" for UPSTREAM_TIMEOUT: missing unit in duration'),
    ("LISTEN_PORT", "80800", "listen tcp: address 80800: invalid port"),
    ("RATES_URL", "htps//rates.internal/v1", 'parse "htps//rates.internal/v1": missing protocol scheme'),
    ("POOL_SIZE", "ten", 'strconv.Atoi: parsing "ten": invalid syntax'),
)


def _crash_loop(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    key, value, reason = _BAD_CONFIGS[stable_hash(target, "cfg") % len(_BAD_CONFIGS)]
    if "config_key" in params:
        known = {k: (v, why) for k, v, why in _BAD_CONFIGS}
        key = str(params["config_key"])
        value, reason = known.get(key, (str(params.get("config_value", "")), "invalid value"))
        value = str(params.get("config_value", value))
    st.changes.append(
        ChangeItem(
            st.onset_s,
            target,
            "config",
            c.spec.version,
            c.spec.version,
            _author(st, target, "config"),
            f"ConfigMap {target}-config updated: {key}={value}",
        )
    )
    backoff = [10.0 * 2**i for i in range(5)] + [300.0] * 20
    fatal = f"FATAL invalid configuration {{config_key}}={{config_value}}: {reason}"
    down = st.ramp(5)
    for k, pod in enumerate(c.pods):
        t_crash = st.onset_s + 5.0 + 1.7 * k  # the app re-reads its mounted config and exits
        crashes: list[float] = []
        i = 0
        while t_crash < st.end_s:
            crashes.append(t_crash)
            st.log(t_crash - 1.2, target, "info", _startup_line(c), pod=pod.name, service=target, version=pod.version)
            st.log(t_crash, target, "critical", fatal, pod=pod.name, config_key=key, config_value=value)
            restart_at = t_crash + backoff[i]
            if i >= 1:
                st.k8s.append(
                    K8sItem(
                        t_crash + 1,
                        "BackOff",
                        "Warning",
                        f"Back-off restarting failed container {target} in pod {pod.name}",
                        f"Pod/{pod.name}",
                        target,
                        pod.name,
                        pod.node,
                        count=i,
                    )
                )
            if restart_at < st.end_s:
                _restart_k8s(st, c, pod, restart_at - 1, pod.version)
            t_crash = restart_at + 2.0
            i += 1
        c.restarts.setdefault(pod.name, []).extend(crashes)
        c.not_ready[pod.name] = down > 0
        waiting = np.zeros(st.n, dtype=bool)
        if len(crashes) > 1:
            waiting = st.t + st.step_s > crashes[1]
        c.crashloop[pod.name] = waiting
    c.unreach = np.maximum(c.unreach, down)
    c.down = down > 0
    return {"config_key": key, "config_value": value}


# ---------------------------------------------------------------------------- bad deploy

_REGRESSIONS = {
    "go": "handler {path} failed in {version}: runtime error: invalid memory address or nil pointer dereference",
    "node": "[{version}] TypeError: Cannot read properties of null (reading 'currencyCode') at chargeCard",
    "python": (
        "[{version}] Traceback (most recent call last): ... "
        "AttributeError: 'NoneType' object has no attribute 'quantity'"
    ),
    "java": "[{version}] java.lang.IllegalStateException: Missing required field shippingAddress.zip",
    "csharp": "[{version}] System.InvalidOperationException: Nullable object must have a value.",
}


def _bad_deploy(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    old = c.spec.version
    new = str(params.get("version") or bump_version(old, salt=target))
    st.changes.append(
        ChangeItem(
            st.onset_s,
            target,
            "deploy",
            new,
            old,
            _author(st, target, "deploy"),
            f"Deploy {target} {new} (previous {old}): rolling update",
        )
    )
    rs_new = replicaset_name(st.env, c.spec, new)
    obj_dep = f"Deployment/{target}"
    st.k8s.append(
        K8sItem(
            st.onset_s + 1,
            "ScalingReplicaSet",
            "Normal",
            f"Scaled up replica set {rs_new} to 1",
            obj_dep,
            target,
            source="deployment-controller",
        )
    )
    bug = float(params.get("error_ratio", 0.35))
    frac_new = np.zeros(st.n)
    old_pods = list(c.pods)
    for k, old_pod in enumerate(old_pods):
        start = st.onset_s + 4 + 35.0 * k
        ready = start + 16
        name = pod_name(st.env, c.spec, k, new)
        node = c.spec.runs_on[k % len(c.spec.runs_on)]
        pod = Pod(name, target, node, pod_ip(st.env, node, name), new, start_s=start)
        c.pods.append(pod)
        obj = f"Pod/{name}"
        image = f"registry.internal/{st.env.namespace}/{target}:{new}"
        st.k8s.append(
            K8sItem(
                start,
                "Scheduled",
                "Normal",
                f"Successfully assigned {st.env.namespace}/{name} to {node}",
                obj,
                target,
                name,
                node,
                source="default-scheduler",
            )
        )
        st.k8s.append(K8sItem(start + 1, "Pulling", "Normal", f'Pulling image "{image}"', obj, target, name, node))
        st.k8s.append(
            K8sItem(
                start + 9, "Pulled", "Normal", f'Successfully pulled image "{image}" in 7.8s', obj, target, name, node
            )
        )
        st.k8s.append(K8sItem(start + 9.5, "Created", "Normal", f"Created container {target}", obj, target, name, node))
        st.k8s.append(K8sItem(start + 10, "Started", "Normal", f"Started container {target}", obj, target, name, node))
        st.log(start + 12, target, "info", _startup_line(c), pod=name, service=target, version=new)
        old_pod.end_s = ready + 5
        st.k8s.append(
            K8sItem(
                ready + 5,
                "Killing",
                "Normal",
                f"Stopping container {target}",
                f"Pod/{old_pod.name}",
                target,
                old_pod.name,
                old_pod.node,
            )
        )
        frac_new += st.ramp(origin_s=ready, ramp_s=st.step_s) / len(old_pods)
    st.k8s.append(
        K8sItem(
            st.onset_s + 4 + 35.0 * len(old_pods),
            "ScalingReplicaSet",
            "Normal",
            f"Scaled down replica set {replicaset_name(st.env, c.spec, old)} to 0",
            obj_dep,
            target,
            source="deployment-controller",
        )
    )
    c.err = _combine(c.err, bug * np.clip(frac_new, 0, 1))
    c.lat_mult = c.lat_mult * (1.0 + 0.3 * np.clip(frac_new, 0, 1))
    c.error_templates = [("error", _REGRESSIONS.get(c.spec.language, _REGRESSIONS["go"]))]
    c.error_context = {"version": new}
    c.fail_error = "{dep} responded 500 Internal Server Error"
    return {"version": new, "previous_version": old}


# ---------------------------------------------------------------------------- disk full (node)


def _disk_full(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    nd = st.nodes[target]
    fill_s = float(params.get("fill_s", 420))
    ramp = st.ramp(0, fill_s)
    nd.disk = nd.disk + (0.995 - nd.disk) * ramp
    nd.disk_pressure = nd.disk > 0.9
    full = np.clip((nd.disk - 0.965) / 0.025, 0, 1)
    t_full = st.onset_s + fill_s * (0.965 - nd.disk[0]) / max(1e-6, 0.995 - nd.disk[0])
    node_obj = f"Node/{target}"
    st.k8s.append(
        K8sItem(
            t_full - 60,
            "FreeDiskSpaceFailed",
            "Warning",
            "Failed to garbage collect required amount of images. Wanted to free 6.1GB, but freed 0B",
            node_obj,
            node=target,
            namespace="",
        )
    )
    st.k8s.append(
        K8sItem(
            t_full,
            "EvictionThresholdMet",
            "Warning",
            "Attempting to reclaim ephemeral-storage",
            node_obj,
            node=target,
            namespace="",
        )
    )
    st.k8s.append(
        K8sItem(
            t_full + 10,
            "NodeHasDiskPressure",
            "Normal",
            f"Node {target} status is now: NodeHasDiskPressure",
            node_obj,
            node=target,
            namespace="",
        )
    )
    for name in st.env.services_on(target):
        c = st.components[name]
        share = _node_share(c, target)
        kind = c.spec.kind
        if kind == "Database":
            c.err = _combine(c.err, 0.7 * share * full)
            c.lat_mult = c.lat_mult * (1 + 2.0 * share * full)
            c.fail_error = 'ERROR: could not extend file "base/16384/24601": No space left on device (SQLSTATE 53100)'
            st.burst(
                name,
                'could not write to file "pg_wal/xlogtemp.{pid}": No space left on device',
                level="critical",
                start_s=t_full,
                per_min=6,
            )
            st.burst(
                name,
                'could not extend file "base/16384/24601": No space left on device',
                level="error",
                start_s=t_full + 20,
                per_min=5,
            )
        elif kind == "Queue":
            c.err = _combine(c.err, 0.5 * share * full)
            c.lat_add = c.lat_add + 1500 * share * full
            c.fail_error = "connection blocked by broker: disk free limit alarm"
            st.log(
                t_full + 5,
                name,
                "warning",
                "disk resource limit alarm set on node rabbit@{pod}. Publishers will be blocked until this "
                "alarm clears",
                pod=f"{name}-0",
            )
        elif kind == "Cache":
            c.err = _combine(c.err, 0.3 * share * full)
            c.fail_error = "MISCONF Errors writing to the AOF file: No space left on device"
            st.burst(
                name,
                "Error writing to the AOF file: No space left on device",
                level="warning",
                start_s=t_full,
                per_min=4,
            )
        else:
            c.err = _combine(c.err, 0.15 * share * full)
            st.burst(
                name,
                "write /var/cache/{service}/tmp-{pid}: no space left on device",
                level="error",
                start_s=t_full + 15,
                per_min=2 * share,
                context={"service": name},
            )
    return {"node": target}


# ---------------------------------------------------------------------------- db connection pool exhaustion


def _db_pool(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    db = st.components[target]
    assert db.spec.db is not None
    climb_s = float(params.get("climb_s", 150))
    ramp = st.ramp(0, climb_s)
    sat = st.ramp(climb_s - 30, 60)
    max_c = db.spec.db.max_connections
    db.kind_series["db_connections_target"] = ramp  # the simulator lifts connections towards max by this
    db.err = _combine(db.err, 0.55 * sat)
    db.lat_mult = db.lat_mult * (1.0 + 5.0 * ramp)
    db.fail_error = (
        f"failed to connect to `host={host_of(st.env, target)} user=app database=orders`: "
        "server error (FATAL: sorry, too many clients already (SQLSTATE 53300))"
    )
    db.error_templates = [("critical", "sorry, too many clients already")]
    st.burst(
        target,
        "duration: {slow_ms}.412 ms  statement: SELECT o.id, o.status FROM orders o JOIN order_items i ON "
        "i.order_id = o.id WHERE o.user_id = $1 FOR UPDATE",
        level="warning",
        start_s=st.onset_s + 8,
        per_min=3,
    )
    st.burst(
        target,
        "process {pid} still waiting for ShareLock on transaction 48213 after 1000.112 ms",
        level="warning",
        start_s=st.onset_s + 40,
        per_min=2,
    )
    for caller in st.env.callers(target):
        cc = st.components[caller]
        timeout = next(d.timeout_ms for d in cc.spec.depends_on if d.name == target)
        st.burst(
            caller,
            "timed out waiting for a connection from the {dep} pool after {timeout_ms}ms (in use "
            "{max_conns}/{max_conns})",
            level="error",
            start_s=st.onset_s + climb_s + st.hop_delay_s,
            per_min=5,
            context={"dep": target, "timeout_ms": f"{timeout:.0f}", "max_conns": str(max_c // 4)},
        )
    return {"max_conns": str(max_c)}


# ---------------------------------------------------------------------------- dependency down

_SHUTDOWN = {
    "redis": "Received SIGTERM scheduling shutdown...",
    "postgres": "received fast shutdown request",
    "rabbitmq": "RabbitMQ is asked to stop...",
}


def _dependency_down(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    down = st.ramp(8)
    c.unreach = np.maximum(c.unreach, down)
    c.down = down > 0
    c.traffic = c.traffic * (1 - down)
    volume = "data" if c.spec.stateful else f"{target}-tls"
    for k, pod in enumerate(c.pods):
        t_kill = st.onset_s + 2 + k
        st.log(
            t_kill,
            target,
            "info",
            _SHUTDOWN.get(c.spec.language, "received SIGTERM, shutting down gracefully"),
            pod=pod.name,
        )
        st.k8s.append(
            K8sItem(
                t_kill,
                "Killing",
                "Normal",
                f"Stopping container {target}",
                f"Pod/{pod.name}",
                target,
                pod.name,
                pod.node,
            )
        )
        pod.end_s = t_kill + 6
        # the replacement is scheduled but its volume never mounts: it stays ContainerCreating
        new_name = pod.name if c.spec.stateful else pod_name(st.env, c.spec, k + 100, c.spec.version)
        obj = f"Pod/{new_name}"
        st.k8s.append(
            K8sItem(
                t_kill + 9,
                "Scheduled",
                "Normal",
                f"Successfully assigned {st.env.namespace}/{new_name} to {pod.node}",
                obj,
                target,
                new_name,
                pod.node,
                source="default-scheduler",
            )
        )
        count = 0
        t = t_kill + 9 + 125
        while t < st.end_s:
            count += 1
            msg = (
                f"Unable to attach or mount volumes: unmounted volumes=[{volume}], unattached volumes=[{volume} "
                f"kube-api-access-{stable_token('bcdfghjklmnpqrstvwxz2456789', 5, new_name)}]: timed out "
                f"waiting for the condition"
            )
            st.k8s.append(K8sItem(t, "FailedMount", "Warning", msg, obj, target, new_name, pod.node, count=count))
            t += 130
    c.fail_unreach = "dial tcp {dep_ip}:{dep_port}: connect: connection refused"
    return {"volume": volume}


# ---------------------------------------------------------------------------- dns failure


def _dns_failure(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    ttl = float(params.get("ttl_s", 30))
    ramp = st.ramp(0, ttl)  # cached answers expire over one TTL
    c.unreach = np.maximum(c.unreach, ramp)
    c.traffic = c.traffic * (1 - 0.97 * ramp)
    host = host_of(st.env, target)
    c.dns_failing_host = host
    c.fail_unreach = "lookup {dep_host} on 10.96.0.10:53: no such host"
    return {"host": host}


# ---------------------------------------------------------------------------- certificate expired

_TLS_SERVER_ERR = {
    "go": "http: TLS handshake error from {ip}:{port}: remote error: tls: bad certificate",
    "java": "javax.net.ssl.SSLHandshakeException: Received fatal alert: certificate_expired (client {ip}:{port})",
    "python": "ssl.SSLError: [SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired (peer {ip}:{port})",
    "node": "tlsClientError from {ip}:{port}: Error: certificate has expired (CERT_HAS_EXPIRED)",
    "csharp": (
        "TLS handshake failed for {ip}:{port}: The remote certificate is invalid "
        "because of errors in the certificate chain: NotTimeValid"
    ),
}


def _cert_expired(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    c = st.components[target]
    ramp = st.ramp(0, float(params.get("drain_s", 60)))  # pooled connections die as they are recycled
    c.unreach = np.maximum(c.unreach, ramp)
    c.traffic = c.traffic * (1 - 0.95 * ramp)
    expired_at = st.at(st.onset_s).strftime("%Y-%m-%dT%H:%M:%SZ")
    c.kind_series["ssl_certificate_expiry_seconds"] = st.onset_s - st.t
    c.fail_unreach = (
        "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "
        "current time {now} is after {expired_at}"
    )
    c.error_context = {"expired_at": expired_at}
    st.burst(
        target,
        _TLS_SERVER_ERR.get(c.spec.language, _TLS_SERVER_ERR["go"]),
        level="warning",
        start_s=st.onset_s + 2,
        per_min=12,
    )
    return {"expired_at": expired_at}


# ---------------------------------------------------------------------------- packet loss (node)


def _packet_loss(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    nd = st.nodes[target]
    loss = float(params.get("loss", 0.08))
    ramp = st.ramp(0, 20)
    nd.net_loss = nd.net_loss + loss * ramp
    for name in st.env.services_on(target):
        c = st.components[name]
        share = _node_share(c, target)
        # TCP retransmits stretch the tail far more than the median; some calls time out
        c.lat_mult = c.lat_mult * (1 + 1.6 * share * ramp)
        c.lat_add = c.lat_add + 180 * share * ramp
        c.err = _combine(c.err, 0.05 * share * ramp)
        c.fail_error = "read tcp {ip}:{port}->{dep_ip}:{dep_port}: read: connection reset by peer"
        if c.spec.stateful:
            continue
        st.burst(
            name,
            "i/o timeout talking to {ip}:{port}, retrying (attempt 2/3)",
            level="warning",
            start_s=st.onset_s + 4,
            per_min=2.5 * share,
        )
    for j, pod in enumerate(p for p in st.pods_on(target) if not st.components[p.service].spec.stateful):
        if j >= 4:
            break
        st.k8s.append(
            K8sItem(
                st.onset_s + 60 + 47 * j,
                "Unhealthy",
                "Warning",
                f'Readiness probe failed: Get "http://{pod.ip}:8080/ready": context deadline exceeded '
                "(Client.Timeout exceeded while awaiting headers)",
                f"Pod/{pod.name}",
                pod.service,
                pod.name,
                pod.node,
            )
        )
    return {"loss_pct": f"{loss * 100:.0f}"}


# ---------------------------------------------------------------------------- noisy neighbour (node)


def _noisy_neighbour(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    nd = st.nodes[target]
    ramp = st.ramp(12, 60)  # the job is scheduled at the onset and starts burning CPU once running
    nd.cpu_add = nd.cpu_add + float(params.get("cpu", 0.75)) * ramp
    suffix = stable_token("bcdfghjklmnpqrstvwxz2456789", 5, target)
    job = f"reindex-batch-{28811520 + stable_hash(target) % 9000}-{suffix}"
    ns = "batch"
    obj = f"Pod/{job}"
    for dt, reason, msg, src in (
        (0, "Scheduled", f"Successfully assigned {ns}/{job} to {target}", "default-scheduler"),
        (1, "Pulling", 'Pulling image "registry.internal/batch/reindex:2.1.0"', "kubelet"),
        (9, "Pulled", 'Successfully pulled image "registry.internal/batch/reindex:2.1.0" in 7.9s', "kubelet"),
        (10, "Created", "Created container reindex", "kubelet"),
        (11, "Started", "Started container reindex", "kubelet"),
    ):
        st.k8s.append(K8sItem(st.onset_s + dt, reason, "Normal", msg, obj, None, job, target, namespace=ns, source=src))
    n = int((st.end_s - st.onset_s) // 90)
    for i in range(n):
        st.logs.append(
            LogItem(
                st.onset_s + 15 + 90 * i,
                "reindex-batch",
                "info",
                "reindex: processed {count} of 4500000 documents (workers=16)",
                {"count": str(120000 * (i + 1))},
                pod=job,
                namespace=ns,
                node=target,
                fmt="plain",
            )
        )
    for name in st.env.services_on(target):
        c = st.components[name]
        share = _node_share(c, target)
        c.throttle = c.throttle + 0.25 * share * ramp
        c.lat_mult = c.lat_mult * (1 + 1.4 * share * ramp)
    return {"job": job}


# ---------------------------------------------------------------------------- queue backlog


def _queue_backlog(st: SimState, target: str, params: Mapping[str, Any]) -> dict[str, str]:
    q = st.components[target]
    assert q.spec.queue is not None
    stall = float(params.get("stall", 0.9))
    ramp = st.ramp(0, 30)
    backlog = np.cumsum(stall * ramp * q.spec.queue.publish_rate * st.step_s)
    q.kind_series["queue_backlog"] = backlog
    alarm_at = st.onset_s + 150
    blocked = st.ramp(origin_s=alarm_at, ramp_s=60)
    q.lat_add = q.lat_add + 900 * blocked
    q.fail_timeout = "publish confirm from {dep} not received within {timeout_ms}ms (connection blocked)"
    limit = q.spec.resources.memory_limit_mib * _MIB
    for pod in q.pods:
        q.mem_add[pod.name] = np.minimum(backlog * 160_000, 0.5 * limit)
    for consumer in q.spec.queue.consumers:
        cc = st.components[consumer]
        cc.traffic = cc.traffic * (1 - stall * ramp)
        st.burst(
            consumer,
            "no message delivered from {queue} for 60s (prefetch=10, unacked=10)",
            level="warning",
            start_s=st.onset_s + 60,
            per_min=1,
            context={"queue": target},
        )
    broker = q.pods[0].name
    st.log(
        st.onset_s + 4,
        target,
        "warning",
        "queue 'order.confirmed' in vhost '/': consumer acknowledgements stalled, 10 unacked deliveries per consumer",
        pod=broker,
    )
    st.burst(
        target,
        "connection {ip}:{port} -> 10.3.0.21:5672 is being flow controlled",
        level="warning",
        start_s=st.onset_s + 60,
        per_min=2,
    )
    st.log(
        alarm_at,
        target,
        "warning",
        "memory resource limit alarm set on node rabbit@{pod}. Publishers will be blocked until this alarm clears",
        pod=broker,
    )
    return {"queue": target}


# ---------------------------------------------------------------------------- registry

FAULTS: dict[FaultKind, FaultDefinition] = {
    d.kind: d
    for d in (
        FaultDefinition(
            kind=FaultKind.CPU_HOG,
            title="CPU hog",
            description="A hot loop pins the service's containers at their CPU limit; requests queue and slow down.",
            target_kinds=frozenset({"Service"}),
            root_signals=(
                Signal("cpu_usage_cores", "up", "pod"),
                Signal("container_cpu_cfs_throttled_ratio", "up", "pod"),
                Signal("latency_p99_ms", "up"),
            ),
            alerts=("CPUThrottlingHigh", "HighLatencyP99"),
            runbook="CPUThrottlingHigh",
            facts=("{target}", "CPU", "throttl"),
            questions=("why is {caller} slow?", "why is {target} so slow?"),
            apply=_cpu_hog,
            k8s_reasons=("Unhealthy",),
        ),
        FaultDefinition(
            kind=FaultKind.MEMORY_LEAK,
            title="Memory leak / OOMKill",
            description="Memory grows until the container hits its limit and is OOM-killed, then starts over.",
            target_kinds=frozenset({"Service"}),
            root_signals=(
                Signal("memory_working_set_bytes", "up", "pod"),
                Signal("kube_pod_container_status_restarts_total", "up", "pod"),
            ),
            alerts=("ContainerMemoryNearLimit", "ContainerOOMKilled"),
            runbook="ContainerOOMKilled",
            facts=("{target}", "memory", "OOMKilled"),
            questions=("why does {target} keep restarting?", "why is {caller} flaky?"),
            apply=_memory_leak,
            k8s_reasons=("OOMKilled", "Pulled", "Started"),
        ),
        FaultDefinition(
            kind=FaultKind.LATENCY_INJECTION,
            title="Latency injection",
            description="Every request to the service takes an extra second or more; callers slow down and time out.",
            target_kinds=frozenset({"Service"}),
            root_signals=(Signal("latency_p50_ms", "up"), Signal("latency_p99_ms", "up")),
            alerts=("HighLatencyP99",),
            runbook="HighLatencyP99",
            facts=("{target}", "latency"),
            questions=("why is {caller} slow?", "why are {caller} requests taking so long?"),
            apply=_latency_injection,
            requires_callers=True,
        ),
        FaultDefinition(
            kind=FaultKind.ERROR_SPIKE,
            title="Error-rate spike",
            description="A share of requests to the service fail with an unhandled exception (no change preceded it).",
            target_kinds=frozenset({"Service"}),
            root_signals=(Signal("http_error_ratio", "up"),),
            alerts=("HighErrorRate",),
            runbook="HighErrorRate",
            facts=("{target}", "error"),
            questions=("why is {caller} returning errors?", "why are {target} requests failing?"),
            apply=_error_spike,
        ),
        FaultDefinition(
            kind=FaultKind.CRASH_LOOP,
            title="Crash loop from bad config",
            description="A ConfigMap change makes the service exit at start; pods go into CrashLoopBackOff.",
            target_kinds=frozenset({"Service"}),
            root_signals=(
                Signal("kube_pod_container_status_restarts_total", "up", "pod"),
                Signal("up", "down"),
            ),
            alerts=("KubePodCrashLooping", "TargetDown"),
            runbook="KubePodCrashLooping",
            facts=("{target}", "CrashLoopBackOff", "{config_key}"),
            questions=("why is {caller} throwing errors?", "why is {target} down?"),
            apply=_crash_loop,
            requires_callers=True,
            k8s_reasons=("BackOff", "Pulled", "Started"),
            change_type="config",
        ),
        FaultDefinition(
            kind=FaultKind.BAD_DEPLOY,
            title="Bad deploy",
            description="A new version rolls out with a regression; errors climb as new pods take traffic.",
            target_kinds=frozenset({"Service"}),
            root_signals=(Signal("http_error_ratio", "up"),),
            alerts=("HighErrorRate",),
            runbook="HighErrorRate",
            facts=("{target}", "{version}", "deploy"),
            questions=("why did {caller} errors jump?", "what broke {caller}?"),
            apply=_bad_deploy,
            k8s_reasons=("ScalingReplicaSet", "Scheduled", "Pulled", "Started", "Killing"),
            change_type="deploy",
        ),
        FaultDefinition(
            kind=FaultKind.DISK_FULL,
            title="Disk full",
            description="A node's root filesystem fills; the database and queue on it fail to write.",
            target_kinds=frozenset({"Node"}),
            root_signals=(Signal("disk_used_ratio", "up", "node"), Signal("http_error_ratio", "up", "node_services")),
            alerts=("DiskAlmostFull", "NodeFilesystemAlmostOutOfSpace"),
            runbook="NodeFilesystemAlmostOutOfSpace",
            facts=("{target}", "disk", "No space left on device"),
            questions=("why are {symptom} requests failing?", "what's wrong with {target}?"),
            apply=_disk_full,
            k8s_reasons=("FreeDiskSpaceFailed", "EvictionThresholdMet"),
        ),
        FaultDefinition(
            kind=FaultKind.DB_POOL_EXHAUSTION,
            title="DB connection-pool exhaustion",
            description="Long-running queries hold connections until the database refuses new ones.",
            target_kinds=frozenset({"Database"}),
            root_signals=(Signal("db_connections_in_use", "up"), Signal("latency_p99_ms", "up")),
            alerts=("DBConnectionPoolExhausted", "HighErrorRate"),
            runbook="DBConnectionPoolExhausted",
            facts=("{target}", "connection pool", "too many clients"),
            questions=("why is {caller} failing?", "why are {caller} requests erroring?"),
            apply=_db_pool,
            requires_callers=True,
        ),
        FaultDefinition(
            kind=FaultKind.DEPENDENCY_DOWN,
            title="Dependency down",
            description="A component goes away and its replacement cannot start (volume never mounts).",
            target_kinds=frozenset({"Service", "Database", "Cache", "Queue"}),
            root_signals=(Signal("up", "down"), Signal("http_requests_per_second", "down")),
            alerts=("TargetDown", "HighErrorRate"),
            runbook="TargetDown",
            facts=("{target}", "connection refused"),
            questions=("why is {caller} failing?", "why can't users use {caller}?"),
            apply=_dependency_down,
            requires_callers=True,
            k8s_reasons=("Killing", "Scheduled", "FailedMount"),
        ),
        FaultDefinition(
            kind=FaultKind.DNS_FAILURE,
            title="DNS failure",
            description="The service's cluster DNS name stops resolving; callers fail with NXDOMAIN.",
            target_kinds=frozenset({"Service"}),
            root_signals=(Signal("http_requests_per_second", "down"),),
            alerts=("DNSLookupFailures", "HighErrorRate"),
            runbook="DNSLookupFailures",
            facts=("{target}", "no such host", "DNS"),
            questions=("why is {caller} failing?", "why are {caller} calls failing?"),
            apply=_dns_failure,
            requires_callers=True,
            hop_delay_s=5.0,
        ),
        FaultDefinition(
            kind=FaultKind.CERT_EXPIRED,
            title="Expired certificate",
            description="The service's serving certificate expires; callers' TLS handshakes fail.",
            target_kinds=frozenset({"Service"}),
            root_signals=(Signal("ssl_certificate_expiry_seconds", "down"), Signal("http_requests_per_second", "down")),
            alerts=("CertificateExpired", "HighErrorRate"),
            runbook="CertificateExpired",
            facts=("{target}", "certificate", "expired"),
            questions=("why are {caller} requests failing?", "why is {target} unreachable?"),
            apply=_cert_expired,
            requires_callers=True,
            hop_delay_s=5.0,
        ),
        FaultDefinition(
            kind=FaultKind.PACKET_LOSS,
            title="Packet loss / partition",
            description="A node's network drops packets; everything on it slows down and some calls time out.",
            target_kinds=frozenset({"Node"}),
            root_signals=(
                Signal("node_network_packet_loss_ratio", "up", "node"),
                Signal("latency_p99_ms", "up", "node_services"),
            ),
            alerts=("NodeNetworkReceiveErrs",),
            runbook="NodeNetworkReceiveErrs",
            facts=("{target}", "packet loss"),
            questions=("why is {symptom} slow?", "why are requests timing out?"),
            apply=_packet_loss,
            k8s_reasons=("Unhealthy",),
        ),
        FaultDefinition(
            kind=FaultKind.NOISY_NEIGHBOUR,
            title="Noisy neighbour",
            description="A batch job scheduled on the node eats its CPU; the services there are starved.",
            target_kinds=frozenset({"Node"}),
            root_signals=(
                Signal("node_cpu_utilisation", "up", "node"),
                Signal("container_cpu_cfs_throttled_ratio", "up", "node_services"),
            ),
            alerts=("NodeCPUHighUsage",),
            runbook="NodeCPUHighUsage",
            facts=("{target}", "CPU", "reindex"),
            questions=("why is {symptom} slow?", "why did latency go up on {symptom}?"),
            apply=_noisy_neighbour,
            k8s_reasons=("Scheduled", "Started"),
        ),
        FaultDefinition(
            kind=FaultKind.QUEUE_BACKLOG,
            title="Queue backlog",
            description="Deliveries to consumers stall; the queue grows until the broker blocks publishers.",
            target_kinds=frozenset({"Queue"}),
            root_signals=(Signal("queue_depth", "up"), Signal("memory_working_set_bytes", "up", "pod")),
            alerts=("QueueBacklogGrowing",),
            runbook="QueueBacklogGrowing",
            facts=("{target}", "backlog"),
            questions=("why are {consumer} jobs delayed?", "why is {caller} slow?"),
            apply=_queue_backlog,
            requires_callers=True,
        ),
    )
}


def get_fault(kind: str | FaultKind) -> FaultDefinition:
    """The definition of a fault kind; InputError lists the known kinds."""
    try:
        return FAULTS[FaultKind(kind)]
    except ValueError as e:
        raise InputError(
            f"unknown fault kind '{kind}'", hint=f"known kinds: {', '.join(k.value for k in FaultKind)}"
        ) from e


def eligible_targets(env: EnvironmentSpec, kind: str | FaultKind) -> list[str]:
    """Entities a fault kind may be aimed at, most-depended-on first (ties by name)."""
    fd = get_fault(kind)
    if fd.target_kinds == {"Node"}:
        return sorted(n.name for n in env.nodes)
    out = [
        s.name for s in env.services if s.kind in fd.target_kinds and (not fd.requires_callers or env.callers(s.name))
    ]
    return sorted(out, key=lambda n: (-len(env.ancestors(n)), n))


def check_target(env: EnvironmentSpec, kind: str | FaultKind, target: str) -> None:
    """Raise InputError unless ``target`` exists and suits the fault kind."""
    fd = get_fault(kind)
    if env.has_node(target):
        actual = "Node"
    elif env.has_service(target):
        actual = env.service(target).kind
    else:
        raise InputError(
            f"fault target '{target}' is not a node or service of environment '{env.name}'",
            hint=f"services: {', '.join(s.name for s in env.services)}; nodes: {', '.join(n.name for n in env.nodes)}",
        )
    if actual not in fd.target_kinds:
        raise InputError(
            f"fault '{fd.kind}' targets {'/'.join(sorted(fd.target_kinds))}, but '{target}' is a {actual}",
            hint=f"eligible targets: {', '.join(eligible_targets(env, kind))}",
        )
    if fd.requires_callers and not env.callers(target):
        raise InputError(
            f"fault '{fd.kind}' needs a target something depends on, and nothing depends on '{target}'",
            hint=f"eligible targets: {', '.join(eligible_targets(env, kind))}",
        )


def question_context(env: EnvironmentSpec, kind: str | FaultKind, target: str) -> dict[str, str]:
    """Names to fill question templates: the caller users notice, the consumer, a symptomatic service."""
    ctx = {"target": target, "caller": target, "consumer": target, "symptom": target}
    callers = env.callers(target)
    if callers:
        # the caller that leans on the target hardest is where people notice
        best = max(
            callers,
            key=lambda c: (
                next(d.weight for d in env.service(c).depends_on if d.name == target),
                c != env.entrypoint,
                c,
            ),
        )
        ctx["caller"] = best
    if env.has_node(target):
        on = [s for s in env.services if target in s.runs_on]
        pick = max(on, key=lambda s: (len(env.ancestors(s.name)), s.kind == "Service", s.name)) if on else None
        ctx["symptom"] = pick.name if pick else target
        ctx["caller"] = ctx["symptom"]
    svc = env.service(target) if env.has_service(target) else None
    if svc is not None and svc.queue is not None and svc.queue.consumers:
        ctx["consumer"] = svc.queue.consumers[0]
    return ctx


def default_question(env: EnvironmentSpec, kind: str | FaultKind, target: str, variant: int = 0) -> str:
    fd = get_fault(kind)
    tmpl = fd.questions[variant % len(fd.questions)]
    return tmpl.format(**question_context(env, kind, target))


def format_facts(fd: FaultDefinition, target: str, context: Mapping[str, str]) -> list[str]:
    """The fact strings an answer should mention, with ``{target}``/``{version}``... filled."""
    values = {"target": target, **context}
    out: list[str] = []
    for f in fd.facts:
        try:
            out.append(f.format(**values))
        except KeyError:
            continue  # a fact whose value this run did not produce (e.g. no version) is not expected
    return out


def expected_alert_window_s(fd: FaultDefinition) -> float:
    """Minutes after onset within which all ``fd.alerts`` fire (for sizing windows and tests)."""
    return 20 * 60.0 if "KubePodCrashLooping" in fd.alerts else 12 * 60.0


__all__ = [
    "FAULTS",
    "FaultDefinition",
    "FaultKind",
    "Signal",
    "TargetKind",
    "bump_version",
    "check_target",
    "default_question",
    "eligible_targets",
    "format_facts",
    "get_fault",
    "host_of",
]
