"""Evidence ids: stable hashes of (kind, entity, key facts), e.g. ``ev-metric-3f2a9c1b``.

The same data always gives the same ids, so an answer can be re-asked, compared and cited
across runs, and a narration that cites an id the evidence list does not hold is caught.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from core.model import Evidence, EvidenceKind

_SHORT: dict[EvidenceKind, str] = {
    EvidenceKind.LOG: "log",
    EvidenceKind.METRIC: "metric",
    EvidenceKind.ALERT: "alert",
    EvidenceKind.CHANGE: "change",
    EvidenceKind.TOPOLOGY: "topo",
    EvidenceKind.RUNBOOK: "runbook",
    EvidenceKind.INCIDENT: "incident",
    EvidenceKind.K8S_EVENT: "k8s",
}

#: What a cited evidence id looks like in text: ``[ev-metric-3f2a9c1b]`` or a bare ``ev-log-0a1b2c3d``.
EVIDENCE_ID = re.compile(r"\bev-[a-z0-9]+-[0-9a-f]{6,16}\b")


def _fact(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def evidence_id(kind: EvidenceKind, entity: str | None, *facts: Any) -> str:
    """`ev-<kind>-<8 hex>` from the kind, the entity and the facts that identify this piece of evidence."""
    payload = json.dumps([kind.value, entity, [_fact(f) for f in facts]], sort_keys=True, default=str)
    return f"ev-{_SHORT[kind]}-{hashlib.sha256(payload.encode()).hexdigest()[:8]}"


def make_evidence(
    kind: EvidenceKind,
    entity: str | None,
    text: str,
    *,
    key: tuple[Any, ...],
    ts: datetime | None = None,
    link: str | None = None,
    score: float = 0.0,
    attributes: dict[str, Any] | None = None,
) -> Evidence:
    """An Evidence whose id hashes `kind`, `entity` and `key`."""
    return Evidence(
        id=evidence_id(kind, entity, *key),
        kind=kind,
        ts=ts,
        entity=entity,
        text=text,
        link=link,
        score=round(float(score), 6),
        attributes=attributes or {},
    )


def cited_ids(text: str) -> list[str]:
    """Evidence ids cited in `text`, in order of first appearance."""
    return list(dict.fromkeys(EVIDENCE_ID.findall(text)))


class EvidenceBook:
    """The evidence of one answer, by id, in the order it was added (duplicates keep the first)."""

    def __init__(self) -> None:
        self._items: dict[str, Evidence] = {}

    def add(self, ev: Evidence) -> str:
        self._items.setdefault(ev.id, ev)
        return ev.id

    def get(self, ev_id: str) -> Evidence | None:
        return self._items.get(ev_id)

    def __contains__(self, ev_id: object) -> bool:
        return ev_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[Evidence]:
        return list(self._items.values())

    def select(self, ids: list[str]) -> list[Evidence]:
        """The evidence with these ids, in the given order (unknown ids skipped)."""
        return [self._items[i] for i in dict.fromkeys(ids) if i in self._items]
