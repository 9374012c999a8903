"""Thirty days of synthetic history: past incidents, deploys and config changes, alerts.

Gives similar-incident search and the weekly report real material. Every fault
kind of the library appears at least once, first on the target its shipped
scenario uses (so each scenario has a look-alike in the past), then on other
targets; a few incidents have causes outside the library. Incidents carry
their timeline (declared, acknowledged, mitigated, resolved), cause and
resolution. Deploys follow a weekday rhythm with version chains that end at the
environment's current versions; bad deploys are rolled back; alerts fire around
incidents and flap now and then on their own. Deterministic by seed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from chaos.alerts import PROM_OPERATOR_RUNBOOKS, RULES_BY_NAME, fingerprint, generator_url
from chaos.faults import FaultKind, eligible_targets, get_fault, question_context
from chaos.scenarios import DEFAULT_START, list_scenarios
from chaos.spec import EnvironmentSpec, load_environment
from chaos.state import pod_name, stable_hash
from core.errors import InputError
from core.model import EntityRef, Event, EventKind

_PEOPLE = ("alice.moreau", "bjorn.lind", "chen.wei", "dana.okafor", "eli.navarro", "farah.haddad", "gus.tanaka")
_SOURCE_CHANGE = "chaos/deploys"
_SOURCE_ALERT = "chaos/alertmanager"


@dataclass(frozen=True)
class PastIncident:
    """A resolved incident from the past."""

    id: str
    title: str
    severity: str  # sev1 (worst) .. sev4
    service: str  # where it was noticed
    root_cause: str  # the entity that caused it (service, database, node, or an external name)
    fault_kind: str | None  # a FaultKind value, or None for causes outside the fault library
    cause: str
    resolution: str
    declared_at: datetime
    acknowledged_at: datetime
    mitigated_at: datetime
    resolved_at: datetime
    commander: str
    alerts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    related_change: str | None = None  # e.g. "payments v2.3.1"

    @property
    def time_to_acknowledge(self) -> timedelta:
        return self.acknowledged_at - self.declared_at

    @property
    def time_to_resolve(self) -> timedelta:
        return self.resolved_at - self.declared_at

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("declared_at", "acknowledged_at", "mitigated_at", "resolved_at"):
            d[k] = d[k].isoformat().replace("+00:00", "Z")
        d["alerts"] = list(self.alerts)
        d["tags"] = list(self.tags)
        return d


@dataclass
class History:
    """Everything that happened in the window [start, end)."""

    environment: str
    seed: int
    start: datetime
    end: datetime
    incidents: list[PastIncident] = field(default_factory=list)
    changes: list[Event] = field(default_factory=list)
    alerts: list[Event] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        """Changes and alerts, sorted by time."""
        return sorted(self.changes + self.alerts, key=lambda e: (e.ts, e.kind.value, e.ingest_id or ""))

    def write(self, out_dir: Path) -> dict[str, Path]:
        """incidents.json (a list of incident dicts) and history_events.jsonl (Event JSON per line)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"incidents": out_dir / "incidents.json", "events": out_dir / "history_events.jsonl"}
        paths["incidents"].write_text(json.dumps([i.to_dict() for i in self.incidents], indent=2) + "\n")
        with paths["events"].open("w") as f:
            for e in self.events:
                f.write(e.model_dump_json() + "\n")
        return paths


# ---------------------------------------------------------------------------- incident texts

_TITLES: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.CPU_HOG: ("{target} latency high, pods pinned at CPU limit", "{caller} slow: {target} CPU saturated"),
    FaultKind.MEMORY_LEAK: ("{target} OOMKilled repeatedly", "{target} memory climbing until OOM kill"),
    FaultKind.LATENCY_INJECTION: (
        "{caller} slow because {target} responses take seconds",
        "{target} p99 latency spike",
    ),
    FaultKind.ERROR_SPIKE: ("{target} throwing 500s", "Elevated error rate on {target}"),
    FaultKind.CRASH_LOOP: ("{target} in CrashLoopBackOff after config change", "{target} down: bad {config_key} value"),
    FaultKind.BAD_DEPLOY: ("{target} {version} broke {caller}", "Errors after deploying {target} {version}"),
    FaultKind.DISK_FULL: ("{target} out of disk space", "Root filesystem full on {target}"),
    FaultKind.DB_POOL_EXHAUSTION: (
        "{target} connection pool exhausted, {caller} failing",
        "{caller} errors: too many clients on {target}",
    ),
    FaultKind.DEPENDENCY_DOWN: ("{target} down, {caller} failing", "{caller} outage: {target} unreachable"),
    FaultKind.DNS_FAILURE: ("{caller} cannot resolve {target}", "NXDOMAIN for {target}.svc, {caller} failing"),
    FaultKind.CERT_EXPIRED: ("{target} TLS certificate expired", "{caller} -> {target} TLS handshake failures"),
    FaultKind.PACKET_LOSS: ("Packet loss on {target}", "Timeouts across services on {target}"),
    FaultKind.NOISY_NEIGHBOUR: ("Batch job starving {target}", "{caller} slow: CPU contention on {target}"),
    FaultKind.QUEUE_BACKLOG: ("{target} backlog, {consumer} delayed", "{target} memory alarm blocked publishers"),
}

_CAUSES: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.CPU_HOG: (
        "A regex in {target}'s request validation went quadratic on long inputs and pinned the pods at their "
        "CPU limit; CFS throttling made every request queue.",
        "A cache warm-up loop in {target} ran on every request after a flag flip, saturating CPU.",
    ),
    FaultKind.MEMORY_LEAK: (
        "{target} kept every response in an unbounded in-process cache; memory grew until the container hit its "
        "limit and was OOM-killed, over and over.",
        "A listener registered per request in {target} was never removed; heap grew ~40 MiB/min until OOMKilled.",
    ),
    FaultKind.LATENCY_INJECTION: (
        "{target}'s upstream provider slowed to ~1.5 s per call; {caller} waited on it for every request.",
        "A retry loop with no backoff in {target} multiplied latency when its provider degraded.",
    ),
    FaultKind.ERROR_SPIKE: (
        "Malformed records in {target}'s data made a third of requests throw an unhandled exception.",
        "A stale feature-flag default sent {target} down an unfinished code path that threw NullReference/TypeError.",
    ),
    FaultKind.CRASH_LOOP: (
        "A ConfigMap edit set {config_key} to an invalid value; {target} exited at start and went into "
        "CrashLoopBackOff.",
        "{target}'s config was changed by hand ({config_key}) without validation; every restart failed to parse it.",
    ),
    FaultKind.BAD_DEPLOY: (
        "{target} {version} shipped a regression (unchecked null) that failed about a third of requests once "
        "the new pods took traffic.",
        "{target} {version} changed a request field name; callers sending the old field got 500s.",
    ),
    FaultKind.DISK_FULL: (
        "Container logs and unused image layers filled {target}'s root filesystem; the database on it could not "
        "write WAL.",
        "A debug log level left on after an investigation filled {target}'s disk; kubelet hit its eviction threshold.",
    ),
    FaultKind.DB_POOL_EXHAUSTION: (
        "A long-running report query held row locks; queries piled up behind it and {target} ran out of "
        "connections (too many clients).",
        "A connection leak in an error path kept connections checked out until {target} refused new ones.",
    ),
    FaultKind.DEPENDENCY_DOWN: (
        "{target}'s pod was rescheduled and its replacement stuck in ContainerCreating: the volume never mounted.",
        "{target} was stopped during node maintenance and did not come back; callers got connection refused.",
    ),
    FaultKind.DNS_FAILURE: (
        "The Kubernetes Service for {target} was deleted by a cleanup job; its DNS name stopped resolving (no "
        "such host).",
        "A typo in an ExternalName change made {target}'s name resolve to NXDOMAIN for in-cluster callers.",
    ),
    FaultKind.CERT_EXPIRED: (
        "{target}'s serving certificate expired; cert renewal had been failing silently for two weeks.",
        "The cert-manager issuer for {target} lost its credentials and the certificate lapsed.",
    ),
    FaultKind.PACKET_LOSS: (
        "A flapping NIC on {target} dropped ~8% of packets; TCP retransmits stretched every call through it.",
        "An MTU mismatch after a network change on {target} caused fragmented packets to be dropped.",
    ),
    FaultKind.NOISY_NEIGHBOUR: (
        "A reindex batch job without CPU limits landed on {target} and took most of its CPU.",
        "A misconfigured CronJob ran 16 parallel workers on {target}, starving the shop's pods.",
    ),
    FaultKind.QUEUE_BACKLOG: (
        "Consumers of {target} stopped acknowledging after a client library upgrade; the backlog grew until the "
        "broker's memory alarm blocked publishers.",
        "{consumer} consumers were scaled to zero by mistake; {target} filled up and hit its memory high watermark.",
    ),
}

_RESOLUTIONS: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.CPU_HOG: (
        "Rolled back the change that introduced the hot loop; raised {target}'s CPU limit temporarily; added a "
        "guard on input length.",
        "Disabled the warm-up flag, restarted {target}; CPU back to baseline within 5 minutes.",
    ),
    FaultKind.MEMORY_LEAK: (
        "Bounded the cache with an LRU, deployed the fix; raised the memory limit while it rolled out.",
        "Restarted {target} on a schedule as a stopgap, then fixed the listener leak.",
    ),
    FaultKind.LATENCY_INJECTION: (
        "Lowered the client timeout and enabled the cached fallback for {target}; provider recovered after 40 minutes.",
        "Added exponential backoff and a circuit breaker in {target}.",
    ),
    FaultKind.ERROR_SPIKE: (
        "Quarantined the malformed records and added validation in {target}.",
        "Reverted the feature-flag default; added a test for the code path.",
    ),
    FaultKind.CRASH_LOOP: (
        "Reverted the ConfigMap ({config_key}) and restarted {target}; added schema validation to the config pipeline.",
        "Restored the previous {config_key} value; pods recovered on the next back-off restart.",
    ),
    FaultKind.BAD_DEPLOY: (
        "Rolled back {target} to {previous_version}; the fix shipped the next day with a regression test.",
        "Rollback to {previous_version} via the deploy pipeline; error rate back to baseline in 4 minutes.",
    ),
    FaultKind.DISK_FULL: (
        "Pruned unused images and rotated container logs on {target}; set log size limits in the kubelet config.",
        "Reset the log level, cleaned /var/log on {target}, added a disk-usage alert at 80%.",
    ),
    FaultKind.DB_POOL_EXHAUSTION: (
        "Killed the blocking query (pg_terminate_backend), moved reports to the replica, set statement_timeout.",
        "Restarted the leaking pods to release connections, fixed the error path to close connections.",
    ),
    FaultKind.DEPENDENCY_DOWN: (
        "Force-detached the stuck volume and rescheduled {target}; added a PodDisruptionBudget.",
        "Brought {target} back manually and added a readiness alert for it.",
    ),
    FaultKind.DNS_FAILURE: (
        "Recreated the Service object for {target}; excluded it from the cleanup job's selector.",
        "Fixed the ExternalName and flushed the DNS cache in the callers.",
    ),
    FaultKind.CERT_EXPIRED: (
        "Issued a new certificate for {target} by hand, then fixed the renewal job's permissions.",
        "Restored the issuer credentials; cert-manager renewed the certificate; added a 14-day expiry alert.",
    ),
    FaultKind.PACKET_LOSS: (
        "Cordoned and drained {target}; the provider replaced the NIC.",
        "Reverted the MTU change on {target}.",
    ),
    FaultKind.NOISY_NEIGHBOUR: (
        "Moved the batch job to a dedicated node pool with taints; set CPU limits on it.",
        "Suspended the CronJob and evicted its pods from {target}; added a LimitRange in the batch namespace.",
    ),
    FaultKind.QUEUE_BACKLOG: (
        "Rolled back the consumer library; the backlog drained in 25 minutes; memory alarm cleared.",
        "Scaled {consumer} consumers back up; purged poison messages; queue drained.",
    ),
}

_SEVERITY: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.DB_POOL_EXHAUSTION: ("sev1", "sev2"),
    FaultKind.DEPENDENCY_DOWN: ("sev1", "sev2"),
    FaultKind.CRASH_LOOP: ("sev2",),
    FaultKind.BAD_DEPLOY: ("sev2", "sev3"),
    FaultKind.CERT_EXPIRED: ("sev1", "sev2"),
    FaultKind.DISK_FULL: ("sev2",),
    FaultKind.DNS_FAILURE: ("sev2",),
}

# incidents whose cause is outside the fault library: (title, service, root cause, cause, resolution, severity, tags)
_UNRELATED: tuple[tuple[str, str, str, str, str, str, tuple[str, ...]], ...] = (
    (
        "Card payments failing: payment provider outage",
        "payments",
        "external/payment-provider",
        "The external payment provider returned 502 for 35 minutes; payments had no fallback provider configured.",
        "Waited out the provider incident; added the secondary provider as fallback.",
        "sev2",
        ("external",),
    ),
    (
        "404s from the newsletter campaign",
        "frontend",
        "frontend",
        "The campaign linked to a product page that had been removed from the catalog.",
        "Redirected the old URL; marketing now checks links against the catalog.",
        "sev4",
        ("content",),
    ),
    (
        "Token validation failures from clock skew",
        "auth",
        "node-2",
        "chrony stopped on node-2 after an image update; its clock drifted 90 s and auth rejected freshly "
        "issued tokens.",
        "Restarted chrony on node-2 and added a clock-skew alert.",
        "sev3",
        ("node", "time"),
    ),
    (
        "Search results empty after index rebuild",
        "search",
        "search",
        "A reindex finished with an empty alias swap; search served from an empty index.",
        "Pointed the alias back at the previous index, fixed the swap step.",
        "sev3",
        ("data",),
    ),
    (
        "Product images slow: CDN degradation",
        "frontend",
        "external/cdn",
        "The CDN's edge in one region served images at 3-5 s.",
        "Switched image traffic to the secondary CDN for the day.",
        "sev4",
        ("external",),
    ),
    (
        "Shipping quotes failing: carrier API key expired",
        "shipping",
        "external/carrier-api",
        "The carrier rotated API keys and the old one expired; quotes returned 401.",
        "Installed the new key from the vault; added expiry tracking for third-party keys.",
        "sev3",
        ("external", "credentials"),
    ),
)


# ---------------------------------------------------------------------------- generation


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _version_chain(current: str, n: int) -> list[str]:
    """n+1 versions ending at ``current`` (patch counts down, borrowing from minor)."""
    head, _, patch = current.rpartition(".")
    major_minor = head.lstrip("v")
    if not patch.isdigit() or "." not in major_minor:
        return [f"{current}-r{i}" for i in range(n)] + [current]
    major, _, minor = major_minor.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        return [f"{current}-r{i}" for i in range(n)] + [current]
    prefix = "v" if head.startswith("v") else ""
    ma, mi, pa = int(major), int(minor), int(patch)
    out = [current]
    for _ in range(n):
        if pa > 0:
            pa -= 1
        elif mi > 0:
            mi, pa = mi - 1, 9
        else:
            ma, mi, pa = max(0, ma - 1), 9, 9
        out.append(f"{prefix}{ma}.{mi}.{pa}")
    return list(reversed(out))


def _change(
    env: EnvironmentSpec, ts: datetime, service: str, change_type: str, version: str, prev: str, author: str, desc: str
) -> dict[str, Any]:
    return {
        "source": _SOURCE_CHANGE,
        "kind": EventKind.CHANGE,
        "ts": ts,
        "entity": EntityRef(cluster=env.cluster, namespace=env.namespace, service=service),
        "severity": "info",
        "body": desc,
        "attributes": {
            "change_type": change_type,
            "version": version,
            "previous_version": prev,
            "author": author,
            "description": desc,
        },
    }


def _alert_pair(
    env: EnvironmentSpec, alertname: str, entity: str, fired: datetime, resolved: datetime
) -> list[dict[str, Any]]:
    rule = RULES_BY_NAME.get(alertname)
    severity = rule.severity if rule else "info"
    labels: dict[str, str] = {"alertname": alertname, "severity": severity, "cluster": env.cluster}
    if env.has_node(entity):
        labels |= {"node": entity, "instance": f"{entity}:9100", "job": "node-exporter"}
        ref = EntityRef(cluster=env.cluster, node=entity)
    elif rule is not None and rule.scope == "pod" and env.has_service(entity):
        pod = pod_name(env, env.service(entity), 0, env.service(entity).version)
        labels |= {
            "namespace": env.namespace,
            "pod": pod,
            "container": entity,
            "service": entity,
            "job": "kube-state-metrics",
        }
        ref = EntityRef(cluster=env.cluster, namespace=env.namespace, service=entity, pod=pod)
    elif alertname == "KubeHpaMaxedOut":
        labels |= {"namespace": env.namespace, "horizontalpodautoscaler": entity}
        ref = EntityRef(cluster=env.cluster, namespace=env.namespace, service=entity)
    else:
        labels |= {"namespace": env.namespace, "service": entity, "job": entity}
        ref = EntityRef(cluster=env.cluster, namespace=env.namespace, service=entity)
    if rule is not None:
        summary = rule.summary.replace("{entity}", entity)
        description = f"{alertname} on {entity}: {summary}"
        url, gen = rule.runbook_url, generator_url(rule)
    else:
        summary = "HPA is running at max replicas"
        description = f"HPA {env.namespace}/{entity} has been running at max replicas for longer than 15 minutes."
        url, gen = f"{PROM_OPERATOR_RUNBOOKS}kubernetes/kubehpamaxedout", "http://prometheus.monitoring.svc:9090/alerts"
    out = []
    for status, ts in (("firing", fired), ("resolved", resolved)):
        out.append(
            {
                "source": _SOURCE_ALERT,
                "kind": EventKind.ALERT,
                "ts": ts,
                "entity": ref,
                "severity": {"critical": "critical", "warning": "warning"}.get(severity, "info"),
                "body": f"[{status.upper()}] {alertname}: {description}",
                "attributes": {
                    "alertname": alertname,
                    "status": status,
                    "labels": labels,
                    "annotations": {"summary": summary, "description": description, "runbook_url": url},
                    "startsAt": _iso(fired),
                    "endsAt": _iso(ts) if status == "resolved" else "0001-01-01T00:00:00Z",
                    "fingerprint": fingerprint(labels),
                    "generatorURL": gen,
                },
            }
        )
    return out


def _minutes(rng: np.random.Generator, lo: float, hi: float) -> timedelta:
    return timedelta(seconds=round(float(rng.uniform(lo, hi)) * 60))


def _work_time(rng: np.random.Generator, day: datetime) -> datetime:
    """A time on ``day`` (whole seconds), mostly in working hours (UTC)."""
    hour = float(np.clip(rng.normal(13.0, 3.5), 0, 23.9)) if rng.random() < 0.85 else float(rng.uniform(0, 24))
    return day + timedelta(seconds=round(hour * 3600))


def generate_history(
    env: EnvironmentSpec | None = None, *, seed: int = 0, days: int = 30, end: datetime | None = None
) -> History:
    """``days`` days of incidents, changes and alerts ending at ``end`` (default: the scenarios' start)."""
    if days < 1:
        raise InputError(f"days must be >= 1, got {days}")
    env = env or load_environment()
    end = end or DEFAULT_START
    start = end - timedelta(days=days)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, stable_hash("history", env.name) & 0xFFFFFFFF])
    day0 = start.replace(hour=0, minute=0, second=0, microsecond=0)
    day_starts = [day0 + timedelta(days=i) for i in range(days + 1)]
    day_starts = [d for d in day_starts if start <= d + timedelta(hours=23) and d < end]

    changes: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    services = [s for s in env.services if s.kind == "Service"]

    # --- routine deploys: weekday rhythm, version chains ending at today's versions
    deploy_times: dict[str, list[datetime]] = {s.name: [] for s in services}
    for d in day_starts:
        n = int(rng.integers(3, 8)) if d.weekday() < 5 else int(rng.integers(0, 2))
        for _ in range(n):
            svc = services[int(rng.integers(len(services)))]
            ts = _work_time(rng, d)
            if start <= ts < end:
                deploy_times[svc.name].append(ts)
    deploys: dict[str, list[tuple[datetime, str, str]]] = {}
    for svc in services:
        times = sorted(deploy_times[svc.name])
        chain = _version_chain(svc.version, len(times))
        deploys[svc.name] = [(ts, chain[i + 1], chain[i]) for i, ts in enumerate(times)]

    # --- incidents: every fault kind at least once on its scenario's target, then more
    scenario_targets: dict[FaultKind, str] = {}
    for sc in list_scenarios():
        if sc.environment == env.name:
            scenario_targets.setdefault(sc.fault.kind, sc.fault.target)
    plan: list[tuple[FaultKind | None, str | None]] = []
    kind: FaultKind | None
    for kind in FaultKind:
        targets = eligible_targets(env, kind)
        if targets:
            plan.append((kind, scenario_targets.get(kind, targets[0])))
    for _ in range(int(rng.integers(5, 9))):
        kind = list(FaultKind)[int(rng.integers(len(FaultKind)))]
        targets = eligible_targets(env, kind)
        if targets:
            plan.append((kind, targets[int(rng.integers(len(targets)))]))
    plan += [(None, None)] * len(_UNRELATED)
    order = rng.permutation(len(plan))
    slots = np.sort(rng.choice(np.arange(len(day_starts) * 2), size=min(len(plan), len(day_starts) * 2), replace=False))

    incidents: list[PastIncident] = []
    unrelated_i = 0
    for n_inc, (slot, pi) in enumerate(zip(slots, order, strict=False)):
        kind, target = plan[int(pi)]
        day = day_starts[int(slot) // 2]
        declared = min(max(_work_time(rng, day), start + timedelta(hours=1)), end - timedelta(hours=8))
        ack = declared + _minutes(rng, 1, 15)
        mitigated = ack + _minutes(rng, 10, 90)
        resolved = mitigated + _minutes(rng, 10, 240)
        commander = _PEOPLE[int(rng.integers(len(_PEOPLE)))]
        inc_id = f"INC-{1040 + n_inc}"
        if kind is None or target is None:
            title, service, root, cause, resolution, sev, tags = _UNRELATED[unrelated_i % len(_UNRELATED)]
            unrelated_i += 1
            incidents.append(
                PastIncident(
                    inc_id,
                    title,
                    sev,
                    service,
                    root,
                    None,
                    cause,
                    resolution,
                    declared,
                    ack,
                    mitigated,
                    resolved,
                    commander,
                    (),
                    tags,
                )
            )
            continue
        fd = get_fault(kind)
        ctx = question_context(env, kind, target)
        related_change: str | None = None
        if kind == FaultKind.BAD_DEPLOY:
            hist = deploys.get(target) or []
            before = [d for d in hist if d[0] < declared]
            if before:
                bad_ts, version, previous = before[-1]
                declared = bad_ts + _minutes(rng, 4, 15)
                ack = declared + _minutes(rng, 1, 10)
                mitigated = ack + _minutes(rng, 5, 30)
                resolved = mitigated + _minutes(rng, 30, 180)
                # after the rollback the next deploy starts from the version rolled back to
                nxt = hist.index(before[-1]) + 1
                if nxt < len(hist):
                    hist[nxt] = (hist[nxt][0], hist[nxt][1], previous)
            else:
                version = f"{env.service(target).version}-rc1"
                previous = env.service(target).version
                changes.append(
                    _change(
                        env,
                        declared - timedelta(minutes=8),
                        target,
                        "deploy",
                        version,
                        previous,
                        commander,
                        f"Deploy {target} {version} (previous {previous})",
                    )
                )
            ctx |= {"version": version, "previous_version": previous}
            related_change = f"{target} {version}"
            changes.append(
                _change(
                    env,
                    mitigated,
                    target,
                    "deploy",
                    previous,
                    version,
                    commander,
                    f"Rollback {target} to {previous} (from {version})",
                )
            )
        if kind == FaultKind.CRASH_LOOP:
            key = ("UPSTREAM_TIMEOUT", "LISTEN_PORT", "RATES_URL", "POOL_SIZE")[stable_hash(target, n_inc) % 4]
            ctx["config_key"] = key
            v = env.service(target).version
            changes.append(
                _change(
                    env,
                    declared - timedelta(minutes=4),
                    target,
                    "config",
                    v,
                    v,
                    commander,
                    f"ConfigMap {target}-config updated: {key}",
                )
            )
            changes.append(
                _change(env, mitigated, target, "config", v, v, commander, f"ConfigMap {target}-config reverted: {key}")
            )
            related_change = f"ConfigMap {target}-config"
        variant = int(rng.integers(2))
        fill = {
            **ctx,
            "target": target,
            "version": ctx.get("version", ""),
            "previous_version": ctx.get("previous_version", ""),
        }
        fill.setdefault("config_key", "UPSTREAM_TIMEOUT")
        title = _TITLES[kind][variant % len(_TITLES[kind])].format(**fill)
        cause = _CAUSES[kind][variant % len(_CAUSES[kind])].format(**fill)
        resolution = _RESOLUTIONS[kind][int(rng.integers(2)) % len(_RESOLUTIONS[kind])].format(**fill)
        sev_pool = _SEVERITY.get(kind, ("sev3", "sev2", "sev4"))
        severity = sev_pool[int(rng.integers(len(sev_pool)))]
        service = ctx["caller"] if not env.has_node(target) else ctx["symptom"]
        incidents.append(
            PastIncident(
                inc_id,
                title,
                severity,
                service,
                target,
                kind.value,
                cause,
                resolution,
                declared,
                ack,
                mitigated,
                resolved,
                commander,
                fd.alerts,
                (kind.value, env.entity_kind(target).lower()),
                related_change,
            )
        )
        for alertname in fd.alerts:
            who = target
            if alertname == "HighErrorRate" and not env.has_node(target):
                who = ctx["caller"]
            if alertname == "DNSLookupFailures":
                who = ctx["caller"]
            fired = declared - _minutes(rng, 1, 8)
            alerts += _alert_pair(env, alertname, who, fired, mitigated + _minutes(rng, 1, 6))

    for svc_name, items in deploys.items():
        for ts, version, prev in items:
            author = _PEOPLE[stable_hash(svc_name, ts.isoformat()) % len(_PEOPLE)] if rng.random() < 0.7 else "ci-bot"
            changes.append(
                _change(
                    env, ts, svc_name, "deploy", version, prev, author, f"Deploy {svc_name} {version} (previous {prev})"
                )
            )

    # --- scale changes and background flappy alerts
    for d in day_starts:
        if rng.random() < 0.3:
            svc = services[int(rng.integers(len(services)))]
            ts = _work_time(rng, d)
            if start <= ts < end:
                r = svc.replicas
                changes.append(
                    _change(
                        env,
                        ts,
                        svc.name,
                        "scale",
                        svc.version,
                        svc.version,
                        "horizontal-pod-autoscaler",
                        f"HPA scaled {svc.name} from {r} to {r + 1} replicas (cpu above target)",
                    )
                )
        for _ in range(int(rng.poisson(1.5))):
            svc = services[int(rng.integers(len(services)))]
            name = ("KubeHpaMaxedOut", "CPUThrottlingHigh", "HighLatencyP99")[int(rng.integers(3))]
            fired = _work_time(rng, d)
            if start <= fired < end - timedelta(hours=1):
                alerts += _alert_pair(env, name, svc.name, fired, fired + _minutes(rng, 3, 40))

    incidents.sort(key=lambda i: i.declared_at)
    incidents = [replace(inc, id=f"INC-{1040 + k}") for k, inc in enumerate(incidents)]
    change_events = _to_events(changes, f"chaos-history/{env.name}/{seed}/change", start, end)
    alert_events = _to_events(alerts, f"chaos-history/{env.name}/{seed}/alert", start, end)
    return History(env.name, seed, start, end, incidents, change_events, alert_events)


def _to_events(data: list[dict[str, Any]], prefix: str, start: datetime, end: datetime) -> list[Event]:
    kept = sorted(
        (d for d in data if start <= d["ts"] < end),
        key=lambda d: (d["ts"], d["entity"].service or d["entity"].node or "", d["body"]),
    )
    return [Event(**d, ingest_id=f"{prefix}/{i}") for i, d in enumerate(kept)]
