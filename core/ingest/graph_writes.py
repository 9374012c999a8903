"""Batched graph writes whose merge rules `GraphStore.upsert_nodes` cannot express.

Each function is one UNWIND statement per batch, in the openCypher subset FalkorDB and Neo4j
share. The rules make the writes idempotent and order-independent:

* LogTemplate: `first_seen` only moves earlier, `last_seen` only later, `level` only more severe,
  `count` is the miner's running count for the template (absolute, so a replay does not add).
* Alert: a notification only overwrites the node when it is at least as new as the last one
  applied (`event_ts`), so a late "firing" resend cannot undo a "resolved".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.ports import GraphStore

_BATCH = 1000

_TEMPLATES = """
UNWIND $rows AS row
MERGE (t:LogTemplate {id: row.id})
ON CREATE SET t.first_seen = row.first_seen, t.last_seen = row.last_seen, t.level_rank = row.level_rank,
              t.level = row.level, t.tenant = row.tenant
SET t.template = row.template, t.name = row.name, t.count = row.count,
    t.first_seen = CASE WHEN row.first_seen < t.first_seen THEN row.first_seen ELSE t.first_seen END,
    t.last_seen = CASE WHEN row.last_seen > t.last_seen THEN row.last_seen ELSE t.last_seen END,
    t.level = CASE WHEN row.level_rank > t.level_rank THEN row.level ELSE t.level END,
    t.level_rank = CASE WHEN row.level_rank > t.level_rank THEN row.level_rank ELSE t.level_rank END
RETURN count(t) AS written
"""

_MERGED = """
UNWIND $rows AS row
MATCH (t:LogTemplate {id: row.id})
SET t.merged_into = row.into
RETURN count(t) AS written
"""

_ALERTS = """
UNWIND $rows AS row
MERGE (a:Alert {id: row.id})
ON CREATE SET a.tenant = row.tenant
WITH a, row
WHERE a.event_ts IS NULL OR row.props.event_ts >= a.event_ts
SET a += row.props
RETURN count(a) AS written
"""


def _batched(graph: GraphStore, cypher: str, rows: Sequence[Mapping[str, Any]]) -> int:
    written = 0
    for i in range(0, len(rows), _BATCH):
        res = graph.query(cypher, {"rows": list(rows[i : i + _BATCH])})
        written += int(res[0]["written"]) if res else 0
    return written


def upsert_templates(graph: GraphStore, rows: Sequence[Mapping[str, Any]]) -> int:
    """Rows: id, name, tenant, template, level, level_rank, first_seen, last_seen (epoch s), count."""
    return _batched(graph, _TEMPLATES, rows)


def mark_merged(graph: GraphStore, merged: Mapping[str, str]) -> int:
    """Record that template nodes were merged into others by the miner (`merged_into` = survivor id)."""
    rows = [{"id": k, "into": v} for k, v in merged.items()]
    return _batched(graph, _MERGED, rows)


def live_template_ids(graph: GraphStore) -> list[str]:
    """Ids of LogTemplate nodes not merged into another."""
    rows = graph.query("MATCH (t:LogTemplate) WHERE t.merged_into IS NULL RETURN t.id AS id")
    return [str(r["id"]) for r in rows]


def template_aliases(graph: GraphStore) -> dict[str, str]:
    """Merged template id → the id it was merged into, followed to the live end."""
    rows = graph.query("MATCH (t:LogTemplate) WHERE t.merged_into IS NOT NULL RETURN t.id AS id, t.merged_into AS to")
    direct = {str(r["id"]): str(r["to"]) for r in rows}
    out: dict[str, str] = {}
    for src in direct:
        dst, hops = direct[src], 0
        while dst in direct and hops < 64:
            dst, hops = direct[dst], hops + 1
        out[src] = dst
    return out


def upsert_alerts(graph: GraphStore, rows: Sequence[Mapping[str, Any]]) -> int:
    """Rows: id, tenant, props (flat: alertname, status, ..., event_ts). Older notifications are ignored."""
    return _batched(graph, _ALERTS, rows)


def relabel_placeholders(graph: GraphStore, label: str, ids: Sequence[str]) -> int:
    """Turn placeholder Service nodes with these ids into `label` nodes (keeping their edges)."""
    if label == "Service" or not ids:
        return 0
    res = graph.query(
        f"UNWIND $ids AS id MATCH (n:Service {{id: id}}) WHERE n.placeholder = true "
        f"SET n:`{label}` REMOVE n:Service RETURN count(n) AS written",
        {"ids": list(ids)},
    )
    return int(res[0]["written"]) if res else 0


def runbooks_by_alias(graph: GraphStore, aliases: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runbook nodes (id, aliases, url), all or those with one of `aliases`."""
    if aliases is None:
        return graph.query("MATCH (r:Runbook) RETURN r.id AS id, r.aliases AS aliases, r.url AS url")
    return graph.query(
        "MATCH (r:Runbook) WHERE any(x IN r.aliases WHERE x IN $aliases) "
        "RETURN r.id AS id, r.aliases AS aliases, r.url AS url",
        {"aliases": list(aliases)},
    )


def pick_runbook(alertname: str, runbook_url: str | None, runbooks: Sequence[Mapping[str, Any]]) -> str | None:
    """The runbook an alert should link to: the one its `runbook_url` names, else the one named
    after the alert (file stem), else one whose URL ends in the alert's slug, else any alias match."""
    name = alertname.lower()
    url = (runbook_url or "").rstrip("/")
    slug = url.rsplit("/", 1)[-1].lower() if url else ""
    if url:
        for r in runbooks:
            if r.get("url") and str(r["url"]).rstrip("/") == url:
                return str(r["id"])
    for wanted in (name, slug):
        if not wanted:
            continue
        for r in runbooks:
            aliases = r.get("aliases") or []
            if aliases and aliases[0] == wanted:
                return str(r["id"])
    for r in runbooks:
        if name in (r.get("aliases") or []):
            return str(r["id"])
    return None
