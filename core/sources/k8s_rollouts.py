"""Kubernetes rollouts → change Events.

Each ReplicaSet revision (`deployment.kubernetes.io/revision`) of a
Deployment is one rollout: a new image is a deploy, a pod-template change
with the same images is a config change, and an old ReplicaSet brought back
(`deployment.kubernetes.io/revision-history`) is a rollback.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.model import EntityRef, Event, EventKind, Severity
from core.sources.common import ItemError, ItemProblem, ParsedBatch, make_event, parse_time
from core.sources.k8s import REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, K8sIndex, K8sObject, dig


def _revision(rs: K8sObject) -> int | None:
    raw = rs.annotations.get(REVISION_ANNOTATION, "")
    return int(raw) if raw.isdigit() else None


def _rollout_time(idx: K8sIndex, rs: K8sObject, dep_name: str) -> tuple[datetime | None, str]:
    """When this revision rolled out. A rollback re-activates an old ReplicaSet, whose
    creationTimestamp is long past: then the latest 'Scaled up replica set <rs>' event
    or the Deployment's progress condition naming the ReplicaSet tells the time."""
    best: datetime | None = None
    for ev in idx.by_kind["Event"]:
        inv = ev.raw.get("involvedObject") or {}
        msg = str(ev.raw.get("message") or "")
        about_rs = inv.get("kind") == "Deployment" and inv.get("name") == dep_name
        if about_rs and "Scaled up" in msg and f"replica set {rs.name} " in f"{msg} ":
            t = ev.raw.get("lastTimestamp") or ev.raw.get("firstTimestamp")
            try:
                ts = parse_time(t, ev.path) if t else None
            except ItemProblem:
                ts = None
            if ts and (best is None or ts > best):
                best = ts
    if best is not None:
        return best, "event"
    dep = idx.get("Deployment", rs.namespace, dep_name)
    for c in dig(dep.raw, "status.conditions", list, dep.path, []) if dep else []:
        if isinstance(c, Mapping) and c.get("type") == "Progressing" and f'"{rs.name}"' in str(c.get("message", "")):
            t = c.get("lastUpdateTime")
            try:
                ts = parse_time(t, dep.path) if t else None  # type: ignore[union-attr]
            except ItemProblem:
                ts = None
            if ts:
                return ts, "deployment.condition"
    return rs.created, "replicaset.creationTimestamp"


def rollout_changes(items: Any, *, cluster: str = "") -> ParsedBatch:
    """One change Event per ReplicaSet revision of each Deployment (kind=change,
    change_type deploy / config / rollback), placed on the Deployment's workload."""
    batch = ParsedBatch()
    idx = K8sIndex(items, batch.errors, [])
    groups: dict[tuple[str, str], list[tuple[int, K8sObject]]] = {}
    for rs in idx.by_kind["ReplicaSet"]:
        dep_name = idx.deployment_name_of_rs(rs)
        rev = _revision(rs)
        if dep_name is None:
            continue  # a bare ReplicaSet has no rollout history
        if rev is None:
            batch.errors.append(
                ItemError(rs.index, f"{rs.path}.metadata.annotations", f"missing or bad '{REVISION_ANNOTATION}'")
            )
            continue
        groups.setdefault((rs.namespace, dep_name), []).append((rev, rs))
    for (ns, dep_name), revs in sorted(groups.items()):
        revs.sort(key=lambda r: r[0])
        dep = idx.get("Deployment", ns, dep_name)
        workload = idx.workload_of(dep) if dep else idx.workload_of(revs[0][1])
        for k, (rev, rs) in enumerate(revs):
            try:
                batch.events.append(
                    _rollout_event(idx, rs, rev, revs[k - 1][1] if k else None, dep_name, workload, cluster)
                )
            except ItemProblem as e:
                batch.errors.append(ItemError(rs.index, e.field, e.message))
    return batch


def _rollout_event(
    idx: K8sIndex,
    rs: K8sObject,
    rev: int,
    prev: K8sObject | None,
    dep_name: str,
    workload: str | None,
    cluster: str,
) -> Event:
    images = rs.images()
    prev_images = prev.images() if prev else None
    if REVISION_HISTORY_ANNOTATION in rs.annotations:
        change_type = "rollback"
    elif prev_images is None or prev_images != images:
        change_type = "deploy"
    else:
        change_type = "config"
    ts, ts_source = _rollout_time(idx, rs, dep_name)
    if ts is None:
        raise ItemProblem(f"{rs.path}.metadata.creationTimestamp", "is required to date the rollout")
    version = ",".join(images.values())
    previous = ",".join(prev_images.values()) if prev_images is not None else None
    changed = [f"{c}={img}" for c, img in images.items() if not prev_images or prev_images.get(c) != img]
    what = ", ".join(changed) if changed else "pod template"
    body = f"{change_type}: deployment {rs.namespace}/{dep_name} revision {rev} ({what})"
    return make_event(
        {
            "source": "kubernetes",
            "kind": EventKind.CHANGE,
            "ts": ts,
            "entity": EntityRef(cluster=cluster or None, namespace=rs.namespace or None, service=workload),
            "severity": Severity.WARNING if change_type == "rollback" else Severity.INFO,
            "body": body,
            "attributes": {
                "change_type": change_type,
                "version": version,
                "previous_version": previous,
                "deployment": dep_name,
                "replicaset": rs.name,
                "revision": rev,
                "images": images,
                "previous_images": prev_images,
                "ts_source": ts_source,
                "author": None,
                "description": body,
            },
            "ingest_id": f"k8s-rollout:{rs.namespace}/{dep_name}:{rev}:{rs.uid or rs.name}",
        },
        rs.path,
    )
