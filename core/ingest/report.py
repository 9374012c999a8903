"""What one ingestion call did: accepted, duplicate and rejected items, and what was written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.sources.common import ItemError

__all__ = ["IngestReport", "ItemError"]


@dataclass
class IngestReport:
    """The outcome of an `Ingestor` call.

    `accepted` items were stored (or re-confirmed, for idempotent upserts such as runbooks);
    `duplicates` had been ingested before and changed nothing; every `rejected` item carries its
    position in the input (`index`), the field at fault and why. `warnings` are notes about
    accepted items (an alert that names no entity, a cause that is not in the graph, ...).
    `new_templates` counts log templates seen for the first time, `embedded` the texts sent to
    the embedder, `by_kind` the accepted items per event kind (or per node kind for topology),
    and `written` graph/vector/row counts by what was written.
    """

    accepted: int = 0
    duplicates: int = 0
    rejected: list[ItemError] = field(default_factory=list)
    warnings: list[ItemError] = field(default_factory=list)
    new_templates: int = 0
    embedded: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected

    def reject(self, index: int | None, field_name: str, message: str) -> None:
        self.rejected.append(ItemError(index, field_name, message))

    def warn(self, index: int | None, field_name: str, message: str) -> None:
        self.warnings.append(ItemError(index, field_name, message))

    def merge(self, other: IngestReport) -> IngestReport:
        """Add `other`'s numbers and problems to this report (returns self)."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.warnings.extend(other.warnings)
        self.new_templates += other.new_templates
        self.embedded += other.embedded
        self.by_kind.update(other.by_kind)
        self.written.update(other.written)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (HTTP intake replies, `--json` output)."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"index": e.index, "field": e.field, "message": e.message} for e in self.rejected],
            "warnings": [{"index": e.index, "field": e.field, "message": e.message} for e in self.warnings],
            "new_templates": self.new_templates,
            "embedded": self.embedded,
            "by_kind": dict(self.by_kind),
            "written": dict(self.written),
        }
