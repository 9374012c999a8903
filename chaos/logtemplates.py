"""Log lines as real services print them: placeholder filling and per-format rendering.

A service's everyday messages are templates in the environment YAML (``logs:``);
fault and dependency-failure messages live in :mod:`chaos.faults`. Both use
``{placeholder}`` fields: the *random* ones below are filled from the seeded RNG,
the *context* ones (``{dep}``, ``{error}``, ``{version}`` ...) by the simulator.

Formats mirror what the real software writes, so the ingestion pipeline sees the
same variety it meets in production: JSON lines (zap/logrus style), logfmt,
plain ``<ts> LEVEL [service] message``, PostgreSQL's stderr log, Redis's log and
RabbitMQ's log.
"""

from __future__ import annotations

import functools
import json
import string
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

import numpy as np

LogFormat = Literal["json", "logfmt", "plain", "postgres", "redis", "rabbitmq"]
LOG_FORMATS: tuple[str, ...] = ("json", "logfmt", "plain", "postgres", "redis", "rabbitmq")
Level = Literal["debug", "info", "warning", "error", "critical"]
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")

_PRODUCTS = (
    "OLJCESPC7Z",
    "66VCHSJNUP",
    "1YMWWN1N4O",
    "L9ECAV7KIM",
    "2ZYFJ3GM2N",
    "0PUK6V6EV0",
    "LS4PSXUNUM",
    "9SIQT8TOJO",
    "6E92ZMYYFZ",
)
_PRODUCT_NAMES = ("sunglasses", "tank top", "watch", "loafers", "hairdryer", "candle holder", "salt shaker", "mug")
_CURRENCIES = ("EUR", "USD", "JPY", "GBP", "CAD", "CHF")
_PATHS = ("/", "/product/{p}", "/cart", "/cart/checkout", "/setCurrency", "/api/search", "/login", "/static/app.js")
_QUERIES = ("sunglasses", "vintage mug", "watch strap", "candle", "loafers size 42", "hair dryer", "tank top red")
_METHODS = ("GET", "GET", "GET", "POST")


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join("0123456789abcdef"[int(i)] for i in rng.integers(0, 16, n))


def _alnum(rng: np.random.Generator, n: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), n))


def _path(rng: np.random.Generator) -> str:
    p = _PATHS[int(rng.integers(len(_PATHS)))]
    return p.replace("{p}", _PRODUCTS[int(rng.integers(len(_PRODUCTS)))])


def _status(rng: np.random.Generator) -> str:
    return str(int(rng.choice([200, 200, 200, 200, 200, 200, 302, 304, 404])))


#: Random placeholders: name → generator. Environment templates may use these plus ``{service}``.
RANDOM_FIELDS: dict[str, Callable[[np.random.Generator], str]] = {
    "ms": lambda r: str(int(r.lognormal(3.2, 0.6))),
    "slow_ms": lambda r: str(int(r.uniform(1100, 4800))),
    "order_id": lambda r: f"{int(r.integers(100000, 999999))}-{_alnum(r, 4)}",
    "user_id": lambda r: f"u-{int(r.integers(10000, 99999))}",
    "session": lambda r: _hex(r, 8) + "-" + _hex(r, 4) + "-" + _hex(r, 4),
    "cart_id": lambda r: _hex(r, 12),
    "product_id": lambda r: _PRODUCTS[int(r.integers(len(_PRODUCTS)))],
    "product": lambda r: _PRODUCT_NAMES[int(r.integers(len(_PRODUCT_NAMES)))],
    "qty": lambda r: str(int(r.integers(1, 5))),
    "items": lambda r: str(int(r.integers(1, 9))),
    "amount": lambda r: f"{r.uniform(5, 480):.2f}",
    "currency": lambda r: _CURRENCIES[int(r.integers(len(_CURRENCIES)))],
    "to_currency": lambda r: _CURRENCIES[int(r.integers(len(_CURRENCIES)))],
    "email": lambda r: f"{_alnum(r, 6)}@example.com",
    "tracking": lambda r: f"{_alnum(r, 2).upper()}-{int(r.integers(10000, 99999))}-{int(r.integers(100000, 999999))}",
    "query": lambda r: _QUERIES[int(r.integers(len(_QUERIES)))],
    "hits": lambda r: str(int(r.integers(0, 60))),
    "status": _status,
    "path": _path,
    "method": lambda r: _METHODS[int(r.integers(len(_METHODS)))],
    "ip": lambda r: f"10.{int(r.integers(1, 4))}.{int(r.integers(0, 255))}.{int(r.integers(2, 254))}",
    "port": lambda r: str(int(r.integers(32768, 60999))),
    "pid": lambda r: str(int(r.integers(200, 32000))),
    "conns": lambda r: str(int(r.integers(8, 40))),
    "ad_id": lambda r: f"ad-{int(r.integers(100, 999))}",
    "count": lambda r: str(int(r.integers(1, 500))),
    "txn": lambda r: f"txn_{_alnum(r, 14)}",
    "card": lambda r: str(int(r.choice([4242, 4000, 5555, 3782, 6011]))),
    "ttl": lambda r: str(int(r.choice([60, 300, 900, 3600]))),
    "keys": lambda r: str(int(r.integers(1200, 9000))),
    "rows": lambda r: str(int(r.integers(1, 120))),
    "table": lambda r: str(r.choice(["orders", "order_items", "users", "sessions", "payments"])),
    "trace": lambda r: _hex(r, 32),
    "channel": lambda r: str(int(r.integers(1, 9))),
    "erl_pid": lambda r: f"<0.{int(r.integers(300, 9000))}.0>",
    "model": lambda r: str(r.choice(["als-v7", "als-v8", "popular-24h"])),
    "gc_ms": lambda r: str(int(r.uniform(8, 60))),
}

#: Context placeholders the simulator fills (never random).
CONTEXT_FIELDS: frozenset[str] = frozenset(
    {
        "service",
        "dep",
        "dep_host",
        "dep_ip",
        "dep_port",
        "error",
        "version",
        "previous_version",
        "node",
        "limit_mib",
        "heap_pct",
        "target",
        "target_host",
        "expired_at",
        "now",
        "config_key",
        "config_value",
        "pod",
        "restarts",
        "queue",
        "depth",
        "max_conns",
        "job",
        "loss_pct",
        "disk_pct",
        "mount",
        "elapsed_ms",
        "timeout_ms",
    }
)


def template_fields(template: str) -> frozenset[str]:
    """The placeholder names a template uses. Raises ValueError on a malformed template."""
    return _template_fields(template)


@functools.lru_cache(maxsize=4096)
def _template_fields(template: str) -> frozenset[str]:
    names: set[str] = set()
    for _, field, spec, conv in string.Formatter().parse(template):
        if field is None:
            continue
        if field == "" or not field.isidentifier() or spec or conv:
            raise ValueError(f"bad placeholder '{{{field}}}' in template {template!r}: use {{name}} only")
        names.add(field)
    return frozenset(names)


def fill(template: str, rng: np.random.Generator, context: Mapping[str, str] | None = None) -> str:
    """Fill a template: context values first, then random fields; unknown names raise KeyError."""
    values: dict[str, str] = {}
    ctx = context or {}
    # sorted: the order random fields draw from the RNG must not depend on set iteration order
    for name in sorted(template_fields(template)):
        if name in ctx:
            values[name] = ctx[name]
        elif name in RANDOM_FIELDS:
            values[name] = RANDOM_FIELDS[name](rng)
        else:
            raise KeyError(f"template {template!r} uses '{{{name}}}' but nothing provides it")
    return template.format(**values)


# ---------------------------------------------------------------------------- rendering

_PG_LEVEL = {"debug": "DEBUG", "info": "LOG", "warning": "WARNING", "error": "ERROR", "critical": "FATAL"}
_REDIS_MARK = {"debug": ".", "info": "*", "warning": "#", "error": "#", "critical": "#"}
_RMQ_LEVEL = {"debug": "debug", "info": "info", "warning": "warning", "error": "error", "critical": "critical"}
_PLAIN_LEVEL = {"debug": "DEBUG", "info": "INFO", "warning": "WARN", "error": "ERROR", "critical": "FATAL"}


def _iso_ms(ts: datetime) -> str:
    # isoformat is several times faster than strftime; timestamps here are always UTC
    return ts.isoformat(timespec="milliseconds")[:23] + "Z"


def _logfmt_value(v: str) -> str:
    if v == "" or any(c in v for c in ' ="\\'):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return v


def render_line(
    fmt: str,
    *,
    ts: datetime,
    level: str,
    service: str,
    message: str,
    trace_id: str | None = None,
    pid: int = 1,
    fields: Mapping[str, str] | None = None,
) -> str:
    """One log line exactly as the service would print it (no trailing newline)."""
    extra = dict(fields or {})
    if fmt == "json":
        doc: dict[str, object] = {"ts": _iso_ms(ts), "level": level, "logger": service, "msg": message}
        doc.update(extra)
        if trace_id:
            doc["trace_id"] = trace_id
        return json.dumps(doc, separators=(",", ":"))
    if fmt == "logfmt":
        parts = [f"time={_iso_ms(ts)}", f"level={level}", f"service={service}", f"msg={_logfmt_value(message)}"]
        parts += [f"{k}={_logfmt_value(v)}" for k, v in extra.items()]
        if trace_id:
            parts.append(f"trace_id={trace_id}")
        return " ".join(parts)
    if fmt == "plain":
        return f"{_iso_ms(ts)} {_PLAIN_LEVEL[level]} [{service}] {message}"
    if fmt == "postgres":
        stamp = ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d} UTC"
        return f"{stamp} [{pid}] {_PG_LEVEL[level]}:  {message}"
    if fmt == "redis":
        stamp = ts.strftime("%d %b %Y %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
        return f"{pid}:M {stamp} {_REDIS_MARK[level]} {message}"
    if fmt == "rabbitmq":
        stamp = ts.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"
        erl = extra.get("erl_pid", "<0.512.0>")
        return f"{stamp} [{_RMQ_LEVEL[level]}] {erl} {message}"
    raise ValueError(f"unknown log format {fmt!r} (known: {', '.join(LOG_FORMATS)})")
