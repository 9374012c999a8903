"""Red herrings: believable things that happen during an incident but did not cause it.

- an unrelated, healthy deploy some minutes before the fault (on a service that is
  neither the root, nor upstream or downstream of it);
- a flappy alert on an unrelated workload (HPA at max replicas, CPU throttling);
- a one-off failed readiness probe.

Each is seeded and described in the ground truth's ``red_herrings``.
"""

from __future__ import annotations

import numpy as np

from chaos.alerts import PROM_OPERATOR_RUNBOOKS
from chaos.faults import bump_version
from chaos.state import ChangeItem, K8sItem, Pod, ScriptedAlert, SimState, pod_ip, pod_name, replicaset_name

_AUTHORS = ("alice.moreau", "bjorn.lind", "chen.wei", "dana.okafor", "eli.navarro", "ci-bot")


def related(st: SimState, target: str) -> set[str]:
    """Components tied to the fault: the root, everything upstream and downstream of it, or on the root node."""
    env = st.env
    if env.has_node(target):
        rel = set(env.services_on(target))
        for s in list(rel):
            rel |= set(env.ancestors(s))
        return rel
    return {target, *env.ancestors(target), *env.descendants(target)}


def _unrelated_services(st: SimState, target: str) -> list[str]:
    rel = related(st, target)
    return [
        s.name for s in st.env.services if s.kind == "Service" and s.name not in rel and s.name != st.env.entrypoint
    ]


def benign_deploy(st: SimState, rng: np.random.Generator, target: str) -> str | None:
    """A clean rolling update of an unrelated service 8-35 minutes before the onset."""
    pool = _unrelated_services(st, target)
    if not pool:
        return None
    name = pool[int(rng.integers(len(pool)))]
    c = st.components[name]
    at = float(max(120.0, st.onset_s - rng.uniform(8 * 60, 35 * 60)))
    old = c.spec.version
    new = bump_version(old, salt="benign")
    author = _AUTHORS[int(rng.integers(len(_AUTHORS)))]
    st.changes.append(
        ChangeItem(at, name, "deploy", new, old, author, f"Deploy {name} {new} (previous {old}): rolling update")
    )
    st.k8s.append(
        K8sItem(
            at + 1,
            "ScalingReplicaSet",
            "Normal",
            f"Scaled up replica set {replicaset_name(st.env, c.spec, new)} to 1",
            f"Deployment/{name}",
            name,
            source="deployment-controller",
        )
    )
    for k, old_pod in enumerate(list(c.pods)):
        if old_pod.end_s < st.end_s:
            continue
        start = at + 3 + 30.0 * k
        pname = pod_name(st.env, c.spec, k, new)
        node = c.spec.runs_on[k % len(c.spec.runs_on)]
        c.pods.append(Pod(pname, name, node, pod_ip(st.env, node, pname), new, start_s=start))
        obj = f"Pod/{pname}"
        st.k8s.append(
            K8sItem(
                start,
                "Scheduled",
                "Normal",
                f"Successfully assigned {st.env.namespace}/{pname} to {node}",
                obj,
                name,
                pname,
                node,
                source="default-scheduler",
            )
        )
        st.k8s.append(
            K8sItem(
                start + 7,
                "Pulled",
                "Normal",
                f'Successfully pulled image "registry.internal/{st.env.namespace}/{name}:{new}" in 5.9s',
                obj,
                name,
                pname,
                node,
            )
        )
        st.k8s.append(K8sItem(start + 8, "Started", "Normal", f"Started container {name}", obj, name, pname, node))
        old_pod.end_s = start + 25
        st.k8s.append(
            K8sItem(
                start + 25,
                "Killing",
                "Normal",
                f"Stopping container {name}",
                f"Pod/{old_pod.name}",
                name,
                old_pod.name,
                old_pod.node,
            )
        )
    return f"deploy of {name} {new} at {st.at(at):%H:%M:%S} (healthy, unrelated)"


def flappy_alert(st: SimState, rng: np.random.Generator, target: str) -> str | None:
    """An alert on an unrelated workload that fires and resolves two or three times."""
    pool = _unrelated_services(st, target) or [s.name for s in st.env.services if s.kind == "Service"]
    name = pool[int(rng.integers(len(pool)))]
    c = st.components[name]
    ns = st.env.namespace
    if rng.random() < 0.5:
        alertname, severity = "KubeHpaMaxedOut", "info"
        labels = {
            "alertname": alertname,
            "severity": severity,
            "cluster": st.env.cluster,
            "namespace": ns,
            "horizontalpodautoscaler": name,
        }
        summary = "HPA is running at max replicas"
        description = f"HPA {ns}/{name} has been running at max replicas for longer than 15 minutes."
        url = f"{PROM_OPERATOR_RUNBOOKS}kubernetes/kubehpamaxedout"
    else:
        pod = c.pods[0]
        alertname, severity = "CPUThrottlingHigh", "info"
        labels = {
            "alertname": alertname,
            "severity": severity,
            "cluster": st.env.cluster,
            "namespace": ns,
            "pod": pod.name,
            "container": name,
        }
        summary = "Processes experience elevated CPU throttling."
        description = f"27.4% throttling of CPU in namespace {ns} for container {name} in pod {pod.name}."
        url = f"{PROM_OPERATOR_RUNBOOKS}kubernetes/cputhrottlinghigh"
    t = float(rng.uniform(5 * 60, 20 * 60))
    cycles = int(rng.integers(2, 4))
    for _ in range(cycles):
        if t >= st.end_s:
            break
        dur = float(rng.uniform(120, 420))
        for status, when in (("firing", t), ("resolved", t + dur)):
            if when < st.end_s:
                st.alerts.append(
                    ScriptedAlert(when, alertname, status, severity, dict(labels), summary, description, url, t)
                )
        t += dur + float(rng.uniform(6 * 60, 18 * 60))
    return f"{alertname} flapping on {name} (unrelated)"


def probe_blip(st: SimState, rng: np.random.Generator, target: str) -> str | None:
    """One failed readiness probe on an unrelated pod during the baseline."""
    pool = _unrelated_services(st, target)
    if not pool:
        return None
    name = pool[int(rng.integers(len(pool)))]
    pod = st.components[name].pods[0]
    at = float(rng.uniform(3 * 60, max(4 * 60, st.onset_s - 5 * 60)))
    st.k8s.append(
        K8sItem(
            at,
            "Unhealthy",
            "Warning",
            f'Readiness probe failed: Get "http://{pod.ip}:8080/ready": context deadline exceeded '
            f"(Client.Timeout exceeded while awaiting headers)",
            f"Pod/{pod.name}",
            name,
            pod.name,
            pod.node,
        )
    )
    return f"one failed readiness probe on {pod.name} (unrelated)"


def inject(
    st: SimState, rng: np.random.Generator, target: str, *, benign_deploy_p: float, flappy_alert_p: float
) -> list[str]:
    """Roll the dice for each red herring; return what was injected."""
    notes: list[str] = []
    # draw every coin up front so turning one herring off does not reshuffle the others
    coins = rng.random(3)
    if coins[0] < benign_deploy_p and (n := benign_deploy(st, rng, target)):
        notes.append(n)
    if coins[1] < flappy_alert_p and (n := flappy_alert(st, rng, target)):
        notes.append(n)
    if coins[2] < 0.5 and (n := probe_blip(st, rng, target)):
        notes.append(n)
    return notes
