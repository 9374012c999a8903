"""Split metric column names of the form ``<service>_<metric>`` into service and metric.

Service names may contain hyphens (``orders-db_cpu``, ``front-end_lat_90``) and, outside
Kubernetes, even underscores (``checkout_db_cpu``); metric names often contain underscores
(``lat_90``, ``latency_p99``). So "split at the last underscore" and "split at the first
underscore" are both wrong for some inputs. The rule, applied per column:

1. **Known metric suffix.** Try the split points from left to right and take the first one whose
   right-hand side is a known metric name (:data:`METRIC_NAME`: cpu, mem, lod, lat_90,
   latency_p99, error_rate, log_lines, ...). The leftmost match is the longest known suffix, so
   ``checkout_latency_p99`` is ``checkout`` + ``latency_p99`` and ``checkout_db_cpu`` is
   ``checkout_db`` + ``cpu``.
2. **Shared service prefix.** Otherwise, if some prefix ending at an underscore is a service that
   rule 1 found in another column of the same table, take the longest such prefix
   (``carts_gc_pause`` joins ``carts`` when ``carts_cpu`` exists).
3. **First underscore.** Otherwise split at the first underscore: Kubernetes service names are
   DNS-1123 labels, which cannot contain an underscore.

A column with no underscore, or with an empty side, is not a ``<service>_<metric>`` column and
is reported as such (:func:`parse_columns` raises; nothing is dropped quietly).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import InvalidPayload

_STEMS = (
    r"cpu|cpu_usage|cpu_seconds|cpu_throttled|mem|memory|mem_usage|memory_usage|rss|heap|gc|gc_pause"
    r"|lod|load|lat|latency|duration|response_time|rt"
    r"|err|errs|error|errors|error_rate|error_ratio|err_rate|fail|failures|failure_rate|5xx|4xx"
    r"|req|reqs|requests|request_rate|rps|qps|tps|throughput|traffic|calls"
    r"|disk|disk_io|disk_read|disk_write|io|iops|fs|net|net_in|net_out|network|rx|tx|bytes_in|bytes_out"
    r"|conn|conns|connections|pool|pool_used|pool_wait|threads|goroutines|fds|open_files"
    r"|queue|queue_depth|queue_length|lag|backlog|saturation|utilization|util|usage"
    r"|restarts|up|availability|log_lines|log_errors"
)
_QUALIFIERS = r"(?:_(?:p?\d+(?:\.\d+)?|avg|mean|max|min|sum|count|rate|total|ms|s|seconds|bytes|mb|pct|percent))*"

#: Metric names recognised by rule 1: a known stem with optional qualifiers (percentile, unit, aggregate).
METRIC_NAME = re.compile(rf"(?:{_STEMS}){_QUALIFIERS}", re.IGNORECASE)


@dataclass(frozen=True)
class MetricName:
    """One column's parts: ``column == f"{service}_{metric}"``."""

    column: str
    service: str
    metric: str


def _splits(column: str) -> list[int]:
    return [i for i, ch in enumerate(column) if ch == "_" and 0 < i < len(column) - 1]


def _known_suffix_split(column: str) -> MetricName | None:
    for i in _splits(column):
        if METRIC_NAME.fullmatch(column[i + 1 :]):
            return MetricName(column, column[:i], column[i + 1 :])
    return None


def parse_columns(columns: Iterable[str], *, source: str = "") -> dict[str, MetricName]:
    """Map each column name to its service and metric, by the module's three rules.

    Raises :class:`InvalidPayload` naming every column that is not ``<service>_<metric>``.
    """
    cols = list(columns)
    parsed: dict[str, MetricName] = {}
    for col in cols:
        hit = _known_suffix_split(col)
        if hit is not None:
            parsed[col] = hit
    known_services = {p.service for p in parsed.values()}
    bad: list[str] = []
    for col in cols:
        if col in parsed:
            continue
        splits = _splits(col)
        if not splits:
            bad.append(col)
            continue
        shared = [i for i in splits if col[:i] in known_services]
        i = shared[-1] if shared else splits[0]
        parsed[col] = MetricName(col, col[:i], col[i + 1 :])
    if bad:
        where = f" in {source}" if source else ""
        raise InvalidPayload(
            f"column(s) {', '.join(repr(b) for b in bad)}{where} are not named <service>_<metric>",
            hint="name metric columns like 'carts_cpu', 'orders-db_mem' or 'checkout_latency_p99'",
        )
    return parsed


def services_of(names: Iterable[MetricName]) -> list[str]:
    """The distinct services, sorted by name."""
    return sorted({n.service for n in names})
