"""Load metric root-cause cases from CSV files, in the two layouts benchmarks use.

**Single series** (RCAEval style), a directory holding ``data.csv`` (a ``time`` column in epoch
seconds plus ``<service>_<metric>`` columns) and ``inject_time.txt`` (epoch seconds). Rows
before the inject time are the baseline, rows at or after it are the anomalous window.

**Normal / anomalous** (RCD style), ``normal.csv`` and ``anomalous.csv`` with the same columns.
The baseline is all of ``normal.csv``, the window all of ``anomalous.csv``, and the inject time
is the first timestamp of ``anomalous.csv``. The two files need not be contiguous or even in
order: RCD recorded its normal periods minutes to hours away from the fault runs.

Either directory may also hold ``graph.csv`` (``source,target``: source calls target),
``logs.csv`` (``time,service,message``) and ``changes.csv`` (``time,service,description``).
Extra columns in those three files are allowed and not used.

Every problem raises a typed error naming the file, and where it matters the line and column:
missing files (:class:`NotFound`), a missing ``time`` column, no ``<service>_<metric>`` columns,
non-numeric cells, an inject time outside the data (:class:`InvalidPayload`). Empty cells are
kept as missing samples (NaN), never dropped.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from core.errors import InputError, InvalidPayload, NotFound
from core.metrics.frame import MetricFrame
from core.metrics.names import parse_columns

#: Fewest baseline rows the robust statistics are computed from.
MIN_BASELINE_ROWS = 3

_MISSING = {"", "nan", "NaN", "NAN", "null", "NULL", "None", "NA", "N/A"}


@dataclass(frozen=True)
class CallEdge:
    """``source`` calls ``target`` (so a fault in ``target`` can surface in ``source``)."""

    source: str
    target: str


@dataclass(frozen=True)
class LogLine:
    """One log line attributed to a service."""

    time: float
    service: str
    message: str


@dataclass(frozen=True)
class Change:
    """A deploy, config change or similar event on a service."""

    time: float
    service: str
    description: str = ""


@dataclass(frozen=True)
class MetricCase:
    """Everything the metric ranker needs for one incident: baseline, window and optional context."""

    baseline: MetricFrame
    window: MetricFrame
    inject_time: float
    layout: Literal["single", "split"]
    edges: tuple[CallEdge, ...] = ()
    logs: tuple[LogLine, ...] = ()
    changes: tuple[Change, ...] = ()
    source: str = ""


def _require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise NotFound(f"{what} not found: {path}", hint="check the path")
    if not path.is_file():
        raise InvalidPayload(f"{what} is not a file: {path}")
    return path


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """CSV rows with their 1-based line numbers (header is line 1); blank lines skipped."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    yield reader.line_num, row
    except UnicodeDecodeError as e:
        raise InvalidPayload(f"{path} is not UTF-8 text: {e}") from e
    except csv.Error as e:
        raise InvalidPayload(f"{path} is not valid CSV: {e}") from e


def _number(cell: str, *, path: Path, line: int, column: str, allow_missing: bool) -> float:
    s = cell.strip()
    if s in _MISSING:
        if allow_missing:
            return math.nan
        raise InvalidPayload(f"{path} line {line}: column {column!r} is empty")
    try:
        v = float(s)
    except ValueError as e:
        raise InvalidPayload(
            f"{path} line {line}: column {column!r} has non-numeric value {cell!r}",
            hint="metric cells must be numbers (empty means a missing sample)",
        ) from e
    if math.isinf(v) or (math.isnan(v) and not allow_missing):
        raise InvalidPayload(f"{path} line {line}: column {column!r} has non-finite value {cell!r}")
    return v


def read_metric_csv(path: Path) -> MetricFrame:
    """Read ``time`` + ``<service>_<metric>`` columns into a frame sorted by time (stable)."""
    path = _require_file(Path(path), "metrics CSV")
    rows = _rows(path)
    header_row = next(rows, None)
    if header_row is None:
        raise InvalidPayload(f"{path} is empty", hint="expected a header line: time,<service>_<metric>,...")
    header = [h.strip() for h in header_row[1]]
    if "time" not in header:
        raise InvalidPayload(
            f"{path} has no 'time' column (header: {', '.join(header[:8])}{', ...' if len(header) > 8 else ''})",
            hint="the first line must name a 'time' column of epoch seconds",
        )
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise InvalidPayload(f"{path} repeats column(s) {', '.join(dupes)}")
    t_idx = header.index("time")
    metric_cols = [h for i, h in enumerate(header) if i != t_idx]
    if not metric_cols:
        raise InvalidPayload(f"{path} has no <service>_<metric> columns besides 'time'")
    parse_columns(metric_cols, source=str(path))
    m_idx = [i for i in range(len(header)) if i != t_idx]

    times: list[float] = []
    data: list[list[float]] = []
    for line, row in rows:
        if len(row) != len(header):
            raise InvalidPayload(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
        times.append(_number(row[t_idx], path=path, line=line, column="time", allow_missing=False))
        data.append([_number(row[i], path=path, line=line, column=header[i], allow_missing=True) for i in m_idx])
    if not times:
        raise InvalidPayload(f"{path} has a header but no data rows")
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(data, dtype=np.float64).reshape(len(times), len(metric_cols))
    order = np.argsort(t, kind="stable")
    return MetricFrame(t[order], tuple(metric_cols), v[order], str(path))


def read_inject_time(path: Path) -> float:
    """The single epoch-seconds number in ``inject_time.txt``."""
    path = _require_file(Path(path), "inject time file")
    text = path.read_text(encoding="utf-8").strip()
    try:
        v = float(text)
    except ValueError as e:
        raise InvalidPayload(
            f"{path} must hold one number (epoch seconds), found {text[:40]!r}",
            hint="write the fault's start time in epoch seconds, e.g. 1652565900",
        ) from e
    if not math.isfinite(v):
        raise InvalidPayload(f"{path} holds a non-finite inject time {text!r}")
    return v


def _dict_rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    rows = _rows(path)
    head = next(rows, None)
    if head is None:
        return
    header = [h.strip() for h in head[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidPayload(
            f"{path} lacks column(s) {', '.join(missing)} (header: {', '.join(header)})",
            hint=f"expected a header with {','.join(required)}",
        )
    for line, row in rows:
        if len(row) != len(header):
            raise InvalidPayload(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
        yield line, {h: c for h, c in zip(header, row, strict=True)}


def _name(value: str, *, path: Path, line: int, column: str) -> str:
    v = value.strip()
    if not v:
        raise InvalidPayload(f"{path} line {line}: column {column!r} is empty")
    return v


def read_graph_csv(path: Path) -> tuple[CallEdge, ...]:
    """Call edges from ``source,target`` rows."""
    path = _require_file(Path(path), "call graph CSV")
    return tuple(
        CallEdge(
            _name(r["source"], path=path, line=line, column="source"),
            _name(r["target"], path=path, line=line, column="target"),
        )
        for line, r in _dict_rows(path, ("source", "target"))
    )


def read_logs_csv(path: Path) -> tuple[LogLine, ...]:
    """Log lines from ``time,service,message`` rows."""
    path = _require_file(Path(path), "logs CSV")
    return tuple(
        LogLine(
            _number(r["time"], path=path, line=line, column="time", allow_missing=False),
            _name(r["service"], path=path, line=line, column="service"),
            r["message"],
        )
        for line, r in _dict_rows(path, ("time", "service", "message"))
    )


def read_changes_csv(path: Path) -> tuple[Change, ...]:
    """Changes from ``time,service[,description]`` rows."""
    path = _require_file(Path(path), "changes CSV")
    return tuple(
        Change(
            _number(r["time"], path=path, line=line, column="time", allow_missing=False),
            _name(r["service"], path=path, line=line, column="service"),
            r.get("description", ""),
        )
        for line, r in _dict_rows(path, ("time", "service"))
    )


def split_at_inject(frame: MetricFrame, inject_time: float) -> tuple[MetricFrame, MetricFrame]:
    """Baseline = rows before ``inject_time``; window = rows from it on. Errors if either side is too short."""
    first, last = float(frame.times[0]), float(frame.times[-1])
    if not first < inject_time <= last:
        raise InvalidPayload(
            f"inject time {inject_time:g} is outside the data in {frame.source} ({first:g} .. {last:g})",
            hint="the inject time must fall after the first sample and at or before the last one",
        )
    baseline, window = frame.before(inject_time), frame.from_time(inject_time)
    if baseline.rows < MIN_BASELINE_ROWS:
        raise InvalidPayload(
            f"only {baseline.rows} row(s) in {frame.source} precede the inject time {inject_time:g}; "
            f"at least {MIN_BASELINE_ROWS} are needed for a baseline"
        )
    return baseline, window


def _check_same_columns(normal: MetricFrame, anomalous: MetricFrame) -> None:
    if normal.columns == anomalous.columns:
        return
    only_n = sorted(set(normal.columns) - set(anomalous.columns))
    only_a = sorted(set(anomalous.columns) - set(normal.columns))
    if not only_n and not only_a:
        return  # same set, different order: aligned by name below
    parts = []
    if only_n:
        parts.append(f"only in {normal.source}: {', '.join(only_n)}")
    if only_a:
        parts.append(f"only in {anomalous.source}: {', '.join(only_a)}")
    raise InvalidPayload("normal and anomalous files have different columns (" + "; ".join(parts) + ")")


def load_split_case(
    normal: Path,
    anomalous: Path,
    *,
    graph: Path | None = None,
    logs: Path | None = None,
    changes: Path | None = None,
) -> MetricCase:
    """Normal/anomalous layout; the inject time is the first timestamp of ``anomalous``."""
    n = read_metric_csv(normal)
    a = read_metric_csv(anomalous)
    _check_same_columns(n, a)
    a = a.select(n.columns)
    if n.rows < MIN_BASELINE_ROWS:
        raise InvalidPayload(f"{normal} has {n.rows} row(s); at least {MIN_BASELINE_ROWS} are needed for a baseline")
    return MetricCase(
        baseline=n,
        window=a,
        inject_time=float(a.times[0]),
        layout="split",
        edges=read_graph_csv(graph) if graph else (),
        logs=read_logs_csv(logs) if logs else (),
        changes=read_changes_csv(changes) if changes else (),
        source=f"{normal} + {anomalous}",
    )


def load_single_case(
    data: Path,
    inject_time: float,
    *,
    graph: Path | None = None,
    logs: Path | None = None,
    changes: Path | None = None,
) -> MetricCase:
    """Single-series layout with a known inject time."""
    frame = read_metric_csv(data)
    baseline, window = split_at_inject(frame, inject_time)
    return MetricCase(
        baseline=baseline,
        window=window,
        inject_time=inject_time,
        layout="single",
        edges=read_graph_csv(graph) if graph else (),
        logs=read_logs_csv(logs) if logs else (),
        changes=read_changes_csv(changes) if changes else (),
        source=str(data),
    )


def load_case_dir(
    case_dir: Path,
    *,
    graph: Path | None = None,
    logs: Path | None = None,
    changes: Path | None = None,
) -> MetricCase:
    """A case directory in either layout; explicit ``graph``/``logs``/``changes`` paths override the directory's."""
    d = Path(case_dir)
    if not d.exists():
        raise NotFound(f"case directory not found: {d}")
    if not d.is_dir():
        raise InputError(f"--case must be a directory, got a file: {d}")
    graph = graph or (d / "graph.csv" if (d / "graph.csv").is_file() else None)
    logs = logs or (d / "logs.csv" if (d / "logs.csv").is_file() else None)
    changes = changes or (d / "changes.csv" if (d / "changes.csv").is_file() else None)
    has_single = (d / "data.csv").exists()
    has_split = (d / "normal.csv").exists() or (d / "anomalous.csv").exists()
    if has_single and has_split:
        raise InputError(
            f"{d} holds both data.csv and normal.csv/anomalous.csv; which one to use is ambiguous",
            hint="keep one layout per case directory",
        )
    if has_single:
        inject = read_inject_time(d / "inject_time.txt")
        return load_single_case(d / "data.csv", inject, graph=graph, logs=logs, changes=changes)
    if has_split:
        return load_split_case(d / "normal.csv", d / "anomalous.csv", graph=graph, logs=logs, changes=changes)
    raise NotFound(
        f"{d} holds neither data.csv + inject_time.txt nor normal.csv + anomalous.csv",
        hint="a case directory needs data.csv and inject_time.txt (or normal.csv and anomalous.csv)",
    )
