"""Generic header detection for plain-text log lines: split ``<header> <message>``.

No per-source formats: a handful of shapes that cover how most software writes a line header,
tried in order, each anchored at the start of the line so a miss costs a few character
comparisons:

``python``      ``LEVEL:logger:message`` (the logging module's default format)
``syslog``      ``[<PRI>]Mmm dd hh:mm:ss host tag[pid]: message`` (RFC 3164 style)
``klog``        ``I0102 15:04:05.000000   123 file.go:42] message`` (Kubernetes/glog)
``delimited``   ``<timestamp>|field|field|message`` (pipe- or tab-separated header fields)
``leveled``     up to 8 header tokens, a severity word (``INFO``, ``[error]`` ...), an optional
                ``[thread]`` and an optional ``qualified.Component:`` (log4j, logback, Spark,
                Hadoop, ZooKeeper, Python ``asctime - name - LEVEL -``, Apache error logs ...)
``timestamp``   a leading timestamp and nothing else recognisable

Anything else is all message. :func:`message_of` is the fast path used when mining raw lines;
:func:`split_header` also returns the header's fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# Written as a few branches with shared prefixes: sre tries alternatives one by one.
_UPPER_LEVELS = (
    r"INFO|ERR(?:OR)?|WARN(?:ING)?|DEBUG|TRACE|NOTICE|SEVERE|F(?:ATAL|AILURE)|CRIT(?:ICAL)?|ALERT|EMERG(?:ENCY)?|PANIC"
)
_LOWER_LEVELS = r"info|err(?:or)?|warn(?:ing)?|debug|trace|notice|severe|fatal|crit(?:ical)?|alert|emerg"
# Timestamps seen at the start of lines: ISO 8601 (space or T), slashed dates, compact
# yyyymmdd-hh:mm:ss, "Mmm dd hh:mm:ss", and a bare "date time" pair of numbers (yymmdd hhmmss).
# Like core.logs.masking, every pattern here counts digits only as unbounded runs (\d+): then
# the split depends on the line's shape alone and the miner can cache raw lines by shape key.
_TS = (
    r"\d+-\d+-\d+[T ]\d+:\d+(?::\d+)?(?:[.,]\d+)?(?:Z|[+-]\d+(?::\d+)?)?"
    r"|\d+/\d+/\d+[ T:]\d+:\d+:\d+(?:[.,]\d+)?"
    r"|\d+-\d+:\d+:\d+(?:[:.,]\d+)?"
    rf"|{_MONTH} +\d+ \d+:\d+:\d+(?:\.\d+)?"
    r"|\d+ \d+"
)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "python",
        re.compile(rf"(?P<level>{_UPPER_LEVELS}):(?P<component>[\w.-]+):"),
    ),
    (
        "syslog",
        re.compile(
            rf"(?:<(?P<pri>\d+)>)?(?P<ts>{_MONTH} +\d+ \d+:\d+:\d+)\s+(?P<host>[^\s:]+)\s+"
            r"(?P<component>[\w./-]+(?:\([^)\s]*\))?(?: \d[\w.]*)?)(?:\[(?P<pid>\d+)\])?:\s"
        ),
    ),
    (
        "klog",
        re.compile(r"(?P<level>[IWEF])(?P<ts>\d+ \d+:\d+:\d+\.\d+)\s+(?P<pid>\d+) (?P<component>[^\s\]]+:\d+)\] "),
    ),
    (
        "delimited",
        re.compile(rf"(?P<ts>{_TS})(?P<sep>[|\t])(?:[^|\t\s]*[|\t])*"),
    ),
    (
        "leveled",
        re.compile(
            # lazily skip up to 8 tokens; the lookahead rejects tokens that cannot start a level word
            r"(?P<pre>(?:\S+\s+){0,8}?)(?=[\[(<A-Z])"
            rf"(?:\[(?:\w+:)?(?P<blevel>{_LOWER_LEVELS}|{_UPPER_LEVELS})\]|[(<]?(?P<level>{_UPPER_LEVELS})[)>]?)"
            r"(?::|\s+-|\s*\|)?(?:\s+|$)"
            r"(?:\[(?P<thread>(?:[^\[\]]++|\[[^\[\]]*\])*+)\](?:\s+-|:)?\s+)?"
            r"(?:(?P<component>[\w$-]*[.$][\w$.@-]*):\s+)?"
        ),
    ),
    (
        "timestamp",
        re.compile(rf"\[?(?P<ts>{_TS})\]?(?:\s+-)?\s+"),
    ),
)

_HAS_DIGIT = re.compile(r"\d")
_BY_KIND = dict(_PATTERNS)


def _branch(kind: str, rx: re.Pattern[str]) -> str:
    # Group names must be unique across branches: prefix them with the kind; an empty marker
    # group closes each branch so Match.lastgroup names the branch that matched.
    body = re.sub(r"\(\?P<(\w+)>", lambda m: f"(?P<{kind}__{m.group(1)}>", rx.pattern)
    return f"(?:{body})(?P<{kind}>)"


# One anchored match with every shape as a branch: failing shapes cost no extra Python call.
_ANY = re.compile("|".join(_branch(kind, rx) for kind, rx in _PATTERNS))


@dataclass(frozen=True, slots=True)
class HeaderParts:
    """A line split into header fields (raw text, unparsed) and the message after them."""

    kind: str
    message: str
    ts: str | None = None
    level: str | None = None
    component: str | None = None
    host: str | None = None
    pid: str | None = None
    thread: str | None = None


def _match(line: str) -> tuple[str, re.Match[str]] | None:
    m = _ANY.match(line)
    if m is None:
        return None
    kind = m.lastgroup or ""
    if kind == "leveled":
        pre = m.group("leveled__pre")
        # A severity word after header tokens without any digit is message text, not a header.
        if pre and _HAS_DIGIT.search(pre) is None:
            ts = _BY_KIND["timestamp"].match(line)
            return ("timestamp", ts) if ts is not None else None
    return kind, m


def message_of(line: str) -> str:
    """The message part of a raw line (the whole line when no header shape is recognised)."""
    found = _match(line)
    if found is None:
        return line.strip()
    return line[found[1].end() :].strip()


def split_header(line: str) -> HeaderParts:
    """Split ``line`` into header fields and message; ``kind`` is ``"none"`` when there is no header."""
    line = line.rstrip("\r\n")
    found = _match(line)
    if found is None:
        return HeaderParts(kind="none", message=line.strip())
    kind, m = found
    prefix = f"{kind}__"
    g = {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in m.groupdict().items() if v is not None}
    ts = g.get("ts")
    if kind == "leveled":
        ts = (g.get("pre") or "").strip(" -[]|") or None
    return HeaderParts(
        kind=kind,
        message=line[m.end() :].strip(),
        ts=ts,
        level=g.get("level") or g.get("blevel"),
        component=g.get("component"),
        host=g.get("host"),
        pid=g.get("pid"),
        thread=g.get("thread"),
    )
