"""Log evidence: template bursts, first-seen templates and error-rate jumps (core.ingest.signals).

Two adjustments around `log_signals`:

* the baseline is clamped to the data that exists: rates over a 60-minute baseline that holds
  16 minutes of logs would be four times too low and make every template look like a burst;
* with the graph store down, template texts and merge aliases are unavailable, so an empty graph
  stands in and the signals still come (with sample lines instead of template text).

Each signal also records which other entities its text or samples *name* ("failed to call auth:
... no such host"): a caller's error that names a dependency blames that dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.db.store import RelationalStore
from core.db.tables import LogCount
from core.engine.linker import CatalogEntry
from core.ingest.signals import ERROR_RATE, NEW_TEMPLATE, LogSignal, log_signals
from core.ports import GraphStore, StoreStatus

_SEVERE = frozenset({"error", "critical"})
MIN_BASELINE = timedelta(minutes=5)


class OfflineGraph:
    """A graph that knows nothing, for reading log signals while the real graph store is down."""

    backend = "offline"

    def query(self, cypher: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return []

    def ensure_schema(self) -> None:
        return None

    def run_schema(self, statements: Sequence[str]) -> None:
        return None

    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, Any]]) -> int:
        return 0

    def upsert_edges(self, rel_type: str, rows: Sequence[Mapping[str, Any]], **_: Any) -> int:
        return 0

    def count_nodes(self, label: str | None = None) -> int:
        return 0

    def count_edges(self, rel_type: str | None = None) -> int:
        return 0

    def delete_all(self) -> None:
        return None

    def status(self) -> StoreStatus:
        return StoreStatus("graph", "offline", False, "")

    def close(self) -> None:
        return None


@dataclass
class LogScan:
    """Log signals of the candidates, who their errors name, and the data coverage used."""

    signals: list[LogSignal] = field(default_factory=list)
    mentions: dict[int, list[str]] = field(default_factory=dict)  # signal index → entity ids it names
    baseline_used: timedelta = timedelta(0)
    notes: list[str] = field(default_factory=list)

    def of(self, entity_id: str) -> list[tuple[int, LogSignal]]:
        return [(i, s) for i, s in enumerate(self.signals) if s.entity_id == entity_id]


def severe(sig: LogSignal) -> bool:
    """A signal worth blaming on: error-level lines, or a new template at warning or worse."""
    if sig.kind == ERROR_RATE:
        return True
    if sig.level in _SEVERE:
        return True
    return sig.kind == NEW_TEMPLATE and sig.level == "warning"


def data_start(db: RelationalStore, entity_ids: Sequence[str], since: datetime) -> datetime | None:
    """The first stored minute at or after `since` for these entities (an indexed MIN)."""
    if not entity_ids:
        return None
    t = LogCount.__table__  # type: ignore[attr-defined]
    stmt = sa.select(sa.func.min(t.c.minute)).where(t.c.entity_id.in_(list(entity_ids)), t.c.minute >= since)
    with db.session() as s:
        first = s.execute(stmt).scalar()
    if first is None:
        return None
    if isinstance(first, str):  # SQLite returns MIN() of a typed column as text
        first = datetime.fromisoformat(first)
    return first.replace(tzinfo=UTC) if first.tzinfo is None else first.astimezone(UTC)


def _name_patterns(entries: Iterable[CatalogEntry]) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for e in entries:
        if len(e.name) < 3:
            continue
        # a name as a whole word, also inside host names ("auth.boutique.svc", "orders-db:5432")
        out.append((re.compile(rf"(?<![\w-]){re.escape(e.name)}(?![\w-])", re.I), e.id))
    return out


def scan_logs(
    db: RelationalStore,
    graph: GraphStore | None,
    entity_ids: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    baseline: timedelta,
    nameable: Iterable[CatalogEntry] = (),
    max_samples: int = 2,
) -> LogScan:
    """Log signals of `entity_ids` in `[since, until)` (see module docstring)."""
    scan = LogScan()
    ids = sorted(set(entity_ids))
    if not ids:
        return scan
    start = data_start(db, ids, since - baseline)
    if start is None:
        return scan
    base = baseline
    if start > since - baseline:
        base = since - start
        if base < MIN_BASELINE:
            # not enough history before the window: learn "normal" from its first part instead —
            # a third of what there is, at least MIN_BASELINE, but never more than half of it, so
            # a young system (a demo app minutes old) still leaves a window to look at
            span = until - start
            if span <= timedelta(0):
                return scan
            base = max(span / 3, min(MIN_BASELINE, span / 2))
            since = start + base
            scan.notes.append("little log history before the window; its first part served as the log baseline")
    scan.baseline_used = base
    g: GraphStore = graph if graph is not None else OfflineGraph()  # type: ignore[assignment]
    scan.signals = log_signals(db, g, ids, since, until, base, max_samples=max_samples)
    patterns = _name_patterns(nameable)
    for i, sig in enumerate(scan.signals):
        if not severe(sig):
            continue
        text = " ".join([sig.template, *sig.samples])
        named = sorted({eid for rx, eid in patterns if eid != sig.entity_id and rx.search(text)})
        if named:
            scan.mentions[i] = named
    return scan
