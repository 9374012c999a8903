"""Topology sources → graph entities and relations.

* `from_static(doc)`: Sherlog's own YAML (cluster, namespace, nodes, hosts,
  services with kind / depends_on / runs_on / replicas). Strict: unknown
  fields and unknown names are errors with a did-you-mean suggestion.
* `from_compose(doc)`: a docker-compose file (services, depends_on in list
  and map form, links, environment references, image → kind guess).
* `from_kubernetes(items)`, `from_kubernetes_api(client)`,
  `rollout_changes(items)`: see `core.sources.k8s`, `k8s_api` and
  `k8s_rollouts` (re-exported here).

Every mapper returns a `Topology`; problems with one item are recorded in
`Topology.errors` (with the item's path) and the rest is still mapped. Call
`Topology.raise_for_errors()` for all-or-nothing loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from core.errors import InvalidPayload
from core.model import RelationKind
from core.sources.common import ItemProblem, Topology, did_you_mean, type_name, unknown_key_message
from core.sources.k8s import from_kubernetes
from core.sources.k8s_api import fetch_kubernetes_items, from_kubernetes_api
from core.sources.k8s_rollouts import rollout_changes
from core.sources.topology_common import NAME_RE, WORKLOAD_KINDS, TopologyBuilder, guess_kind, host_refs

__all__ = [
    "Topology",
    "fetch_kubernetes_items",
    "from_compose",
    "from_kubernetes",
    "from_kubernetes_api",
    "from_static",
    "load_topology_file",
    "rollout_changes",
]

_STATIC_TOP = ("cluster", "namespace", "nodes", "hosts", "services")
_STATIC_SERVICE = ("name", "kind", "depends_on", "runs_on", "replicas", "namespace", "image")
_STATIC_MACHINE = ("name",)


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ItemProblem(field, f"expected a name (string), got {type_name(value)}")
    name = value.strip()
    if not NAME_RE.match(name):
        raise ItemProblem(field, f"'{name}' is not a valid name (letters, digits, '-', '_', '.'; no '/')")
    return name


def _names(value: Any, field: str) -> list[str]:
    """A name or a list of names."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ItemProblem(field, f"expected a name or a list of names, got {type_name(value)}")
    return [_name(v, f"{field}[{i}]") for i, v in enumerate(items)]


def _check_keys(obj: Mapping[str, Any], allowed: tuple[str, ...], field: str) -> None:
    for key in obj:
        if key not in allowed:
            raise ItemProblem(f"{field}.{key}", unknown_key_message(str(key), allowed))


def _machines(b: TopologyBuilder, raw: Any, field: str, host: bool) -> set[str]:
    """`nodes:` / `hosts:` entries (a name or {name: ...}) → their names."""
    if raw is None:
        return set()
    if not isinstance(raw, list):
        raise InvalidPayload(f"static topology: '{field}' must be a list, got {type_name(raw)}")
    names: set[str] = set()
    for i, item in enumerate(raw):
        here = f"{field}[{i}]"
        try:
            if isinstance(item, Mapping):
                _check_keys(item, _STATIC_MACHINE, here)
                name = _name(item.get("name"), f"{here}.name")
            else:
                name = _name(item, here)
            if name in names:
                raise ItemProblem(here, f"duplicate name '{name}'")
        except ItemProblem as e:
            b.error(i, e.field, e.message)
            continue
        names.add(name)
        if host:
            b.host(name)
        else:
            b.node(name)
    return names


def from_static(doc: Any) -> Topology:
    """Sherlog's static topology YAML (already parsed, or YAML text) → Topology."""
    if isinstance(doc, str | bytes):
        doc = _load_yaml(doc, "static topology")
    if not isinstance(doc, Mapping):
        raise InvalidPayload(f"static topology: expected a mapping at the top, got {type_name(doc)}")
    cluster, namespace = doc.get("cluster", ""), doc.get("namespace", "")
    for key, val in (("cluster", cluster), ("namespace", namespace)):
        if not isinstance(val, str):
            raise InvalidPayload(f"static topology: '{key}' must be a string, got {type_name(val)}")
    b = TopologyBuilder(cluster)
    for key in doc:
        if key not in _STATIC_TOP:
            b.error(None, str(key), unknown_key_message(str(key), _STATIC_TOP))
    nodes = _machines(b, doc.get("nodes"), "nodes", host=False)
    hosts = _machines(b, doc.get("hosts"), "hosts", host=True)
    raw_services = doc.get("services")
    if not isinstance(raw_services, list):
        raise InvalidPayload(f"static topology: 'services' must be a list, got {type_name(raw_services)}")

    # pass 1: validate each service on its own; pass 2: references between them
    parsed: dict[str, tuple[int, dict[str, Any]]] = {}
    ids: dict[str, str] = {}
    declared: set[str] = set()
    for i, item in enumerate(raw_services):
        here = f"services[{i}]"
        try:
            if not isinstance(item, Mapping):
                raise ItemProblem(here, f"expected a service mapping, got {type_name(item)}")
            name = _name(item.get("name"), f"{here}.name")
            if name in declared:
                raise ItemProblem(f"{here}.name", f"duplicate service '{name}'")
            declared.add(name)
            _check_keys(item, _STATIC_SERVICE, here)
            kind_raw = item.get("kind", "Service")
            kind = WORKLOAD_KINDS.get(str(kind_raw).lower()) if isinstance(kind_raw, str) else None
            if kind is None:
                allowed = ", ".join(k.value for k in WORKLOAD_KINDS.values())
                raise ItemProblem(f"{here}.kind", f"unknown kind {kind_raw!r}; allowed: {allowed}")
            replicas = item.get("replicas")
            if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
                raise ItemProblem(f"{here}.replicas", f"expected a non-negative integer, got {replicas!r}")
            ns = item.get("namespace", namespace)
            if not isinstance(ns, str):
                raise ItemProblem(f"{here}.namespace", f"expected a string, got {type_name(ns)}")
            spec = {
                "kind": kind,
                "replicas": replicas,
                "namespace": ns,
                "image": item.get("image") if isinstance(item.get("image"), str) else None,
                "depends_on": _names(item.get("depends_on"), f"{here}.depends_on"),
                "runs_on": _names(item.get("runs_on"), f"{here}.runs_on"),
            }
        except ItemProblem as e:
            b.error(i, e.field, e.message)
            continue
        parsed[name] = (i, spec)
        ids[name] = b.workload(name, ns, kind, replicas=replicas, image=spec["image"])

    for name, (i, spec) in parsed.items():
        here = f"services[{i}]"
        for j, dep in enumerate(spec["depends_on"]):
            where = f"{here}.depends_on[{j}]" if len(spec["depends_on"]) > 1 else f"{here}.depends_on"
            if dep == name:
                b.error(i, where, f"'{name}' cannot depend on itself")
            elif dep in ids:
                b.relate(ids[name], ids[dep], RelationKind.DEPENDS_ON)
            elif dep in declared:
                b.error(i, where, f"service '{dep}' is declared but invalid (see its own error)")
            else:
                b.error(i, where, f"unknown service '{dep}'{did_you_mean(dep, declared)}")
        for j, target in enumerate(spec["runs_on"]):
            where = f"{here}.runs_on[{j}]" if len(spec["runs_on"]) > 1 else f"{here}.runs_on"
            if target in nodes:
                b.relate(ids[name], b.node(target), RelationKind.RUNS_ON)
            elif target in hosts:
                b.relate(ids[name], b.host(target), RelationKind.RUNS_ON)
            else:
                b.error(i, where, f"unknown node or host '{target}'{did_you_mean(target, nodes | hosts)}")
    return b.topo


# --- docker-compose ---------------------------------------------------------------------------


def _compose_env(raw: Any, field: str) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        out: dict[str, str] = {}
        for i, entry in enumerate(raw):
            if not isinstance(entry, str):
                raise ItemProblem(f"{field}[{i}]", f"expected 'NAME=value', got {type_name(entry)}")
            k, _, v = entry.partition("=")
            out[k] = v
        return out
    raise ItemProblem(field, f"expected a mapping or a list of 'NAME=value', got {type_name(raw)}")


def _compose_deps(svc: Mapping[str, Any], here: str) -> list[tuple[str, str]]:
    """(dependency, field path) from depends_on (list or map form) and links."""
    deps: list[tuple[str, str]] = []
    raw = svc.get("depends_on")
    if isinstance(raw, Mapping):
        deps += [(str(k), f"{here}.depends_on.{k}") for k in raw]
    elif isinstance(raw, list):
        for i, d in enumerate(raw):
            if not isinstance(d, str):
                raise ItemProblem(f"{here}.depends_on[{i}]", f"expected a service name, got {type_name(d)}")
            deps.append((d, f"{here}.depends_on[{i}]"))
    elif raw is not None:
        raise ItemProblem(f"{here}.depends_on", f"expected a list or a mapping, got {type_name(raw)}")
    links = svc.get("links")
    if links is not None:
        if not isinstance(links, list):
            raise ItemProblem(f"{here}.links", f"expected a list, got {type_name(links)}")
        for i, link in enumerate(links):
            if not isinstance(link, str):
                raise ItemProblem(f"{here}.links[{i}]", f"expected 'service[:alias]', got {type_name(link)}")
            deps.append((link.split(":", 1)[0], f"{here}.links[{i}]"))
    return deps


def from_compose(doc: Any, *, cluster: str = "", namespace: str | None = None, host: str | None = None) -> Topology:
    """A docker-compose document (parsed, or YAML text) → Topology.

    The namespace defaults to the compose project `name`; with `host` every
    service RUNS_ON that Host.
    """
    if isinstance(doc, str | bytes):
        doc = _load_yaml(doc, "compose file")
    if not isinstance(doc, Mapping):
        raise InvalidPayload(f"compose file: expected a mapping at the top, got {type_name(doc)}")
    services = doc.get("services")
    if not isinstance(services, Mapping):
        raise InvalidPayload(f"compose file: 'services' must be a mapping of name → service, got {type_name(services)}")
    ns = namespace if namespace is not None else str(doc.get("name") or "")
    b = TopologyBuilder(cluster)
    host_id = b.host(host) if host else None
    names = [str(n) for n in services]
    ok: dict[str, tuple[int, str, Mapping[str, Any], dict[str, str]]] = {}
    for i, name in enumerate(names):
        here = f"services.{name}"
        svc = services[name] if services[name] is not None else {}
        try:
            if not isinstance(svc, Mapping):
                raise ItemProblem(here, f"expected a service mapping, got {type_name(svc)}")
            if not NAME_RE.match(name):
                raise ItemProblem(here, f"'{name}' is not a valid service name")
            image = svc.get("image")
            if image is not None and not isinstance(image, str):
                raise ItemProblem(f"{here}.image", f"expected a string, got {type_name(image)}")
            env = _compose_env(svc.get("environment"), f"{here}.environment")
            deploy = svc.get("deploy")
            replicas = deploy.get("replicas") if isinstance(deploy, Mapping) else None
            replicas = replicas if replicas is not None else svc.get("scale")
            if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool)):
                raise ItemProblem(f"{here}.deploy.replicas", f"expected an integer, got {type_name(replicas)}")
            kind = guess_kind([image] if image else [])
            wid = b.workload(name, ns, kind, replicas=replicas, image=image)
        except ItemProblem as e:
            b.error(i, e.field, e.message)
            continue
        ok[name] = (i, wid, svc, env)
        if host_id:
            b.relate(wid, host_id, RelationKind.RUNS_ON)
    for name, (i, wid, svc, env) in ok.items():
        here = f"services.{name}"
        try:
            deps = _compose_deps(svc, here)
        except ItemProblem as e:
            b.error(i, e.field, e.message)
            deps = []
        for dep, where in deps:
            if dep in ok:
                b.relate(wid, ok[dep][1], RelationKind.DEPENDS_ON)
            elif dep in names:
                b.error(i, where, f"service '{dep}' is declared but invalid (see its own error)")
            else:
                b.error(i, where, f"unknown service '{dep}'{did_you_mean(dep, names)}")
        for var, value in env.items():
            for ref in host_refs(var, value):
                if ref.name in ok and ref.name != name:
                    b.relate(wid, ok[ref.name][1], RelationKind.DEPENDS_ON)
    return b.topo


# --- files ------------------------------------------------------------------------------------


def _load_yaml(text: str | bytes, what: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InvalidPayload(f"{what}: not valid YAML: {e}") from e


def load_topology_file(path: Path | str, *, cluster: str = "") -> Topology:
    """Load a topology file, choosing the mapper by content: a Kubernetes List
    (`kind: List` / `items`), a compose file (`services` mapping), or static YAML
    (`services` list). JSON is YAML, so `kubectl ... -o json` dumps load too."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidPayload(f"cannot read topology file {p}: {e}") from e
    doc = _load_yaml(text, str(p))
    if isinstance(doc, Mapping) and (doc.get("kind") == "List" or isinstance(doc.get("items"), list)):
        return from_kubernetes(doc, cluster=cluster)
    if isinstance(doc, Mapping) and isinstance(doc.get("services"), Mapping):
        return from_compose(doc, cluster=cluster)
    if isinstance(doc, Mapping) and isinstance(doc.get("services"), list):
        return from_static(doc)
    raise InvalidPayload(
        f"{p}: not a topology file I know (expected a Kubernetes List, a compose file, or static YAML with services)"
    )
