"""Log signals over the stored per-minute counts: template bursts, first-seen templates and
error-rate jumps, each with an onset minute, counts and sample lines.

Read-only and store-agnostic (it takes the RelationalStore and GraphStore), so the engine's
evidence gathering and the tests use the same function. Everything is computed from
`log_counts` (indexed by entity and minute); raw `log_lines` are read only for the few samples.

The window is `[since, until)`, the baseline the `baseline` long stretch just before `since`.
For a template with `b` lines in the baseline (B minutes) and `k` in the window (W minutes),
the expected window count is `λ = (b + 0.5) · W / B` (the 0.5 keeps a never-seen template from
dividing by zero) and the significance is the Poisson tail `p = P(X ≥ k | λ)`. A burst needs
`k ≥ min_count`, a rate ratio `≥ min_ratio` and `p ≤ max_p`. The onset is the first window
minute whose count exceeds `μ + 3√μ` for the per-minute baseline `μ` (else the first minute
above `μ`). Error-rate jumps apply the same test to the lines logged at error/critical level.
Templates merged by the miner after they were stored count under the template they merged into.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from core.db.store import RelationalStore
from core.db.tables import LogCount, LogLine
from core.errors import InputError
from core.ingest.graph_writes import template_aliases
from core.ingest.writer import level_rank
from core.ports import GraphStore

BURST = "burst"
NEW_TEMPLATE = "new_template"
ERROR_RATE = "error_rate"

_ERROR_LEVELS = frozenset({"error", "critical"})
_PRIOR = 0.5
_MAX_SCORE = 50.0


@dataclass(frozen=True)
class LogSignal:
    """One piece of log evidence about one entity.

    `count`/`baseline_count` are lines in the window/baseline, `rate`/`baseline_rate` lines per
    minute, `ratio` their quotient, `p_value` the Poisson tail of the window count under the
    baseline rate and `score` its `-log10` (capped at 50). For `error_rate` signals the counts
    are error lines and `template_id` is None.
    """

    kind: str
    entity_id: str
    template_id: str | None
    template: str
    level: str
    onset: datetime
    count: int
    baseline_count: int
    rate: float
    baseline_rate: float
    ratio: float
    p_value: float
    score: float
    samples: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """A stable evidence id."""
        what = self.template_id or "errors"
        return f"log:{self.kind}:{self.entity_id}:{what}:{int(self.onset.timestamp())}"


def poisson_tail(k: int, lam: float) -> float:
    """P(X ≥ k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    from scipy.special import gammainc  # lazy: keeps `import core.ingest` light

    # P(X >= k) for Poisson(lam) is the regularised lower incomplete gamma P(k, lam)
    return float(gammainc(k, lam))


def _score(p: float) -> float:
    return _MAX_SCORE if p <= 0 else min(_MAX_SCORE, -math.log10(p))


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InputError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _onset(per_minute: dict[datetime, int], mu: float, since: datetime) -> datetime:
    threshold = mu + 3.0 * math.sqrt(mu)
    minutes = sorted(m for m in per_minute if m >= since)
    for m in minutes:
        if per_minute[m] > threshold and per_minute[m] >= 1:
            return m
    for m in minutes:
        if per_minute[m] > mu:
            return m
    return minutes[0] if minutes else since


@dataclass
class _Series:
    level: str = "debug"
    window: dict[datetime, int] = field(default_factory=lambda: defaultdict(int))
    baseline: int = 0
    members: set[str] = field(default_factory=set)


def log_signals(
    db: RelationalStore,
    graph: GraphStore,
    entity_ids: Iterable[str],
    since: datetime,
    until: datetime,
    baseline: timedelta = timedelta(hours=1),
    *,
    max_samples: int = 5,
    min_count: int = 3,
    min_ratio: float = 3.0,
    max_p: float = 1e-3,
) -> list[LogSignal]:
    """Bursts, first-seen templates and error-rate jumps of `entity_ids` in `[since, until)`,
    strongest first."""
    since, until = _aware(since, "since"), _aware(until, "until")
    if until <= since:
        raise InputError(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")
    if baseline <= timedelta(0):
        raise InputError(f"baseline must be a positive duration, got {baseline}")
    ids = sorted(set(entity_ids))
    if not ids:
        return []
    # counts are per minute: a window starting mid-minute includes that whole minute
    window_start = since.replace(second=0, microsecond=0)
    base_start = window_start - baseline
    w_min = max((until - window_start).total_seconds() / 60.0, 1.0)
    b_min = max(baseline.total_seconds() / 60.0, 1.0)
    aliases = {k.removeprefix("tpl:"): v.removeprefix("tpl:") for k, v in template_aliases(graph).items()}

    table = LogCount.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table.c.minute, table.c.entity_id, table.c.template_id, table.c.level, table.c.count).where(
        table.c.entity_id.in_(ids), table.c.minute >= base_start, table.c.minute < until
    )
    series: dict[tuple[str, str], _Series] = {}
    errors: dict[str, _Series] = {}
    with db.session() as s:
        rows = s.execute(stmt).all()
    for minute, entity, tid, level, count in rows:
        minute = minute if minute.tzinfo else minute.replace(tzinfo=UTC)
        root = aliases.get(tid, tid)
        ser = series.setdefault((entity, root), _Series())
        ser.members.add(tid)
        err = errors.setdefault(entity, _Series(level="error"))
        is_err = level in _ERROR_LEVELS
        if level_rank(level) > level_rank(ser.level):
            ser.level = level
        if minute >= window_start:
            ser.window[minute] += count
            if is_err:
                err.window[minute] += count
                err.members.add(tid)
        else:
            ser.baseline += count
            if is_err:
                err.baseline += count
    if not series:
        return []
    first = _first_seen(db, {key: ser for key, ser in series.items() if ser.window})
    texts = _template_texts(graph, {root for _, root in series})

    signals: list[LogSignal] = []
    for (entity, root), ser in series.items():
        k = sum(ser.window.values())
        if k < min_count and not (k and first.get((entity, root), base_start) >= window_start):
            continue
        lam = (ser.baseline + _PRIOR) * w_min / b_min
        p = poisson_tail(k, lam)
        rate, b_rate = k / w_min, ser.baseline / b_min
        ratio = rate / max(b_rate, _PRIOR / b_min)
        onset_new = first.get((entity, root))
        if onset_new is not None and onset_new >= window_start:
            kind, onset = NEW_TEMPLATE, onset_new
        elif k >= min_count and ratio >= min_ratio and p <= max_p:
            kind, onset = BURST, _onset(ser.window, lam / w_min, window_start)
        else:
            continue
        signals.append(
            LogSignal(
                kind=kind,
                entity_id=entity,
                template_id=root,
                template=texts.get(root, ""),
                level=ser.level,
                onset=onset,
                count=k,
                baseline_count=ser.baseline,
                rate=rate,
                baseline_rate=b_rate,
                ratio=ratio,
                p_value=p,
                score=_score(p),
                samples=_samples(db, entity, sorted(ser.members), onset, until, max_samples),
            )
        )
    for entity, err in errors.items():
        k = sum(err.window.values())
        lam = (err.baseline + _PRIOR) * w_min / b_min
        p = poisson_tail(k, lam)
        rate, b_rate = k / w_min, err.baseline / b_min
        ratio = rate / max(b_rate, _PRIOR / b_min)
        if k < min_count or ratio < min_ratio or p > max_p:
            continue
        onset = _onset(err.window, lam / w_min, window_start)
        signals.append(
            LogSignal(
                kind=ERROR_RATE,
                entity_id=entity,
                template_id=None,
                template=f"error-level lines: {rate:.1f}/min vs {b_rate:.2f}/min before",
                level="error",
                onset=onset,
                count=k,
                baseline_count=err.baseline,
                rate=rate,
                baseline_rate=b_rate,
                ratio=ratio,
                p_value=p,
                score=_score(p),
                samples=_samples(db, entity, sorted(err.members), onset, until, max_samples),
            )
        )
    signals.sort(key=lambda sig: (-sig.score, sig.onset, sig.entity_id, sig.template_id or ""))
    return signals


def _first_seen(db: RelationalStore, keyed: dict[tuple[str, str], _Series]) -> dict[tuple[str, str], datetime]:
    """Earliest stored minute of each (entity, template) that has lines in the window (all history)."""
    if not keyed:
        return {}
    table = LogCount.__table__  # type: ignore[attr-defined]
    entities = sorted({e for e, _ in keyed})
    member_to_root = {(e, m): root for (e, root), ser in keyed.items() for m in ser.members}
    members = sorted({m for _, m in member_to_root})
    stmt = (
        sa.select(table.c.entity_id, table.c.template_id, sa.func.min(table.c.minute))
        .where(table.c.entity_id.in_(entities), table.c.template_id.in_(members))
        .group_by(table.c.entity_id, table.c.template_id)
    )
    out: dict[tuple[str, str], datetime] = {}
    with db.session() as s:
        rows = s.execute(stmt).all()
    for entity, tid, first in rows:
        root = member_to_root.get((entity, tid))
        if root is None or first is None:
            continue
        if isinstance(first, str):  # SQLite returns MIN() of a typed column as text
            first = datetime.fromisoformat(first)
        first = first.replace(tzinfo=UTC) if first.tzinfo is None else first.astimezone(UTC)
        key = (entity, root)
        if key not in out or first < out[key]:
            out[key] = first
    return out


def _template_texts(graph: GraphStore, roots: Iterable[str]) -> dict[str, str]:
    ids = [f"tpl:{r}" for r in roots]
    if not ids:
        return {}
    rows = graph.query(
        "UNWIND $ids AS id MATCH (t:LogTemplate {id: id}) RETURN t.id AS id, t.template AS template", {"ids": ids}
    )
    return {str(r["id"]).removeprefix("tpl:"): str(r["template"] or "") for r in rows}


def _samples(
    db: RelationalStore, entity: str, template_ids: Sequence[str], since: datetime, until: datetime, n: int
) -> list[str]:
    if n <= 0 or not template_ids:
        return []
    return [line.message for line in sample_lines(db, entity, template_ids, since, until, n)]


def sample_lines(
    db: RelationalStore, entity_id: str, template_ids: Sequence[str], since: datetime, until: datetime, n: int = 5
) -> list[LogLine]:
    """Up to `n` stored raw lines of these templates on this entity in `[since, until)`, oldest first.

    Raw lines are stored with the entity id in `LogLine.service` (e.g. `service:sim/boutique/cart`).
    """
    table = LogLine.__table__  # type: ignore[attr-defined]
    stmt = (
        sa.select(LogLine)
        .where(
            table.c.service == entity_id,
            table.c.ts >= since,
            table.c.ts < until,
            table.c.template_id.in_(list(template_ids)),
        )
        .order_by(table.c.ts, table.c.id)
        .limit(n)
    )
    with db.session() as s:
        return list(s.scalars(stmt).all())
