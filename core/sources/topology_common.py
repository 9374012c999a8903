"""Building blocks shared by the topology mappers (static YAML, docker-compose,
Kubernetes): a de-duplicating Topology builder, the image → kind guess, and
detection of service dependencies from environment variables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.knowledge.schema import node_id, pod_id, workload_id
from core.model import Entity, EntityKind, Relation, RelationKind, entity_id
from core.sources.common import ItemError, Topology

PropValue = str | int | float | bool | list[str] | list[float] | None

WORKLOAD_KINDS = {
    k.value.lower(): k for k in (EntityKind.SERVICE, EntityKind.DATABASE, EntityKind.CACHE, EntityKind.QUEUE)
}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

# Image name prefixes (last path component, tag stripped) → what the container is.
_IMAGE_KINDS: tuple[tuple[tuple[str, ...], EntityKind], ...] = (
    (
        ("postgres", "mysql", "mariadb", "mongo", "cockroach", "cassandra", "scylla", "clickhouse", "couchdb",
         "timescale", "percona", "spanner", "dynamodb", "neo4j", "elasticsearch", "opensearch"),
        EntityKind.DATABASE,
    ),
    (("redis", "memcached", "valkey", "keydb", "dragonfly", "hazelcast", "varnish"), EntityKind.CACHE),
    (("rabbitmq", "kafka", "nats", "pulsar", "activemq", "redpanda", "mosquitto", "emqx"), EntityKind.QUEUE),
)  # fmt: skip


def image_base_name(image: str) -> str:
    """`docker.io/bitnami/postgresql:15@sha256:..` → `postgresql`."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def guess_kind(images: Iterable[str]) -> EntityKind:
    """Database / Cache / Queue when an image is a well-known one of those, else Service."""
    for image in images:
        base = image_base_name(image)
        for prefixes, kind in _IMAGE_KINDS:
            if base.startswith(prefixes):
                return kind
    return EntityKind.SERVICE


# --- dependencies from environment variables -----------------------------------------------------

# Variable names whose bare value (no port, no scheme) is still an address.
_ADDRESS_VAR = re.compile(
    r"(_|^)(HOST|HOSTNAME|ADDR|ADDRESS|URL|URI|ENDPOINT|ENDPOINTS|SERVICE|SERVER|SERVERS|DSN)$", re.I
)
_HOSTPORT = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$")


@dataclass(frozen=True)
class HostRef:
    """A host named in a value: short name, namespace when the DNS name carries one."""

    name: str
    namespace: str | None


def host_refs(var_name: str, value: str) -> list[HostRef]:
    """Hosts an environment variable points at: URLs (`http://cart:7070`), `host:port`,
    Kubernetes DNS names (`cart.shop.svc.cluster.local:7070`), and a bare host name
    when the variable's name says it is an address (`DB_HOST=orders-db`)."""
    refs: list[HostRef] = []
    for token in re.split(r"[\s,;]+", value.strip()):
        if not token:
            continue
        strong = False
        if "://" in token:
            try:
                host = urlsplit(token).hostname or ""
            except ValueError:
                continue
            strong = True
        else:
            m = _HOSTPORT.match(token)
            if not m:
                continue
            host, port = m.group(1), m.group(2)
            strong = port is not None or "." in host
        if not host or (not strong and not _ADDRESS_VAR.search(var_name)):
            continue
        labels = host.lower().split(".")
        if labels[0].replace("-", "").isdigit():
            continue  # an IP address
        if len(labels) == 1:
            refs.append(HostRef(labels[0], None))
        elif len(labels) == 2 or labels[2] == "svc":
            refs.append(HostRef(labels[0], labels[1]))
        # other dotted names (api.example.com) are outside the cluster
    return refs


# --- builder ----------------------------------------------------------------------------------


class TopologyBuilder:
    """Accumulates entities and relations without duplicates (later props fill gaps)."""

    def __init__(self, cluster: str = "") -> None:
        self.cluster = cluster
        self.topo = Topology()
        self._entities: dict[str, Entity] = {}
        self._relations: set[tuple[str, str, str]] = set()

    def entity(self, eid: str, kind: EntityKind, name: str, /, **props: PropValue) -> str:
        existing = self._entities.get(eid)
        if existing is None:
            ent = Entity(id=eid, kind=kind, name=name, props={k: v for k, v in props.items() if v is not None})
            self._entities[eid] = ent
            self.topo.entities.append(ent)
        else:
            for k, v in props.items():
                if v is not None and existing.props.get(k) is None:
                    existing.props[k] = v
        return eid

    def relate(self, src: str, dst: str, kind: RelationKind) -> None:
        key = (src, dst, kind.value)
        if src != dst and key not in self._relations:
            self._relations.add(key)
            self.topo.relations.append(Relation(src=src, dst=dst, kind=kind))

    def error(self, index: int | None, field: str, message: str) -> None:
        self.topo.errors.append(ItemError(index, field, message))

    # ids and the standard nodes

    def cluster_node(self) -> str | None:
        if not self.cluster:
            return None
        return self.entity(entity_id(EntityKind.CLUSTER, self.cluster), EntityKind.CLUSTER, self.cluster)

    def namespace(self, ns: str) -> str | None:
        if not ns:
            return None
        nid = self.entity(
            entity_id(EntityKind.NAMESPACE, self.cluster, ns), EntityKind.NAMESPACE, ns, cluster=self.cluster or None
        )
        cid = self.cluster_node()
        if cid:
            self.relate(nid, cid, RelationKind.PART_OF)
        return nid

    def workload(self, name: str, namespace: str, kind: EntityKind, /, **props: PropValue) -> str:
        wid = self.entity(
            workload_id(name, self.cluster, namespace),
            kind,
            name,
            kind=kind.value,
            cluster=self.cluster or None,
            namespace=namespace or None,
            **props,
        )
        ns_id = self.namespace(namespace)
        if ns_id:
            self.relate(wid, ns_id, RelationKind.PART_OF)
        return wid

    def node(self, name: str, /, **props: PropValue) -> str:
        return self.entity(node_id(name, self.cluster), EntityKind.NODE, name, cluster=self.cluster or None, **props)

    def host(self, name: str, /, **props: PropValue) -> str:
        return self.entity(entity_id(EntityKind.HOST, name), EntityKind.HOST, name, **props)

    def pod(self, name: str, namespace: str, /, **props: PropValue) -> str:
        return self.entity(pod_id(name, self.cluster, namespace), EntityKind.POD, name, **props)
