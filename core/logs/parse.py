"""Parse one log line of any common format into time, level, service, host, pod, trace id and message.

Formats (``fmt``), detected in this order unless ``hint`` names one:

``journald``  ``journalctl -o json`` records (``__REALTIME_TIMESTAMP``, ``MESSAGE``, ``PRIORITY`` ...)
``json``      any other JSON object per line (Docker, Bunyan, pino, zap, logrus, OTel-ish, ECS ...)
``syslog``    RFC 5424 (``<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG``) and RFC 3164
``clf``       nginx / Apache access logs, common and combined format
``klog``      Kubernetes / glog (``I0102 15:04:05.000000 123 file.go:42] msg``)
``logfmt``    ``key=value`` pairs (``ts=... level=info msg="..."``)
``python``    the logging module's ``LEVEL:logger:message`` and ``asctime - name - LEVEL - message``
``text``      anything else: a generic header (timestamp, level, component) is split off when present

Timestamps come back timezone-aware (UTC when the line carries no zone; formats without a year
take ``year``, default the current one). Fields the line does not have stay ``None``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import InvalidPayload
from core.logs.header import message_of, split_header
from core.model import Severity

FORMATS: tuple[str, ...] = ("journald", "json", "syslog", "clf", "klog", "logfmt", "python", "text")


@dataclass(frozen=True, slots=True)
class ParsedLog:
    """One parsed line. ``attributes`` holds every other field found, as strings."""

    ts: datetime | None
    level: Severity | None
    service: str | None
    host: str | None
    pod: str | None
    trace_id: str | None
    message: str
    fmt: str
    attributes: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------- field names
_TS_KEYS = ("@timestamp", "timestamp", "time", "ts", "datetime", "date", "t", "eventtime", "asctime")
_LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level", "levelname", "severitytext", "log_level")
_MSG_KEYS = ("message", "msg", "log", "text", "body", "event", "short_message")
_SERVICE_KEYS = (
    "service",
    "service.name",
    "service_name",
    "resource.service.name",
    "app",
    "app.name",
    "application",
    "kubernetes.labels.app",
    "kubernetes.labels.app.kubernetes.io/name",
    "kubernetes.container_name",
    "kubernetes.container.name",
    "container_name",
    "syslog_identifier",
)
_HOST_KEYS = ("host", "hostname", "host.name", "host.hostname", "kubernetes.host", "node", "nodename", "_hostname")
_POD_KEYS = ("pod", "pod_name", "podname", "kubernetes.pod_name", "kubernetes.pod.name", "k8s.pod.name")
_TRACE_KEYS = (
    "trace_id",
    "traceid",
    "trace.id",
    "otel.trace_id",
    "oteltraceid",
    "dd.trace_id",
    "trace-id",
    "x-trace-id",
    "trace",
)
_PINO_LEVELS = {10: Severity.DEBUG, 20: Severity.DEBUG, 30: Severity.INFO, 40: Severity.WARNING, 50: Severity.ERROR}
_KLOG_LEVELS = {"I": Severity.INFO, "W": Severity.WARNING, "E": Severity.ERROR, "F": Severity.CRITICAL}
_TRACE_IN_TEXT = re.compile(r"\btrace[_.-]?id[\"']?\s*[=:]\s*[\"']?([0-9A-Fa-f][0-9A-Fa-f-]{7,63})\b", re.IGNORECASE)


# ------------------------------------------------------------------------------------- timestamps
_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_SYSLOG_TS = re.compile(r"([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$")
_COMPACT_TS = re.compile(r"(\d{2})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})$")  # yymmdd hhmmss
_DASHED_TS = re.compile(r"(\d{4})(\d{2})(\d{2})-(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[:.,](\d+))?$")  # yyyymmdd-h:m:s:ms
_DOTTED_TS = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})\.(\d{2})\.(\d{2})(?:\.(\d+))?$")  # 2005-06-03-15.42.50.675
_SLASHED_TS = re.compile(r"(\d{2,4})/(\d{2})/(\d{2})[ T:](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?$")
_KLOG_TS = re.compile(r"(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d+)$")


def _frac(digits: str | None) -> int:
    return int((digits or "0")[:6].ljust(6, "0"))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _from_epoch(value: float) -> datetime | None:
    # seconds, milliseconds, microseconds or nanoseconds since 1970, told apart by magnitude
    for scale in (1, 1e3, 1e6, 1e9):
        if abs(value / scale) < 1e11:
            try:
                return datetime.fromtimestamp(value / scale, tz=UTC)
            except (OverflowError, OSError, ValueError):
                return None
    return None


def parse_timestamp(value: Any, *, year: int | None = None) -> datetime | None:
    """Best-effort timestamp from a field or header text; ``None`` when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    text = str(value).strip().strip("[]")
    if not text:
        return None
    if text.replace(".", "", 1).isdigit():
        # epoch text: only with 9+ integer digits (from 2001 on), so a pid or a count is not a time
        return _from_epoch(float(text)) if len(text.split(".", 1)[0]) >= 9 else None
    try:
        return _aware(datetime.fromisoformat(text.replace(",", ".")))
    except ValueError:
        pass
    year = year or datetime.now(UTC).year
    try:
        if m := _SYSLOG_TS.match(text):
            mon = _MONTHS.get(m.group(1).lower())
            if mon:
                h, mi, s = int(m.group(3)), int(m.group(4)), int(m.group(5))
                return datetime(year, mon, int(m.group(2)), h, mi, s, _frac(m.group(6)), tzinfo=UTC)
        if m := _COMPACT_TS.match(text):
            y, mo, d, h, mi, s = (int(g) for g in m.groups())
            return datetime(2000 + y, mo, d, h, mi, s, tzinfo=UTC)
        if m := _DASHED_TS.match(text) or _DOTTED_TS.match(text):
            y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
            return datetime(y, mo, d, h, mi, s, _frac(m.group(7)) * (1000 if m.re is _DASHED_TS else 1), tzinfo=UTC)
        if m := _SLASHED_TS.match(text):
            y = int(m.group(1))
            y = y + 2000 if y < 100 else y
            mo, d, h, mi, s = (int(g) for g in m.groups()[1:6])
            return datetime(y, mo, d, h, mi, s, _frac(m.group(7)), tzinfo=UTC)
        if m := _KLOG_TS.match(text):
            mo, d, h, mi, s = (int(g) for g in m.groups()[:5])
            return datetime(year, mo, d, h, mi, s, _frac(m.group(6)), tzinfo=UTC)
        for fmt in ("%d/%b/%Y:%H:%M:%S %z", "%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S.%f %Y"):
            try:
                return _aware(datetime.strptime(text, fmt))
            except ValueError:
                continue
    except ValueError:  # a field out of range (month 13, day 32, ...)
        return None
    return None


def _level(value: Any) -> Severity | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 10:
            return Severity.parse(value)  # syslog 0-7
        return _PINO_LEVELS.get(value, Severity.CRITICAL if value >= 60 else None)  # pino/bunyan 10-60
    text = str(value).strip()
    if text.isdigit():
        return _level(int(text))
    return Severity.parse(text)


# ------------------------------------------------------------------------------------- JSON
def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def _take(flat: dict[str, Any], lowered: dict[str, str], keys: tuple[str, ...]) -> Any:
    for k in keys:
        real = lowered.get(k)
        if real is not None and flat.get(real) not in (None, ""):
            return flat.pop(real)
    return None


def _scalar(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _journal_text(v: Any) -> str:
    # journald emits MESSAGE as a list of byte values when it is not valid UTF-8
    if isinstance(v, list) and all(isinstance(b, int) and 0 <= b < 256 for b in v):
        return bytes(v).decode("utf-8", errors="replace")
    return "" if v is None else _scalar(v)


def _parse_journal(obj: dict[str, Any]) -> ParsedLog:
    fields = dict(obj)
    ts = None
    raw_ts = fields.pop("__REALTIME_TIMESTAMP", None)
    if raw_ts is not None and str(raw_ts).isdigit():
        ts = datetime.fromtimestamp(0, tz=UTC) + timedelta(microseconds=int(raw_ts))
    priority = fields.pop("PRIORITY", None)
    level = Severity.parse(int(priority)) if priority is not None and str(priority).isdigit() else None
    unit = fields.get("_SYSTEMD_UNIT")
    service = fields.pop("SYSLOG_IDENTIFIER", None) or (str(unit).removesuffix(".service") if unit else None)
    service = service or fields.get("_COMM")
    trace = fields.pop("TRACE_ID", None) or fields.pop("OTEL_TRACE_ID", None)
    message = _journal_text(fields.pop("MESSAGE", ""))
    return ParsedLog(
        ts=ts,
        level=level,
        service=str(service) if service else None,
        host=str(fields.pop("_HOSTNAME")) if fields.get("_HOSTNAME") else None,
        pod=None,
        trace_id=str(trace) if trace else _trace_in(message),
        message=message,
        fmt="journald",
        attributes={k: _journal_text(v) for k, v in fields.items()},
    )


def _parse_json(obj: dict[str, Any], *, year: int | None) -> ParsedLog:
    flat = _flatten(obj)
    lowered = {k.lower(): k for k in flat}
    ts_raw = _take(flat, lowered, _TS_KEYS)
    level = _level(_take(flat, lowered, _LEVEL_KEYS))
    msg = _take(flat, lowered, _MSG_KEYS)
    service = _take(flat, lowered, _SERVICE_KEYS)
    host = _take(flat, lowered, _HOST_KEYS)
    pod = _take(flat, lowered, _POD_KEYS)
    trace = _take(flat, lowered, _TRACE_KEYS)
    message = "" if msg is None else _scalar(msg).rstrip("\n")
    return ParsedLog(
        ts=parse_timestamp(ts_raw, year=year),
        level=level,
        service=_scalar(service) if service is not None else None,
        host=_scalar(host) if host is not None else None,
        pod=_scalar(pod) if pod is not None else None,
        trace_id=_scalar(trace) if trace is not None else _trace_in(message),
        message=message,
        fmt="json",
        attributes={k: _scalar(v) for k, v in flat.items() if v is not None},
    )


# ------------------------------------------------------------------------------------- syslog
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$"
)
_SD_ELEMENT = re.compile(r"\[(?P<id>[^\s\]]+)(?P<params>(?:\s+[^\s=\]]+=\"(?:[^\"\\]|\\.)*\")*)\s*\]")
_SD_PARAM = re.compile(r"([^\s=\]]+)=\"((?:[^\"\\]|\\.)*)\"")


def _nil(v: str | None) -> str | None:
    return None if v in (None, "-") else v


def _parse_5424(m: re.Match[str], *, year: int | None) -> ParsedLog:
    pri = int(m.group("pri"))
    attrs: dict[str, str] = {"facility": str(pri // 8)}
    for procid_key, value in (("procid", m.group("procid")), ("msgid", m.group("msgid"))):
        if _nil(value):
            attrs[procid_key] = value
    for el in _SD_ELEMENT.finditer(m.group("sd") or ""):
        for k, v in _SD_PARAM.findall(el.group("params")):
            attrs[f"{el.group('id')}.{k}"] = re.sub(r"\\([\"\\\]])", r"\1", v)
    message = (m.group("msg") or "").removeprefix("\ufeff")
    trace = next((v for k, v in attrs.items() if k.rsplit(".", 1)[-1].lower() in _TRACE_KEYS), None)
    return ParsedLog(
        ts=parse_timestamp(_nil(m.group("ts")), year=year),
        level=Severity.parse(pri % 8),
        service=_nil(m.group("app")),
        host=_nil(m.group("host")),
        pod=None,
        trace_id=trace or _trace_in(message),
        message=message,
        fmt="syslog",
        attributes=attrs,
    )


_RFC3164_PRI = re.compile(r"<(\d{1,3})>")


def _parse_3164(line: str, *, year: int | None) -> ParsedLog | None:
    parts = split_header(line)
    if parts.kind != "syslog":
        return None
    pri_m = _RFC3164_PRI.match(line)
    attrs: dict[str, str] = {}
    level = None
    if pri_m:
        pri = int(pri_m.group(1))
        level = Severity.parse(pri % 8)
        attrs["facility"] = str(pri // 8)
    if parts.pid:
        attrs["pid"] = parts.pid
    service = parts.component.split("(", 1)[0].split(" ", 1)[0] if parts.component else None
    return ParsedLog(
        ts=parse_timestamp(parts.ts, year=year),
        level=level,
        service=service,
        host=parts.host,
        pod=None,
        trace_id=_trace_in(parts.message),
        message=parts.message,
        fmt="syslog",
        attributes=attrs,
    )


# ------------------------------------------------------------------------------------- access logs
_CLF = re.compile(
    r"(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<ts>[^\]]+)\] "
    r"\"(?P<request>(?:[^\"\\]|\\.)*)\" (?P<status>\d{3}) (?P<bytes>\d+|-)"
    r"(?: \"(?P<referer>(?:[^\"\\]|\\.)*)\" \"(?P<agent>(?:[^\"\\]|\\.)*)\")?(?P<rest>.*)$"
)


def _parse_clf(m: re.Match[str]) -> ParsedLog:
    status = int(m.group("status"))
    attrs = {
        "client": m.group("client"),
        "status": str(status),
        "bytes": "0" if m.group("bytes") == "-" else m.group("bytes"),
    }
    for key in ("ident", "user"):
        if m.group(key) != "-":
            attrs[key] = m.group(key)
    method, _, rest = m.group("request").partition(" ")
    path, _, proto = rest.rpartition(" ") if " " in rest else (rest, "", "")
    attrs.update({"method": method, "path": path, "protocol": proto})
    if m.group("referer") not in (None, "-"):
        attrs["referer"] = m.group("referer")
    if m.group("agent") not in (None, "-"):
        attrs["user_agent"] = m.group("agent")
    extra = (m.group("rest") or "").strip()
    if extra:
        attrs["extra"] = extra
    level = Severity.ERROR if status >= 500 else Severity.WARNING if status >= 400 else Severity.INFO
    return ParsedLog(
        ts=parse_timestamp(m.group("ts")),
        level=level,
        service=None,
        host=None,
        pod=None,
        trace_id=_trace_in(extra),
        message=f"{m.group('request')} {status}",
        fmt="clf",
        attributes=attrs,
    )


# ------------------------------------------------------------------------------------- klog
_KLOG = re.compile(
    r"(?P<level>[IWEF])(?P<ts>\d{4} \d{2}:\d{2}:\d{2}\.\d+)\s+(?P<tid>\d+) (?P<source>[^\s\]]+:\d+)\] (?P<msg>.*)$"
)


def _parse_klog(m: re.Match[str], *, year: int | None) -> ParsedLog:
    message = m.group("msg")
    attrs = {"thread": m.group("tid"), "source": m.group("source")}
    attrs.update(_logfmt_pairs(message, strict=False))
    return ParsedLog(
        ts=parse_timestamp(m.group("ts"), year=year),
        level=_KLOG_LEVELS[m.group("level")],
        service=None,
        host=attrs.get("node"),
        pod=attrs.get("pod"),
        trace_id=_trace_in(message),
        message=message,
        fmt="klog",
        attributes=attrs,
    )


# ------------------------------------------------------------------------------------- logfmt
_PAIR = r"[\w.\-/@]+=(?:\"(?:[^\"\\]|\\.)*\"|[^\s\"]*)"
_LOGFMT_PAIR = re.compile(r"([\w.\-/@]+)=(\"(?:[^\"\\]|\\.)*\"|[^\s\"]*)")
_LOGFMT_LINE = re.compile(rf"\s*(?:{_PAIR}\s+)*{_PAIR}\s*")


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] == '"':
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), v[1:-1])
    return v


def _logfmt_pairs(text: str, *, strict: bool) -> dict[str, str]:
    if strict and not _LOGFMT_LINE.fullmatch(text):
        return {}
    return {k: _unquote(v) for k, v in _LOGFMT_PAIR.findall(text)}


def _parse_logfmt(pairs: dict[str, str], *, year: int | None) -> ParsedLog:
    flat: dict[str, Any] = dict(pairs)
    lowered = {k.lower(): k for k in flat}
    ts_raw = _take(flat, lowered, _TS_KEYS)
    level = _level(_take(flat, lowered, _LEVEL_KEYS))
    msg = _take(flat, lowered, _MSG_KEYS)
    service = _take(flat, lowered, _SERVICE_KEYS)
    host = _take(flat, lowered, _HOST_KEYS)
    pod = _take(flat, lowered, _POD_KEYS)
    trace = _take(flat, lowered, _TRACE_KEYS)
    return ParsedLog(
        ts=parse_timestamp(ts_raw, year=year),
        level=level,
        service=service,
        host=host,
        pod=pod,
        trace_id=trace,
        message=msg or "",
        fmt="logfmt",
        attributes={k: str(v) for k, v in flat.items()},
    )


# ------------------------------------------------------------------------------------- text
def _trace_in(text: str) -> str | None:
    m = _TRACE_IN_TEXT.search(text) if "race" in text else None
    return m.group(1) if m else None


def _ts_among(tokens: list[str], *, year: int | None) -> datetime | None:
    """A timestamp among header tokens: the first two together ("081109 203615"), then each alone."""
    candidates = [" ".join(tokens[:2]), *tokens] if len(tokens) >= 2 else tokens
    for text in candidates:
        ts = parse_timestamp(text, year=year)
        if ts is not None:
            return ts
    return None


def _parse_text(line: str, *, year: int | None) -> ParsedLog:
    parts = split_header(line)
    attrs: dict[str, str] = {}
    for key in ("component", "thread", "pid"):
        value = getattr(parts, key)
        if value:
            attrs[key] = value
    fmt = "python" if parts.kind == "python" else "text"
    ts_text = parts.ts
    if parts.kind == "leveled" and parts.ts and parts.thread is None:
        # Python's "asctime - name - LEVEL - message": the logger name sits between two dashes
        head = [p.strip() for p in parts.ts.split(" - ")]
        if len(head) >= 2 and head[-1] and " " not in head[-1]:
            fmt = "python"
            attrs["logger"] = head[-1]
            ts_text = " - ".join(head[:-1])
    ts = parse_timestamp(ts_text, year=year) if ts_text else None
    if ts is None and ts_text and parts.kind == "leveled":
        ts = _ts_among(ts_text.split(), year=year)
    if parts.kind == "python" and parts.component:
        attrs["logger"] = attrs.pop("component")
    return ParsedLog(
        ts=ts,
        level=Severity.parse(parts.level) if parts.level else None,
        service=None,
        host=parts.host,
        pod=None,
        trace_id=_trace_in(parts.message),
        message=parts.message,
        fmt=fmt,
        attributes=attrs,
    )


# ------------------------------------------------------------------------------------- entry point
def _try(line: str, fmt: str, *, year: int | None) -> ParsedLog | None:
    stripped = line.strip()
    if fmt in ("json", "journald"):
        if not stripped.startswith("{"):
            return None
        try:
            obj = json.loads(stripped)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        is_journal = "__REALTIME_TIMESTAMP" in obj or ("MESSAGE" in obj and ("_HOSTNAME" in obj or "PRIORITY" in obj))
        if fmt == "journald":
            return _parse_journal(obj) if is_journal else None
        return _parse_json(obj, year=year)
    if fmt == "syslog":
        m = _RFC5424.match(stripped)
        return _parse_5424(m, year=year) if m else _parse_3164(stripped, year=year)
    if fmt == "clf":
        m = _CLF.match(stripped)
        return _parse_clf(m) if m else None
    if fmt == "klog":
        m = _KLOG.match(stripped)
        return _parse_klog(m, year=year) if m else None
    if fmt == "logfmt":
        pairs = _logfmt_pairs(stripped, strict=True)
        return _parse_logfmt(pairs, year=year) if len(pairs) >= 2 else None
    if fmt == "python":
        parsed = _parse_text(stripped, year=year)
        return parsed if parsed.fmt == "python" else None
    return _parse_text(stripped, year=year)


def message_for_mining(line: str) -> str:
    """The message of a raw line, cheaply: JSON/journald ``msg``/``MESSAGE``, a logfmt ``msg=``,
    else the text after a generic header (:func:`core.logs.header.message_of`)."""
    stripped = line.strip()
    if stripped.startswith("{"):
        parsed = _try(stripped, "journald", year=None) or _try(stripped, "json", year=None)
        if parsed is not None and parsed.message:
            return parsed.message
        return stripped
    message = message_of(stripped)
    if message == stripped and ("msg=" in stripped or "message=" in stripped):
        pairs = _logfmt_pairs(stripped, strict=True)
        text = pairs.get("msg") or pairs.get("message")
        if text:
            return text
    return message


def parse_line(line: str, hint: str | None = None, *, year: int | None = None) -> ParsedLog:
    """Parse one line. ``hint`` forces a format (one of :data:`FORMATS`) and raises
    :class:`~core.errors.InvalidPayload` when the line is not in it; without a hint the format
    is detected and anything unrecognised is ``text``."""
    line = line.rstrip("\r\n")
    if hint is not None:
        if hint not in FORMATS:
            raise InvalidPayload(f"unknown log format hint {hint!r}", hint=f"use one of {', '.join(FORMATS)}")
        parsed = _try(line, hint, year=year)
        if parsed is None:
            raise InvalidPayload(f"line is not {hint}: {line[:120]!r}")
        return parsed
    stripped = line.strip()
    if stripped.startswith("{"):
        parsed = _try(line, "journald", year=year) or _try(line, "json", year=year)
        if parsed is not None:
            return parsed
    for fmt in ("syslog", "clf", "klog", "logfmt"):
        parsed = _try(line, fmt, year=year)
        if parsed is not None:
            return parsed
    return _parse_text(stripped, year=year)


__all__ = ["FORMATS", "ParsedLog", "message_for_mining", "parse_line", "parse_timestamp"]
