"""Sherlog's data model: the canonical Event envelope, graph entities and
relations, incidents, evidence and the Answer the engine produces.

Graph properties are scalars or lists of scalars only (FalkorDB has no
map-valued properties); free-form attributes travel as JSON strings.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import InvalidEvent

SCHEMA_VERSION = 1


class EventKind(StrEnum):
    LOG = "log"
    METRIC = "metric"
    ALERT = "alert"
    K8S_EVENT = "k8s_event"
    CHANGE = "change"
    INCIDENT_NOTE = "incident_note"


class Severity(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @classmethod
    def parse(cls, raw: str | int | None) -> Severity:
        """Map the many spellings sources use (WARN, err, sev2, syslog 0-7, ...) onto ours."""
        if raw is None:
            return cls.INFO
        if isinstance(raw, int) and not isinstance(raw, bool):
            # syslog numeric severity: 0 emerg .. 7 debug
            return _SYSLOG_SEVERITY[raw] if 0 <= raw <= 7 else cls.INFO
        s = str(raw).strip().lower()
        return _SEVERITY_ALIASES.get(s, cls.INFO)


_SYSLOG_SEVERITY: tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.CRITICAL,
    Severity.CRITICAL,
    Severity.ERROR,
    Severity.WARNING,
    Severity.INFO,
    Severity.INFO,
    Severity.DEBUG,
)

_SEVERITY_ALIASES: dict[str, Severity] = {
    **{k: Severity.DEBUG for k in ("debug", "trace", "dbg", "verbose", "7")},
    **{k: Severity.INFO for k in ("info", "information", "notice", "informational", "ok", "6", "5")},
    **{k: Severity.WARNING for k in ("warn", "warning", "sev4", "sev3", "minor", "4")},
    **{k: Severity.ERROR for k in ("error", "err", "fail", "failure", "sev2", "major", "high", "3")},
    **{
        k: Severity.CRITICAL
        for k in ("critical", "crit", "fatal", "panic", "emerg", "emergency", "alert", "sev1", "page", "0", "1", "2")
    },
}


class EntityKind(StrEnum):
    SERVICE = "Service"
    POD = "Pod"
    DEPLOYMENT = "Deployment"
    NODE = "Node"
    HOST = "Host"
    DATABASE = "Database"
    QUEUE = "Queue"
    CACHE = "Cache"
    NAMESPACE = "Namespace"
    CLUSTER = "Cluster"
    INCIDENT = "Incident"
    ALERT = "Alert"
    LOG_TEMPLATE = "LogTemplate"
    METRIC_ANOMALY = "MetricAnomaly"
    CHANGE = "Change"
    RUNBOOK = "Runbook"
    RUNBOOK_CHUNK = "RunbookChunk"


class RelationKind(StrEnum):
    CALLS = "CALLS"
    DEPENDS_ON = "DEPENDS_ON"
    RUNS_ON = "RUNS_ON"
    PART_OF = "PART_OF"
    ROUTES_TO = "ROUTES_TO"
    AFFECTS = "AFFECTS"
    OBSERVED_ON = "OBSERVED_ON"
    HAS_LOG = "HAS_LOG"
    FIRED_ON = "FIRED_ON"
    CHANGED = "CHANGED"
    RELATED_RUNBOOK = "RELATED_RUNBOOK"
    SIMILAR_TO = "SIMILAR_TO"
    CAUSED_BY = "CAUSED_BY"


_ID_PART = re.compile(r"^[A-Za-z0-9_.:\-]+$")


def entity_id(kind: EntityKind | str, *parts: str) -> str:
    """Stable id, e.g. ``entity_id(SERVICE, "prod", "payments", "checkout")`` →
    ``service:prod/payments/checkout``. Empty parts are dropped."""
    prefix = str(kind.value if isinstance(kind, EntityKind) else kind).lower()
    return f"{prefix}:" + "/".join(p for p in parts if p)


class EntityRef(BaseModel):
    """Where an event happened. Any subset may be known."""

    model_config = ConfigDict(extra="forbid")

    cluster: str | None = None
    namespace: str | None = None
    service: str | None = None
    pod: str | None = None
    node: str | None = None
    host: str | None = None

    def primary_id(self) -> str | None:
        """The most specific stable entity id this reference names."""
        if self.service:
            return entity_id(EntityKind.SERVICE, self.cluster or "", self.namespace or "", self.service)
        if self.pod:
            return entity_id(EntityKind.POD, self.cluster or "", self.namespace or "", self.pod)
        if self.node:
            return entity_id(EntityKind.NODE, self.cluster or "", self.node)
        if self.host:
            return entity_id(EntityKind.HOST, self.host)
        return None


class Event(BaseModel):
    """The canonical envelope every source is turned into before anything is stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tenant: str = "default"
    source: str = Field(min_length=1, max_length=200)
    kind: EventKind
    ts: datetime
    entity: EntityRef = Field(default_factory=EntityRef)
    severity: Severity = Severity.INFO
    body: str = Field("", max_length=1_000_000)
    attributes: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = Field(None, max_length=128)
    span_id: str | None = Field(None, max_length=64)
    ingest_id: str | None = Field(None, max_length=256)
    schema_version: int = SCHEMA_VERSION

    @field_validator("ts")
    @classmethod
    def _aware_utc(cls, v: datetime) -> datetime:
        # naive timestamps are taken as UTC; everything is stored in UTC
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, v: Any) -> Any:
        return Severity.parse(v) if not isinstance(v, Severity) else v

    @model_validator(mode="after")
    def _schema(self) -> Event:
        if self.schema_version > SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is newer than this Sherlog understands ({SCHEMA_VERSION})"
            )
        return self

    def dedup_key(self) -> str:
        """`ingest_id` when the source gave one, else a hash of the content."""
        if self.ingest_id:
            return f"id:{self.ingest_id}"
        payload = json.dumps(
            [
                self.tenant,
                self.source,
                self.kind.value,
                self.ts.isoformat(),
                self.entity.model_dump(),
                self.body,
                self.attributes,
            ],
            sort_keys=True,
            default=str,
        )
        return "h:" + hashlib.sha256(payload.encode()).hexdigest()[:32]

    @classmethod
    def parse(cls, data: Any) -> Event:
        """Validate untrusted input; raise InvalidEvent naming the first bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(event)"
            raise InvalidEvent(
                f"invalid event: field '{loc}': {err['msg']}",
                field=loc,
                hint="see docs/ARCHITECTURE.md 'Event envelope' for the expected fields",
            ) from e


def explain_validation(e: ValidationError) -> list[str]:
    """Every problem in a ValidationError as 'field: message' lines."""
    return [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()]


class Entity(BaseModel):
    """A graph node. `props` values must be scalars or lists of scalars."""

    id: str
    kind: EntityKind
    name: str
    props: dict[str, str | int | float | bool | list[str] | list[float] | None] = Field(default_factory=dict)


class Relation(BaseModel):
    """A directed graph edge between two entity ids."""

    src: str
    dst: str
    kind: RelationKind
    props: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class EvidenceKind(StrEnum):
    LOG = "log"
    METRIC = "metric"
    ALERT = "alert"
    CHANGE = "change"
    TOPOLOGY = "topology"
    RUNBOOK = "runbook"
    INCIDENT = "incident"
    K8S_EVENT = "k8s_event"


class Evidence(BaseModel):
    """One citable fact. Every claim in an Answer cites evidence ids."""

    id: str
    kind: EvidenceKind
    ts: datetime | None = None
    entity: str | None = None
    text: str
    link: str | None = None
    score: float = 0.0
    attributes: dict[str, Any] = Field(default_factory=dict)


class RootCause(BaseModel):
    """A ranked candidate cause."""

    entity: str
    confidence: float = Field(ge=0.0, le=1.0)
    why: str
    evidence_ids: list[str] = Field(default_factory=list)
    fault_kind: str | None = None
    onset: datetime | None = None
    score: float = 0.0


class RunbookRef(BaseModel):
    """A runbook the answer recommends."""

    id: str
    title: str
    url: str | None = None
    excerpt: str = ""
    score: float = 0.0


class SimilarIncident(BaseModel):
    """A past incident resembling this one."""

    id: str
    title: str
    resolution: str = ""
    cause: str | None = None
    score: float = 0.0


class Cost(BaseModel):
    """What the answer cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    llm_model: str | None = None


class Question(BaseModel):
    """A question as asked in chat or on the CLI."""

    text: str
    channel: str | None = None
    thread: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Answer(BaseModel):
    """Sherlog's reply: every claim cites evidence ids present in `evidence`."""

    question: str
    intent: str = "why"
    summary: str
    root_causes: list[RootCause] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    causal_path: list[str] = Field(default_factory=list)
    runbooks: list[RunbookRef] = Field(default_factory=list)
    similar_incidents: list[SimilarIncident] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)
    narrated_by: str = "template"

    def evidence_ids(self) -> set[str]:
        return {e.id for e in self.evidence}
