"""Past incidents → relational Incident rows (with their milestones), graph Incident nodes with
AFFECTS / CAUSED_BY edges, and one `incident` vector document each (similar-incident search).

The input shape is a resolved incident as an incident tool (or chaos.history) exports it; see
`PastIncidentIn`. Idempotent by key: an existing incident is brought up to date (status moves
forward only, fields are set again), and its document is re-embedded only when its text changed
(`content_hash` on the graph node).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.db.store import RelationalStore
from core.errors import InputError
from core.ingest.entities import EntityRegistry
from core.ingest.records import Ref, place, with_defaults
from core.ingest.report import IngestReport
from core.knowledge.schema import WORKLOAD_LABELS, DocKind, node_id, workload_id
from core.model import EntityKind, IncidentStatus, RelationKind
from core.ports import VectorDoc

if TYPE_CHECKING:
    from core.wiring import Stack

_RESERVED_KEY = re.compile(r"^INC-\d+$", re.IGNORECASE)
_SEV = re.compile(r"^(?:sev)?\s*([1-4])$", re.IGNORECASE)


class PastIncidentIn(BaseModel):
    """One past incident. `id` is its key in the source system; `root_cause` names the entity
    that caused it (a service/database/node name or a graph id); `cause` says what happened."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(None, min_length=1, max_length=58)
    title: str = Field(min_length=1, max_length=10_000)
    severity: int = 3
    service: str | None = None
    root_cause: str | None = None
    fault_kind: str | None = Field(None, max_length=64)
    cause: str = ""
    resolution: str = ""
    symptoms: str = Field("", description="symptom signature: what was observed (alerts, errors)")
    declared_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    commander: str | None = None
    alerts: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    related_change: str | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _sev(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = _SEV.match(v.strip())
            if not m:
                raise ValueError(f"severity must be 1-4 or sev1-sev4, got {v!r}")
            return int(m.group(1))
        return v

    @field_validator("severity")
    @classmethod
    def _range(cls, v: int) -> int:
        if not 1 <= v <= 4:
            raise ValueError(f"severity must be 1 (worst) to 4, got {v}")
        return v

    @field_validator("declared_at", "acknowledged_at", "mitigated_at", "resolved_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        from datetime import UTC

        if v is not None and v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        return v

    def key(self) -> str:
        """The relational key: the source id, prefixed when it has Sherlog's reserved INC-<n> shape."""
        if self.id:
            return f"hist-{self.id}" if _RESERVED_KEY.match(self.id) else self.id
        digest = hashlib.sha256(f"{self.title}\x00{self.declared_at.isoformat()}".encode()).hexdigest()[:12]
        return f"hist-{digest}"

    def signature(self) -> str:
        parts = [self.symptoms]
        if self.alerts:
            parts.append("alerts: " + ", ".join(self.alerts))
        if self.service:
            parts.append(f"noticed on {self.service}")
        if self.tags:
            parts.append("tags: " + ", ".join(self.tags))
        return "; ".join(p for p in parts if p)

    def doc_text(self) -> str:
        """What similar-incident search embeds: title, cause, fault kind, resolution, symptom signature."""
        lines = [self.title, f"cause: {self.cause}" if self.cause else ""]
        if self.fault_kind:
            lines.append(f"fault: {self.fault_kind}")
        if self.root_cause:
            lines.append(f"root cause: {self.root_cause}")
        lines.append(f"resolution: {self.resolution}" if self.resolution else "")
        lines.append(self.signature())
        return "\n".join(line for line in lines if line)


def _as_mapping(item: Any) -> Any:
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    return item


def _field_of(e: ValidationError) -> tuple[str, str]:
    err = e.errors()[0]
    return ".".join(str(p) for p in err["loc"]) or "(incident)", str(err["msg"])


def _resolve_entity(stack: Stack, name: str, defaults: Ref | None) -> tuple[str, str] | None:
    """(id, label) of the graph entity `name` means: an id as given, the id the defaults imply,
    or the only workload/node carrying that name."""
    graph = stack.graph
    labels = (*WORKLOAD_LABELS, EntityKind.NODE.value, EntityKind.POD.value, EntityKind.HOST.value)
    candidates: list[str] = []
    if ":" in name:
        candidates.append(name)
    else:
        cluster = (defaults[0] if defaults else None) or ""
        namespace = (defaults[1] if defaults else None) or ""
        candidates += [workload_id(name, cluster, namespace), node_id(name, cluster)]
    for label in labels:
        rows = graph.query(f"UNWIND $ids AS id MATCH (n:`{label}` {{id: id}}) RETURN n.id AS id", {"ids": candidates})
        if rows:
            return str(rows[0]["id"]), label
    if ":" in name:
        return None
    found: list[tuple[str, str]] = []
    for label in labels:
        rows = graph.query(f"MATCH (n:`{label}`) WHERE n.name = $name RETURN n.id AS id LIMIT 2", {"name": name})
        found += [(str(r["id"]), label) for r in rows]
    return found[0] if len(found) == 1 else None


def ingest_incident_records(
    stack: Stack,
    registry: EntityRegistry,
    items: Iterable[Mapping[str, Any] | Any],
    *,
    tenant: str,
    defaults: Ref | None,
) -> IngestReport:
    """Write each incident to the relational store, the graph and the vector index."""
    report = IngestReport()
    db, graph = stack.db, stack.graph
    todo: list[tuple[int, PastIncidentIn]] = []
    for i, item in enumerate(items):
        try:
            todo.append((i, PastIncidentIn.model_validate(_as_mapping(item))))
        except ValidationError as e:
            where, msg = _field_of(e)
            report.reject(i, where, msg)
    if not todo:
        return report
    ids = [f"incident:{inc.key()}" for _, inc in todo]
    hashes = {
        str(r["id"]): r["h"]
        for r in graph.query(
            "UNWIND $ids AS id MATCH (n:Incident {id: id}) RETURN n.id AS id, n.content_hash AS h", {"ids": ids}
        )
    }
    docs: list[tuple[str, str]] = []
    nodes: list[dict[str, Any]] = []
    edges: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i, inc in todo:
        key = inc.key()
        try:
            existed = _write_row(db, inc, key)
        except InputError as e:
            report.reject(i, "(incident)", e.message)
            continue
        nid = f"incident:{key}"
        affected = caused = None
        if inc.service:
            p = place(with_defaults((None, None, inc.service, None, None, None), defaults))
            registry.ensure([p])
            if p.primary is not None:
                affected = p.primary
                edges.setdefault((RelationKind.AFFECTS.value, registry.label_of(p.primary) or "Service"), []).append(
                    {"src": nid, "dst": p.primary}
                )
        if inc.root_cause:
            hit = _resolve_entity(stack, inc.root_cause, defaults)
            if hit is None:
                report.warn(i, "root_cause", f"'{inc.root_cause}' is not an entity in the graph; no CAUSED_BY edge")
            else:
                caused = hit[0]
                edges.setdefault((RelationKind.CAUSED_BY.value, hit[1]), []).append({"src": nid, "dst": hit[0]})
        text = inc.doc_text()
        h = hashlib.sha256(text.encode()).hexdigest()[:32]
        nodes.append(
            {
                "id": nid,
                "name": inc.title[:200],
                "tenant": tenant,
                "key": key,
                "title": inc.title,
                "severity": inc.severity,
                "status": IncidentStatus.RESOLVED.value if inc.resolved_at else IncidentStatus.OPEN.value,
                "cause": inc.cause,
                "fault_kind": inc.fault_kind,
                "resolution": inc.resolution,
                "root_cause": caused or inc.root_cause,
                "service": affected or inc.service,
                "opened_at": inc.declared_at.timestamp(),
                "resolved_at": inc.resolved_at.timestamp() if inc.resolved_at else None,
                "alerts": list(inc.alerts),
                "content_hash": h,
            }
        )
        if hashes.get(nid) != h:
            docs.append((nid, text))
        report.accepted += 1
        report.by_kind["incident"] += 1
        if existed and hashes.get(nid) == h:
            report.duplicates += 1
    if docs:
        vectors = stack.embedder.embed([t for _, t in docs])
        report.embedded += len(docs)
        ents = {n["id"]: [e for e in (n["service"], n["root_cause"]) if e and ":" in str(e)] for n in nodes}
        report.written["vector_docs"] += stack.vectors.upsert(
            [
                VectorDoc(
                    id=nid,
                    text=text,
                    vector=vectors[row].tolist(),
                    kind=DocKind.INCIDENT.value,
                    entity_ids=ents.get(nid, []),
                    metadata={"title": next(n["title"] for n in nodes if n["id"] == nid)},
                )
                for row, (nid, text) in enumerate(docs)
            ]
        )
    report.written["incident_nodes"] += graph.upsert_nodes(EntityKind.INCIDENT.value, nodes)
    for (rel, label), rows in edges.items():
        report.written[f"{rel.lower()}_edges"] += graph.upsert_edges(
            rel, rows, src_label=EntityKind.INCIDENT.value, dst_label=label
        )
    return report


def _write_row(db: RelationalStore, inc: PastIncidentIn, key: str) -> bool:
    """Create (or bring up to date) the relational incident; True when it already existed."""
    existing = db.find_incident(key)
    if existing is None:
        db.create_incident(
            inc.title, severity=inc.severity, service=inc.service, lead=inc.commander, key=key, at=inc.declared_at
        )
    steps = (
        (IncidentStatus.ACKNOWLEDGED, inc.acknowledged_at),
        (IncidentStatus.MITIGATED, inc.mitigated_at),
        (IncidentStatus.RESOLVED, inc.resolved_at),
    )
    current = IncidentStatus(existing.status) if existing is not None else IncidentStatus.OPEN
    order = [IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED]
    for status, at in steps:
        if at is not None and order.index(status) > order.index(current):
            db.set_incident_status(key, status, at=at, text=f"{status.value} (imported)")
            current = status
    db.update_incident(
        key,
        title=inc.title,
        severity=inc.severity,
        summary=inc.cause or None,
        root_cause=inc.root_cause,
        fault_kind=inc.fault_kind,
        resolution=inc.resolution or None,
        change_id=inc.related_change,
    )
    return existing is not None
