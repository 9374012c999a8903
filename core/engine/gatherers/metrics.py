"""Metric anomalies of the candidate entities: robust z-scores with onset (core.metrics.anomaly).

One bounded query reads the points of the candidates (and their pods) over
`[baseline_since, until)` through the primary-key index; the samples go onto one time grid (the
median sampling step, values averaged per bucket) so every series is scored by the same
detector in one numpy pass: the baseline is what came before `since`, the window `[since, until)`.

Two refinements over the generic detector, both built from its own pieces (fit_baseline,
robust_z, running_median):

* **Direction by meaning.** Which way is bad depends on what a series measures: errors, latency
  and saturation hurt going up, throughput, availability, certificate lifetime and cache hits
  going down. `metric_family` sorts series by name into families (standard Prometheus naming)
  and each family weighs the two directions (`DIRECTION_WEIGHTS`); unknown names keep the
  detector's default (up 1, down 0.5). A morning traffic ramp then stays a small anomaly while
  traffic vanishing from a service is a large one.
* **Onset of the episode.** The onset is where the run of above-threshold scores that contains
  the peak begins, not the first threshold crossing anywhere in the window: one noisy sample an
  hour before the incident must not make a symptom look like the first mover.

When the data starts after `since` (a window wider than the history), there is no baseline to
learn from; then the first third of the available samples serves as the baseline and the answer
says so, rather than scoring nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa

from core.db.store import RelationalStore
from core.db.tables import MetricPoint
from core.metrics.anomaly import AnomalyParams, fit_baseline, robust_z, running_median

MIN_BASELINE_ROWS = 6


# (pattern on the metric name, family); first match wins, so specific names come first.
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"throttl", re.I), "throttle"),
    (re.compile(r"(expir|(?:^|_)ttl(?:_|$)|not_after|valid_until)", re.I), "expiry"),
    (re.compile(r"(hit_ratio|hit_rate|hits?_)", re.I), "hit_ratio"),
    (re.compile(r"(consumers|replicas_available|ready|^up$|_up$|availability|alive)", re.I), "availability"),
    (re.compile(r"(dns|lookup)", re.I), "dns"),
    (re.compile(r"(err|fail|5xx|exception|refused)", re.I), "errors"),
    (re.compile(r"(latency|duration|_ms$|response_time|_p\d\d|_seconds_bucket)", re.I), "latency"),
    (re.compile(r"(restart|oom|crash)", re.I), "restarts"),
    (re.compile(r"(packet_loss|drop|retransmit|_loss)", re.I), "network"),
    (re.compile(r"(disk|filesystem|fs_|inode|volume)", re.I), "disk"),
    (re.compile(r"(cpu|load)", re.I), "cpu"),
    (re.compile(r"(mem|heap|rss|working_set)", re.I), "memory"),
    (re.compile(r"(connections|conns|pool)", re.I), "connections"),
    (re.compile(r"(queue|backlog|lag|depth)", re.I), "queue"),
    (re.compile(r"(requests|rps|qps|tps|throughput|per_second|traffic|calls)", re.I), "throughput"),
)

#: Weight of upward and downward deviations per family.
DIRECTION_WEIGHTS: dict[str, tuple[float, float]] = {
    "errors": (1.0, 0.2),
    "latency": (1.0, 0.3),
    "restarts": (1.0, 0.1),
    "network": (1.0, 0.2),
    "disk": (1.0, 0.2),
    "cpu": (1.0, 0.3),
    "throttle": (1.0, 0.3),
    "memory": (1.0, 0.3),
    "connections": (1.0, 0.3),
    "queue": (1.0, 0.3),
    "dns": (1.0, 0.2),
    "throughput": (0.3, 1.0),
    "availability": (0.2, 1.0),
    "expiry": (0.1, 1.0),
    "hit_ratio": (0.2, 1.0),
    "other": (1.0, 0.5),
}


def metric_family(metric: str) -> str:
    """The family of a metric name (errors, latency, cpu, memory, throughput, ...), "other" if unknown."""
    for rx, fam in _FAMILIES:
        if rx.search(metric):
            return fam
    return "other"


@dataclass(frozen=True)
class SeriesAnomaly:
    """How far one series of one entity left its baseline (strength in direction-weighted robust z)."""

    entity: str
    metric: str
    family: str
    strength: float
    peak_z: float
    peak_value: float
    peak_time: float | None
    onset_time: float | None
    baseline_median: float
    scored: bool = True

    @property
    def is_anomalous(self) -> bool:
        return self.onset_time is not None

    @property
    def direction(self) -> str:
        return "up" if self.peak_z > 0 else "down" if self.peak_z < 0 else "flat"


@dataclass
class MetricScan:
    """Every scored series, keyed by entity, plus what the scan could not do."""

    anomalies: dict[str, list[SeriesAnomaly]] = field(default_factory=dict)
    series: int = 0
    points: int = 0
    step_s: float = 0.0
    first_ts: float | None = None
    last_ts: float | None = None
    window_rows: int = 0
    notes: list[str] = field(default_factory=list)

    def of(self, entity_id: str) -> list[SeriesAnomaly]:
        return self.anomalies.get(entity_id, [])


def _epoch(ts: datetime) -> float:
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()


def read_points(
    db: RelationalStore, entity_ids: Iterable[str], since: datetime, until: datetime
) -> dict[tuple[str, str], tuple[list[float], list[float]]]:
    """(entity, metric) → (epoch times, values) in [since, until), one indexed query.

    The timestamp column is read raw and converted in one vectorised step: per-row datetime objects
    would cost more than the query itself on a few hundred thousand points.
    """
    ids = sorted(set(entity_ids))
    if not ids:
        return {}
    t = MetricPoint.__table__  # type: ignore[attr-defined]
    stmt = sa.select(t.c.entity_id, t.c.metric, sa.type_coerce(t.c.ts, sa.String()), t.c.value).where(
        t.c.entity_id.in_(ids), t.c.ts >= since, t.c.ts < until
    )
    with db.session() as s:
        rows = s.execute(stmt).all()
    if not rows:
        return {}
    entities, metrics, stamps, values = zip(*rows, strict=True)
    epochs = _epochs(stamps)
    out: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for e, m, ts, v in zip(entities, metrics, epochs.tolist(), values, strict=True):
        times, vals = out[(e, m)]
        times.append(ts)
        vals.append(float(v))
    return dict(out)


def _epochs(stamps: tuple[object, ...]) -> np.ndarray:
    """Epoch seconds of stored timestamps: SQLite's UTC text in one numpy parse, drivers' datetimes one by one."""
    if stamps and isinstance(stamps[0], str):
        parsed = np.array([str(x).replace(" ", "T").removesuffix("Z")[:26] for x in stamps], dtype="datetime64[us]")
        out: np.ndarray = parsed.astype("int64") / 1e6
        return out
    return np.array([_epoch(x) if isinstance(x, datetime) else float("nan") for x in stamps], dtype=float)


def to_grid(
    series: dict[tuple[str, str], tuple[list[float], list[float]]],
) -> tuple[np.ndarray, list[tuple[str, str]], np.ndarray, float]:
    """Put every series on one time grid: (times, keys, values[rows, cols], step); a bucket without a
    sample is NaN, several samples in one bucket are averaged."""
    keys = sorted(series)
    all_t = np.concatenate([np.asarray(series[k][0]) for k in keys])
    diffs: list[float] = []
    for k in keys:
        ts = np.sort(np.asarray(series[k][0]))
        if len(ts) > 1:
            d = np.diff(ts)
            d = d[d > 0]
            if len(d):
                diffs.append(float(np.median(d)))
    # the most common sampling interval (ties: the shorter): sparser series then show gaps, not blur
    intervals = Counter(round(d, 3) for d in diffs)
    step = min(intervals, key=lambda d: (-intervals[d], d)) if intervals else 60.0
    t0 = float(np.min(all_t))
    n = int((float(np.max(all_t)) - t0) // step) + 1
    sums = np.zeros((n, len(keys)))
    counts = np.zeros((n, len(keys)))
    for j, k in enumerate(keys):
        ts, vs = np.asarray(series[k][0]), np.asarray(series[k][1])
        rows = ((ts - t0) // step).astype(int)
        np.add.at(sums[:, j], rows, vs)
        np.add.at(counts[:, j], rows, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
    times = t0 + step * np.arange(n)
    return times, keys, values, step


def _episode_onset(score: np.ndarray, peak: int, threshold: float) -> int:
    """Index where the above-threshold run containing `peak` starts."""
    i = peak
    while i > 0 and np.isfinite(score[i - 1]) and score[i - 1] >= threshold:
        i -= 1
    return i


def score_frame(
    entity_metric: list[tuple[str, str]],
    times: np.ndarray,
    base_values: np.ndarray,
    win_values: np.ndarray,
    params: AnomalyParams,
) -> list[SeriesAnomaly]:
    """Direction-weighted strength and episode onset of every column (see module docstring)."""
    base = fit_baseline(base_values, params)
    z = robust_z(win_values, base)
    fams = [metric_family(m) for _, m in entity_metric]
    w_up = np.array([DIRECTION_WEIGHTS[f][0] for f in fams])
    w_down = np.array([DIRECTION_WEIGHTS[f][1] for f in fams])
    weighted = np.where(z >= 0, z * w_up, -z * w_down)
    score = running_median(weighted, params.smooth)
    out: list[SeriesAnomaly] = []
    for j, (entity, metric) in enumerate(entity_metric):
        s = score[:, j]
        finite = np.isfinite(s)
        if base.points[j] < params.min_baseline_points or not np.any(finite):
            out.append(
                SeriesAnomaly(entity, metric, fams[j], 0.0, 0.0, math.nan, None, None, float(base.median[j]), False)
            )
            continue
        peak = int(np.argmax(np.where(finite, s, -np.inf)))
        strength = float(s[peak])
        onset = None
        if strength >= params.threshold:
            onset = float(times[_episode_onset(s, peak, params.threshold)])
        zp = float(z[peak, j]) if np.isfinite(z[peak, j]) else 0.0
        out.append(
            SeriesAnomaly(
                entity=entity,
                metric=metric,
                family=fams[j],
                strength=strength,
                peak_z=zp,
                peak_value=float(win_values[peak, j]),
                peak_time=float(times[peak]),
                onset_time=onset,
                baseline_median=float(base.median[j]),
            )
        )
    return out


def scan_metrics(
    db: RelationalStore,
    entity_ids: Iterable[str],
    *,
    baseline_since: datetime,
    since: datetime,
    until: datetime,
    params: AnomalyParams = AnomalyParams(),
) -> MetricScan:
    """Score every metric series of `entity_ids` (see module docstring)."""
    scan = MetricScan()
    series = read_points(db, entity_ids, baseline_since, until)
    if not series:
        return scan
    times, keys, values, step = to_grid(series)
    scan.series, scan.points, scan.step_s = len(keys), sum(len(v[0]) for v in series.values()), step
    scan.first_ts, scan.last_ts = float(times[0]), float(times[-1])
    is_base = times < _epoch(since)
    if int(is_base.sum()) < MIN_BASELINE_ROWS:
        k = max(MIN_BASELINE_ROWS, len(times) // 3)
        if len(times) - k < 2:
            scan.notes.append(f"only {len(times)} metric samples per series: too few to tell normal from not")
            return scan
        is_base = np.arange(len(times)) < k
        start = datetime.fromtimestamp(float(times[0]), UTC)
        cut = datetime.fromtimestamp(float(times[k]), UTC)
        scan.notes.append(
            f"no metric history before the window; the first samples ({start:%H:%M}–{cut:%H:%M} UTC) "
            "served as the baseline"
        )
    scan.window_rows = int((~is_base).sum())
    scored = score_frame(keys, times[~is_base], values[is_base], values[~is_base], params)
    by_entity: dict[str, list[SeriesAnomaly]] = defaultdict(list)
    for a in scored:
        by_entity[a.entity].append(a)
    for items in by_entity.values():
        items.sort(key=lambda a: (-a.strength, a.metric))
    scan.anomalies = dict(by_entity)
    return scan
