"""Alerts, changes and Kubernetes events of the candidates, from the relational event records.

Read from `event_records` (indexed by kind and time, and by entity and time), not from the graph,
so they are there even when the graph store is not. Alerts are folded per fingerprint into their
state at the end of the window; changes reach back `change_horizon` before the window because a
deploy an hour before the symptoms is a prime suspect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.db.store import RelationalStore
from core.db.tables import EventRecord

_SEVERITY_RANK = {"critical": 3, "page": 3, "error": 2, "high": 2, "warning": 1, "warn": 1}


@dataclass(frozen=True)
class AlertInfo:
    """One alert's state over the window."""

    fingerprint: str
    alertname: str
    entity: str | None
    severity: str
    status: str  # at the end of the window
    starts_at: datetime
    ends_at: datetime | None
    summary: str
    runbook_url: str | None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK.get(self.severity.lower(), 0)


@dataclass(frozen=True)
class ChangeInfo:
    """A deploy, config change or similar on an entity."""

    key: str
    entity: str | None
    ts: datetime
    change_type: str
    version: str | None
    previous_version: str | None
    author: str | None
    description: str


@dataclass(frozen=True)
class K8sInfo:
    """A Kubernetes event (warnings matter: OOMKilled, BackOff, FailedMount, Unhealthy, DiskPressure)."""

    key: str
    entity: str | None
    ts: datetime
    reason: str
    type: str
    message: str
    object: str
    count: int = 1


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _records(
    db: RelationalStore,
    kind: str,
    since: datetime,
    until: datetime,
    entity_ids: Sequence[str] | None,
    limit: int,
) -> list[tuple[str, datetime, str | None, str, str, dict[str, Any]]]:
    t = EventRecord.__table__  # type: ignore[attr-defined]
    stmt = sa.select(t.c.key, t.c.ts, t.c.entity_id, t.c.severity, t.c.body, t.c.attributes).where(
        t.c.kind == kind, t.c.ts >= since, t.c.ts < until
    )
    if entity_ids is not None:
        stmt = stmt.where(t.c.entity_id.in_(sorted(set(entity_ids))))
    stmt = stmt.order_by(t.c.ts, t.c.id).limit(limit)
    with db.session() as s:
        return [(k, _aware(ts), e, sev, body, attrs or {}) for k, ts, e, sev, body, attrs in s.execute(stmt)]


def _parse_ts(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.year < 1971:  # Go's zero time: "no end"
        return None
    return _aware(ts)


def alerts_in_window(
    db: RelationalStore,
    *,
    since: datetime,
    until: datetime,
    entity_ids: Sequence[str] | None,
    lookback: timedelta = timedelta(hours=6),
    limit: int = 5000,
) -> list[AlertInfo]:
    """Alerts active at some point in `[since, until)`, one per fingerprint, most severe first."""
    latest: dict[str, tuple[datetime, str | None, str, dict[str, Any]]] = {}
    first_seen: dict[str, datetime] = {}
    for _key, ts, entity, sev, _body, attrs in _records(db, "alert", since - lookback, until, entity_ids, limit):
        raw = attrs.get("labels")
        labels: dict[str, Any] = raw if isinstance(raw, dict) else {}
        fp = str(attrs.get("fingerprint") or attrs.get("alertname") or labels.get("alertname") or _key)
        fp = f"{fp}@{entity}"
        first_seen.setdefault(fp, ts)
        latest[fp] = (ts, entity, sev, attrs)
    out: list[AlertInfo] = []
    for fp, (ts, entity, sev, attrs) in latest.items():
        labels = (
            {str(k): str(v) for k, v in (attrs.get("labels") or {}).items()}
            if isinstance(attrs.get("labels"), dict)
            else {}
        )
        raw_ann = attrs.get("annotations")
        ann: dict[str, Any] = raw_ann if isinstance(raw_ann, dict) else {}
        status = str(attrs.get("status") or "firing")
        starts = _parse_ts(attrs.get("startsAt") or attrs.get("starts_at")) or first_seen[fp]
        ends = _parse_ts(attrs.get("endsAt") or attrs.get("ends_at")) if status == "resolved" else None
        if status == "resolved" and ends is None:
            ends = ts
        if starts >= until or (ends is not None and ends < since):
            continue
        out.append(
            AlertInfo(
                fingerprint=fp,
                alertname=str(attrs.get("alertname") or labels.get("alertname") or "alert"),
                entity=entity,
                severity=str(labels.get("severity") or sev or "warning"),
                status=status,
                starts_at=starts,
                ends_at=ends,
                summary=str(ann.get("summary") or ann.get("description") or attrs.get("summary") or ""),
                runbook_url=(str(ann.get("runbook_url")) if ann.get("runbook_url") else None),
                labels=labels,
            )
        )
    out.sort(key=lambda a: (-a.rank, a.status != "firing", a.starts_at, a.alertname, a.entity or ""))
    return out


def changes_in_window(
    db: RelationalStore,
    *,
    since: datetime,
    until: datetime,
    entity_ids: Sequence[str] | None,
    limit: int = 500,
) -> list[ChangeInfo]:
    """Changes in `[since, until)`, oldest first."""
    out = []
    for key, ts, entity, _sev, body, attrs in _records(db, "change", since, until, entity_ids, limit):
        out.append(
            ChangeInfo(
                key=key,
                entity=entity,
                ts=ts,
                change_type=str(attrs.get("change_type") or "change"),
                version=str(attrs["version"]) if attrs.get("version") else None,
                previous_version=str(attrs["previous_version"]) if attrs.get("previous_version") else None,
                author=str(attrs["author"]) if attrs.get("author") else None,
                description=str(attrs.get("description") or body or "change"),
            )
        )
    return out


def k8s_in_window(
    db: RelationalStore,
    *,
    since: datetime,
    until: datetime,
    entity_ids: Sequence[str] | None,
    limit: int = 2000,
) -> list[K8sInfo]:
    """Kubernetes events in `[since, until)`, oldest first."""
    out = []
    for key, ts, entity, _sev, body, attrs in _records(db, "k8s_event", since, until, entity_ids, limit):
        out.append(
            K8sInfo(
                key=key,
                entity=entity,
                ts=ts,
                reason=str(attrs.get("reason") or ""),
                type=str(attrs.get("type") or ("Warning" if _sev in ("warning", "error", "critical") else "Normal")),
                message=str(attrs.get("message") or body),
                object=str(attrs.get("object") or ""),
                count=int(attrs.get("count") or 1) if str(attrs.get("count") or "1").isdigit() else 1,
            )
        )
    return out
