"""The knowledge schema: what ingestion writes and the engine reads.

This module is the contract between `core/ingest` (writer) and `core/engine`
(reader). Graph labels and relationship types are the DESIGN.md data model;
property names are fixed here so both sides agree. Graph property values are
scalars or lists of scalars only.

Graph nodes (all have `id` (stable, see core.model.entity_id), `name`, `tenant`):

| label | id | extra properties |
|---|---|---|
| Service / Database / Cache / Queue | `service:<cluster>/<ns>/<name>` (same prefix for all four kinds, so a name resolves once) | `kind`, `cluster`, `namespace`, `replicas` |
| Node | `node:<cluster>/<name>` | `cluster` |
| Host | `host:<name>` | |
| Pod | `pod:<cluster>/<ns>/<name>` | `service`, `node` |
| Deployment | `deployment:<cluster>/<ns>/<name>` | `revision`, `image` |
| Namespace / Cluster | `namespace:<cluster>/<ns>` / `cluster:<name>` | |
| LogTemplate | `tpl:<template id>` | `template`, `level`, `first_seen` (epoch s), `last_seen`, `count` |
| Alert | `alert:<fingerprint>` | `alertname`, `status`, `severity`, `starts_at`, `ends_at` (epoch s), `summary`, `runbook_url`, `labels_json` |
| Change | `change:<ingest id or hash>` | `change_type`, `ts` (epoch s), `version`, `previous_version`, `author`, `description` |
| Runbook | `runbook:<slug>` | `title`, `path`, `url`, `aliases` (list of alert names, lower-case) |
| RunbookChunk | `runbook:<slug>#<n>` | `heading`, `text` |
| Incident | `incident:<key>` | `title`, `severity`, `status`, `cause`, `fault_kind`, `resolution`, `opened_at`, `resolved_at` |

Relationships (direction matters):
`(a)-[:DEPENDS_ON]->(b)` a calls/needs b (so b is *upstream* of a's symptoms);
`(svc)-[:RUNS_ON]->(node)`; `(pod)-[:PART_OF]->(svc)`; `(svc)-[:PART_OF]->(namespace)`;
`(entity)-[:HAS_LOG]->(tpl)`; `(alert)-[:FIRED_ON]->(entity)`; `(change)-[:CHANGED]->(entity)`;
`(alert)-[:RELATED_RUNBOOK]->(runbook)`; `(chunk)-[:PART_OF]->(runbook)`;
`(incident)-[:AFFECTS]->(entity)`; `(incident)-[:CAUSED_BY]->(entity)`; `(incident)-[:SIMILAR_TO]->(incident)`.

Vector documents (`core.ports.VectorDoc.kind`): `log_template` (text = template),
`runbook_chunk` (text = heading + chunk), `incident` (text = title + cause +
resolution + signature), `alert_rule`. `entity_ids` hold graph ids.

Relational rows (core/db/tables.py): `LogLine` raw lines (retention),
`LogCount` per (minute, entity_id, template_id) counts, `MetricPoint`
(ts, entity_id, metric, value), `EventRecord` for every accepted non-log,
non-metric event (alerts, k8s events, changes, notes) with its attributes JSON,
`SeenEvent` dedup keys.
"""

# ruff: noqa: E501  (the schema tables above are wider than the code limit on purpose)

from __future__ import annotations

from enum import StrEnum

from core.model import EntityKind, RelationKind

# Entity kinds that are "things that can be a root cause" (carry telemetry).
WORKLOAD_LABELS: tuple[str, ...] = (
    EntityKind.SERVICE.value,
    EntityKind.DATABASE.value,
    EntityKind.CACHE.value,
    EntityKind.QUEUE.value,
)
INFRA_LABELS: tuple[str, ...] = (EntityKind.NODE.value, EntityKind.HOST.value, EntityKind.POD.value)


class DocKind(StrEnum):
    LOG_TEMPLATE = "log_template"
    RUNBOOK_CHUNK = "runbook_chunk"
    INCIDENT = "incident"
    ALERT_RULE = "alert_rule"


def workload_id(name: str, cluster: str = "", namespace: str = "") -> str:
    """Id of a Service/Database/Cache/Queue. All four share the `service:` prefix."""
    return "service:" + "/".join(p for p in (cluster, namespace, name) if p)


def node_id(name: str, cluster: str = "") -> str:
    return "node:" + "/".join(p for p in (cluster, name) if p)


def pod_id(name: str, cluster: str = "", namespace: str = "") -> str:
    return "pod:" + "/".join(p for p in (cluster, namespace, name) if p)


def template_node_id(template_id: str) -> str:
    return f"tpl:{template_id}"


def short_name(entity_id: str) -> str:
    """`service:sim/boutique/checkout` → `checkout`."""
    return entity_id.rsplit("/", 1)[-1].split(":", 1)[-1]


UPSTREAM = RelationKind.DEPENDS_ON.value
