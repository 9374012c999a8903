"""Kubernetes objects → topology and k8s events.

Input is what `kubectl get pods,svc,deploy,rs,nodes,events -A -o json`
prints (a v1 List). The live API (`core.sources.k8s_api`) produces the same
JSON shape and comes through here too; ReplicaSet revisions become change
events in `core.sources.k8s_rollouts`.

Mapping (ids per core.knowledge.schema):
- Service → a workload (Service/Database/Cache/Queue guessed from the images
  of the pods it selects), PART_OF its namespace.
- Deployment → Deployment node (revision, image), PART_OF its workload; a
  Deployment no Service selects is itself a workload (e.g. a load generator).
- Pod → Pod node, RUNS_ON its node, PART_OF the workload whose Service
  selector matches its labels (else its Deployment's workload, via the
  ReplicaSet owner); the workload RUNS_ON the pod's node too.
- Node → Node node. Event → core.model.Event kind=k8s_event.
- Container env values naming another Service (`http://cart:7070`,
  `cart.shop.svc:7070`, `CART_ADDR=cart`) → workload DEPENDS_ON that Service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import InvalidPayload
from core.model import EntityKind, EntityRef, Event, EventKind, RelationKind, Severity, entity_id
from core.sources.common import (
    ItemError,
    ItemProblem,
    Topology,
    load_payload,
    make_event,
    parse_time,
    type_name,
)
from core.sources.topology_common import TopologyBuilder, guess_kind, host_refs

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
MAPPED_KINDS = ("Node", "Namespace", "Service", "Deployment", "ReplicaSet", "Pod", "Event")


@dataclass
class K8sObject:
    """The validated metadata of one item plus the raw object."""

    index: int
    kind: str
    name: str
    namespace: str
    uid: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    owners: list[tuple[str, str]]
    created: datetime | None
    raw: Mapping[str, Any]
    containers: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"items[{self.index}]"

    def images(self) -> dict[str, str]:
        return {str(c.get("name", i)): str(c.get("image", "")) for i, c in enumerate(self.containers)}


_JSON_NAMES: dict[type, str] = {Mapping: "an object", list: "an array", str: "a string", int: "an integer"}  # type: ignore[dict-item]


def dig(obj: Any, path: str, typ: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    """obj['a']['b'] for path 'a.b'; absent → default; present with a wrong type → ItemProblem."""
    cur = obj
    walked = where
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            raise ItemProblem(walked, f"expected an object, got {type_name(cur)}")
        walked = f"{walked}.{part}"
        cur = cur.get(part)
        if cur is None:
            return default
    if not isinstance(cur, typ) or (isinstance(cur, bool) and typ is int):
        want = " or ".join(_JSON_NAMES.get(t, t.__name__) for t in (typ if isinstance(typ, tuple) else (typ,)))
        raise ItemProblem(walked, f"expected {want}, got {type_name(cur)}")
    return cur


def str_dict(obj: Any, path: str, where: str) -> dict[str, str]:
    raw = dig(obj, path, Mapping, where, {})
    return {str(k): str(v) for k, v in raw.items()}


def _containers(raw: Mapping[str, Any], spec_path: str, where: str) -> list[Mapping[str, Any]]:
    items = dig(raw, f"{spec_path}.containers", list, where, [])
    for i, c in enumerate(items):
        if not isinstance(c, Mapping):
            raise ItemProblem(f"{where}.{spec_path}.containers[{i}]", f"expected a container, got {type_name(c)}")
        if c.get("image") is not None and not isinstance(c.get("image"), str):
            raise ItemProblem(f"{where}.{spec_path}.containers[{i}].image", "expected a string")
        env = c.get("env")
        if env is not None and not isinstance(env, list):
            raise ItemProblem(f"{where}.{spec_path}.containers[{i}].env", f"expected a list, got {type_name(env)}")
    return list(items)


_SPEC_PATH = {"Pod": "spec", "Deployment": "spec.template.spec", "ReplicaSet": "spec.template.spec"}


def _object(item: Any, index: int) -> K8sObject:
    where = f"items[{index}]"
    if not isinstance(item, Mapping):
        raise ItemProblem(where, f"expected a Kubernetes object, got {type_name(item)}")
    kind = item.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ItemProblem(f"{where}.kind", "is required (a string such as 'Pod')")
    name = dig(item, "metadata.name", str, where)
    if not name:
        raise ItemProblem(f"{where}.metadata.name", "is required")
    owners: list[tuple[str, str]] = []
    for j, ref in enumerate(dig(item, "metadata.ownerReferences", list, where, [])):
        if not isinstance(ref, Mapping) or not isinstance(ref.get("kind"), str) or not isinstance(ref.get("name"), str):
            raise ItemProblem(f"{where}.metadata.ownerReferences[{j}]", "expected {kind, name}")
        owners.append((ref["kind"], ref["name"]))
    created_raw = dig(item, "metadata.creationTimestamp", str, where)
    created = parse_time(created_raw, f"{where}.metadata.creationTimestamp") if created_raw else None
    obj = K8sObject(
        index=index,
        kind=kind,
        name=name,
        namespace=dig(item, "metadata.namespace", str, where, ""),
        uid=dig(item, "metadata.uid", str, where),
        labels=str_dict(item, "metadata.labels", where),
        annotations=str_dict(item, "metadata.annotations", where),
        owners=owners,
        created=created,
        raw=item,
    )
    if kind in _SPEC_PATH:
        obj.containers = _containers(item, _SPEC_PATH[kind], where)
    return obj


def _items(doc: Any) -> list[Any]:
    doc = load_payload(doc, "kubernetes objects")
    if isinstance(doc, list):
        return doc
    if isinstance(doc, Mapping):
        if isinstance(doc.get("items"), list):
            return list(doc["items"])
        if isinstance(doc.get("kind"), str) and not str(doc["kind"]).endswith("List"):
            return [doc]  # a single object
        raise InvalidPayload(f"kubernetes objects: 'items' must be an array, got {type_name(doc.get('items'))}")
    raise InvalidPayload(f"kubernetes objects: expected a v1 List or an array of objects, got {type_name(doc)}")


class K8sIndex:
    """A validated set of Kubernetes objects: by kind, by name, and the owner /
    selector relations between them (which workload a pod or ReplicaSet is part of)."""

    def __init__(self, doc: Any, errors: list[ItemError], warnings: list[ItemError]) -> None:
        self.by_kind: dict[str, list[K8sObject]] = {k: [] for k in MAPPED_KINDS}
        self.lookup: dict[tuple[str, str, str], K8sObject] = {}
        for i, item in enumerate(_items(doc)):
            try:
                obj = _object(item, i)
            except ItemProblem as e:
                errors.append(ItemError(i, e.field, e.message))
                continue
            if obj.kind not in self.by_kind:
                warnings.append(ItemError(i, f"items[{i}]", f"kind {obj.kind} is not mapped (ignored)"))
                continue
            self.by_kind[obj.kind].append(obj)
            self.lookup[(obj.kind, obj.namespace, obj.name)] = obj

    def get(self, kind: str, namespace: str, name: str) -> K8sObject | None:
        return self.lookup.get((kind, namespace, name))

    def selector(self, svc: K8sObject) -> dict[str, str]:
        return str_dict(svc.raw, "spec.selector", svc.path)

    def services_selecting(self, namespace: str, labels: Mapping[str, str]) -> list[K8sObject]:
        hits = []
        for svc in self.by_kind["Service"]:
            sel = self.selector(svc)
            if svc.namespace == namespace and sel and all(labels.get(k) == v for k, v in sel.items()):
                hits.append(svc)
        # prefer the Service named like the app label, then by name, for a stable answer
        app = labels.get("app") or labels.get("app.kubernetes.io/name")
        return sorted(hits, key=lambda s: (s.name != app, s.name))

    def deployment_of(self, obj: K8sObject) -> K8sObject | None:
        if obj.kind == "Deployment":
            return obj
        for kind, name in obj.owners:
            if kind == "Deployment":
                return self.get("Deployment", obj.namespace, name)
            if kind == "ReplicaSet":
                rs = self.get("ReplicaSet", obj.namespace, name)
                if rs is not None:
                    return self.deployment_of(rs)
        return None

    def deployment_name_of_rs(self, rs: K8sObject) -> str | None:
        return next((n for k, n in rs.owners if k == "Deployment"), None)

    def workload_of_deployment(self, dep: K8sObject) -> str:
        template = str_dict(dep.raw, "spec.template.metadata.labels", dep.path)
        svcs = self.services_selecting(dep.namespace, template)
        return svcs[0].name if svcs else dep.name

    def workload_of(self, obj: K8sObject) -> str | None:
        """The workload (Service name, or Deployment name) a Pod/ReplicaSet/Deployment belongs to."""
        if obj.kind == "Pod":
            svcs = self.services_selecting(obj.namespace, obj.labels)
            if svcs:
                return svcs[0].name
        dep = self.deployment_of(obj)
        if dep is not None:
            return self.workload_of_deployment(dep)
        if obj.kind == "ReplicaSet":
            return self.deployment_name_of_rs(obj)
        # StatefulSet / DaemonSet / Job pods: the owner names the workload
        owner = next((n for k, n in obj.owners if k in ("StatefulSet", "DaemonSet", "Job", "CronJob")), None)
        return owner or obj.labels.get("app") or obj.labels.get("app.kubernetes.io/name")


def _node_props(node: K8sObject) -> dict[str, Any]:
    raw = node.raw
    conditions = dig(raw, "status.conditions", list, node.path, [])
    ready = next(
        (c.get("status") == "True" for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), None
    )
    addresses = dig(raw, "status.addresses", list, node.path, [])
    ip = next((a.get("address") for a in addresses if isinstance(a, Mapping) and a.get("type") == "InternalIP"), None)
    return {
        "ready": ready,
        "internal_ip": ip,
        "kubelet_version": dig(raw, "status.nodeInfo.kubeletVersion", str, node.path),
        "os_image": dig(raw, "status.nodeInfo.osImage", str, node.path),
        "cpu_capacity": str(dig(raw, "status.capacity.cpu", (str, int), node.path, "")) or None,
        "memory_capacity": dig(raw, "status.capacity.memory", str, node.path),
    }


def _pod_status(pod: K8sObject) -> dict[str, Any]:
    statuses = dig(pod.raw, "status.containerStatuses", list, pod.path, [])
    restarts = 0
    ready = bool(statuses)
    waiting: str | None = None
    for s in statuses:
        if not isinstance(s, Mapping):
            continue
        restarts += int(s.get("restartCount") or 0)
        ready = ready and bool(s.get("ready"))
        reason = s.get("state", {}).get("waiting", {}).get("reason") if isinstance(s.get("state"), Mapping) else None
        waiting = waiting or reason
    return {
        "phase": dig(pod.raw, "status.phase", str, pod.path),
        "restarts": restarts,
        "ready": ready,
        "waiting_reason": waiting,
    }


def _env_pairs(obj: K8sObject) -> list[tuple[str, str]]:
    pairs = []
    for c in obj.containers:
        for e in c.get("env") or []:
            if isinstance(e, Mapping) and isinstance(e.get("name"), str) and isinstance(e.get("value"), str):
                pairs.append((e["name"], e["value"]))
    return pairs


def _map_k8s(idx: K8sIndex, b: TopologyBuilder) -> dict[tuple[str, str], str]:
    """Nodes, namespaces, workloads, deployments, pods. Returns (ns, workload name) → id."""
    workloads: dict[tuple[str, str], str] = {}
    for node in idx.by_kind["Node"]:
        try:
            b.node(node.name, **_node_props(node))
        except ItemProblem as e:
            b.error(node.index, e.field, e.message)
    for ns in idx.by_kind["Namespace"]:
        b.namespace(ns.name)

    def images_for(ns: str, selector: Mapping[str, str]) -> list[str]:
        imgs = [
            img
            for p in idx.by_kind["Pod"]
            if p.namespace == ns and _matches(selector, p.labels)
            for img in p.images().values()
        ]
        for d in idx.by_kind["Deployment"]:
            if d.namespace == ns and _matches(selector, str_dict(d.raw, "spec.template.metadata.labels", d.path)):
                imgs += d.images().values()
        return imgs

    for svc in idx.by_kind["Service"]:
        try:
            sel = idx.selector(svc)
            ports = [
                f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                for p in dig(svc.raw, "spec.ports", list, svc.path, [])
                if isinstance(p, Mapping)
            ]
            deps = [
                d
                for d in idx.by_kind["Deployment"]
                if d.namespace == svc.namespace and idx.workload_of_deployment(d) == svc.name
            ]
            replicas = sum(int(dig(d.raw, "spec.replicas", int, d.path, 1)) for d in deps) if deps else None
            workloads[(svc.namespace, svc.name)] = b.workload(
                svc.name,
                svc.namespace,
                guess_kind(images_for(svc.namespace, sel)) if sel else EntityKind.SERVICE,
                replicas=replicas,
                service_type=dig(svc.raw, "spec.type", str, svc.path),
                cluster_ip=dig(svc.raw, "spec.clusterIP", str, svc.path),
                ports=ports or None,
            )
        except ItemProblem as e:
            b.error(svc.index, e.field, e.message)

    for dep in idx.by_kind["Deployment"]:
        try:
            wname = idx.workload_of_deployment(dep)
            replicas = dig(dep.raw, "spec.replicas", int, dep.path, 1)
            if (dep.namespace, wname) not in workloads:
                workloads[(dep.namespace, wname)] = b.workload(
                    wname, dep.namespace, guess_kind(dep.images().values()), replicas=replicas
                )
            rev = dep.annotations.get(REVISION_ANNOTATION, "")
            did = b.entity(
                entity_id(EntityKind.DEPLOYMENT, b.cluster, dep.namespace, dep.name),
                EntityKind.DEPLOYMENT,
                dep.name,
                cluster=b.cluster or None,
                namespace=dep.namespace or None,
                revision=int(rev) if rev.isdigit() else None,
                image=",".join(dep.images().values()) or None,
                replicas=replicas,
                ready_replicas=dig(dep.raw, "status.readyReplicas", int, dep.path, 0),
            )
            b.relate(did, workloads[(dep.namespace, wname)], RelationKind.PART_OF)
        except ItemProblem as e:
            b.error(dep.index, e.field, e.message)

    for pod in idx.by_kind["Pod"]:
        try:
            node_name = dig(pod.raw, "spec.nodeName", str, pod.path)
            pod_wname = idx.workload_of(pod)
            wid = workloads.get((pod.namespace, pod_wname)) if pod_wname else None
            if pod_wname and wid is None:
                wid = workloads[(pod.namespace, pod_wname)] = b.workload(
                    pod_wname, pod.namespace, guess_kind(pod.images().values())
                )
            pid = b.pod(
                pod.name,
                pod.namespace,
                service=pod_wname,
                node=node_name,
                namespace=pod.namespace or None,
                images=list(pod.images().values()) or None,
                **_pod_status(pod),
            )
            if node_name:
                nid = b.node(node_name)
                b.relate(pid, nid, RelationKind.RUNS_ON)
                if wid:
                    b.relate(wid, nid, RelationKind.RUNS_ON)
            if wid:
                b.relate(pid, wid, RelationKind.PART_OF)
        except ItemProblem as e:
            b.error(pod.index, e.field, e.message)

    # dependencies: env values naming another Service
    service_names = {(s.namespace, s.name) for s in idx.by_kind["Service"]}
    for obj in idx.by_kind["Deployment"] + idx.by_kind["Pod"]:
        owner = idx.workload_of(obj)
        src = workloads.get((obj.namespace, owner)) if owner else None
        if src is None:
            continue
        for var, value in _env_pairs(obj):
            for ref in host_refs(var, value):
                key = (ref.namespace or obj.namespace, ref.name)
                if key in service_names and key in workloads:
                    b.relate(src, workloads[key], RelationKind.DEPENDS_ON)
    return workloads


def _matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _event_entity(idx: K8sIndex, ev: K8sObject, cluster: str) -> EntityRef:
    inv = ev.raw.get("involvedObject") or ev.raw.get("regarding") or {}
    kind, name = inv.get("kind"), inv.get("name")
    ns = inv.get("namespace") or ev.namespace
    base: dict[str, Any] = {"cluster": cluster or None, "namespace": ns or None}
    if kind == "Node":
        return EntityRef(cluster=cluster or None, node=name)
    target = idx.get(str(kind), ns, str(name)) if kind and name else None
    if kind == "Pod":
        node = dig(target.raw, "spec.nodeName", str, target.path) if target else None
        service = idx.workload_of(target) if target else None
        return EntityRef(**base, pod=name, node=node, service=service)
    if kind == "Service":
        return EntityRef(**base, service=name)
    if kind in ("Deployment", "ReplicaSet") and target is not None:
        return EntityRef(**base, service=idx.workload_of(target))
    if kind == "Deployment":
        return EntityRef(**base, service=name)
    return EntityRef(**base)


def _iso(raw: str | None, where: str) -> str | None:
    ts = parse_time(raw, where) if raw else None
    return ts.isoformat() if ts else None


def _k8s_event(idx: K8sIndex, ev: K8sObject, cluster: str) -> Event:
    raw, here = ev.raw, ev.path
    inv = dig(raw, "involvedObject", Mapping, here) or dig(raw, "regarding", Mapping, here) or {}
    reason = dig(raw, "reason", str, here, "")
    message = dig(raw, "message", str, here) or dig(raw, "note", str, here, "")
    etype = dig(raw, "type", str, here, "Normal")
    count = dig(raw, "count", int, here) or dig(raw, "series.count", int, here) or 1
    first = dig(raw, "firstTimestamp", str, here)
    last = dig(raw, "lastTimestamp", str, here)
    event_time = dig(raw, "eventTime", str, here)
    ts_raw, ts_field = next(
        ((v, f) for v, f in ((last, "lastTimestamp"), (event_time, "eventTime"), (first, "firstTimestamp")) if v),
        (None, ""),
    )
    ts = parse_time(ts_raw, f"{here}.{ts_field}") if ts_raw else ev.created
    if ts is None:
        raise ItemProblem(
            f"{here}.lastTimestamp", "the event has no timestamp (lastTimestamp/eventTime/firstTimestamp)"
        )
    involved = {k: inv.get(k) for k in ("kind", "name", "namespace", "uid", "fieldPath") if inv.get(k) is not None}
    return make_event(
        {
            "source": "kubernetes",
            "kind": EventKind.K8S_EVENT,
            "ts": ts,
            "entity": _event_entity(idx, ev, cluster),
            "severity": Severity.WARNING if etype == "Warning" else Severity.INFO,
            "body": f"{reason}: {message}" if reason else message,
            "attributes": {
                "reason": reason,
                "type": etype,
                "involved_object": involved,
                "message": message,
                "count": count,
                # normalised, so a kubectl dump ("...Z") and the API client ("+00:00") agree
                "first_timestamp": _iso(first, f"{here}.firstTimestamp"),
                "last_timestamp": _iso(last, f"{here}.lastTimestamp"),
                "source_component": dig(raw, "source.component", str, here)
                or dig(raw, "reportingComponent", str, here)
                or dig(raw, "reportingController", str, here),
            },
            "ingest_id": f"k8s-event:{ev.uid or f'{ev.namespace}/{ev.name}'}:{count}",
        },
        here,
    )


def from_kubernetes(items: Any, *, cluster: str = "") -> Topology:
    """A v1 List (or array) of Kubernetes objects → Topology with k8s events.

    Rollout changes come from `core.sources.k8s_rollouts.rollout_changes()` on the same items.
    """
    b = TopologyBuilder(cluster)
    idx = K8sIndex(items, b.topo.errors, b.topo.warnings)
    b.cluster_node()
    _map_k8s(idx, b)
    for ev in idx.by_kind["Event"]:
        try:
            b.topo.events.append(_k8s_event(idx, ev, cluster))
        except ItemProblem as e:
            b.error(ev.index, e.field, e.message)
    return b.topo
