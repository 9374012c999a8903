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
# Runs are possessive (\d++, " ++"): what follows each one can never be a digit (or a space), so
# giving characters back could not lead to a match, only to slow backtracking on near misses.
_TS = (
    r"\d++-\d++-\d++[T ]\d++:\d++(?::\d++)?(?:[.,]\d++)?(?:Z|[+-]\d++(?::\d++)?)?"
    r"|\d++/\d++/\d++[ T:]\d++:\d++:\d++(?:[.,]\d++)?"
    r"|\d++-\d++:\d++:\d++(?:[:.,]\d++)?"
    rf"|{_MONTH} ++\d++ \d++:\d++:\d++(?:\.\d++)?"
    r"|\d++ \d++"
)
_DIGITS = "0123456789"
_MONTH_INITIALS = "JFMASOND"
# First letters of the upper-case level words (the top-level branches of _UPPER_LEVELS): a token
# starting with anything else cannot be one.
_LEVEL_INITIALS = "".join(sorted({branch[0] for branch in re.split(r"\|(?![^(]*\))", _UPPER_LEVELS)}))

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "python",
        re.compile(rf"(?P<level>{_UPPER_LEVELS}):(?P<component>[\w.-]+):"),
    ),
    (
        "syslog",
        # (possessive runs: each is followed by a character it cannot contain)
        re.compile(
            rf"(?:<(?P<pri>\d++)>)?(?P<ts>{_MONTH} ++\d++ \d++:\d++:\d++)\s++(?P<host>[^\s:]++)\s++"
            r"(?P<component>[\w./-]++(?:\([^)\s]*+\))?(?: \d[\w.]*+)?)(?:\[(?P<pid>\d++)\])?:\s"
        ),
    ),
    (
        "klog",
        re.compile(r"(?P<level>[IWEF])(?P<ts>\d+ \d+:\d+:\d+\.\d+)\s+(?P<pid>\d+) (?P<component>[^\s\]]+:\d+)\] "),
    ),
    (
        "delimited",
        # (possessive fields: a field ends at the first separator, and the pattern ends after them)
        re.compile(rf"(?P<ts>{_TS})(?P<sep>[|\t])(?:[^|\t\s]*+[|\t])*+"),
    ),
    (
        "leveled",
        re.compile(
            # lazily skip up to 8 tokens; the lookahead rejects tokens that cannot start a level word
            # (possessive tokens: a level word starts after whitespace, so shorter tokens never help)
            rf"(?P<pre>(?:\S++\s++){{0,8}}?)(?=[\[(<{_LEVEL_INITIALS}])"
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

# The characters each shape can start with (None: any), read off the patterns above. A line is
# tried against the shapes in order, like one alternation would, but a shape that cannot start
# with the line's first character is skipped without a call; a shape on its own also backtracks
# less than the same shape as a branch of one big pattern with every group of every shape.
_FIRST_CHARS: dict[str, frozenset[str] | None] = {
    "python": frozenset(_LEVEL_INITIALS),
    "syslog": frozenset("<" + _MONTH_INITIALS),
    "klog": frozenset("IWEF"),
    "delimited": frozenset(_DIGITS + _MONTH_INITIALS),
    "leveled": None,
    "timestamp": frozenset("[" + _DIGITS + _MONTH_INITIALS),
}

_Shapes = tuple[tuple[str, re.Pattern[str]], ...]


def _shapes_starting_with(char: str) -> _Shapes:
    return tuple((kind, rx) for kind, rx in _PATTERNS if (_FIRST_CHARS[kind] or {char}) >= {char})


# First character of the line -> the shapes to try, in order (a dict hit instead of six checks).
_BY_FIRST_CHAR: dict[str, _Shapes] = {
    c: _shapes_starting_with(c) for starts in _FIRST_CHARS.values() if starts for c in starts
}
_ANY_FIRST_CHAR: _Shapes = tuple((kind, rx) for kind, rx in _PATTERNS if _FIRST_CHARS[kind] is None)


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
    for kind, rx in _BY_FIRST_CHAR.get(line[:1], _ANY_FIRST_CHAR):
        m = rx.match(line)
        if m is not None:
            return _leveled_or_timestamp(line, m) if kind == "leveled" else (kind, m)
    return None


def _leveled_or_timestamp(line: str, m: re.Match[str]) -> tuple[str, re.Match[str]] | None:
    pre = m.group("pre")
    # A severity word after header tokens without any digit is message text, not a header.
    if pre and _HAS_DIGIT.search(pre) is None:
        ts = _BY_KIND["timestamp"].match(line)
        return ("timestamp", ts) if ts is not None else None
    return "leveled", m


def message_of(line: str) -> str:
    """The message part of a raw line (the whole line when no header shape is recognised)."""
    # _match inlined (it runs once per new line shape when mining raw lines)
    for kind, rx in _BY_FIRST_CHAR.get(line[:1], _ANY_FIRST_CHAR):
        m = rx.match(line)
        if m is not None:
            if kind == "leveled":
                found = _leveled_or_timestamp(line, m)
                if found is None:
                    return line.strip()
                m = found[1]
            return line[m.end() :].strip()
    return line.strip()


def split_header(line: str) -> HeaderParts:
    """Split ``line`` into header fields and message; ``kind`` is ``"none"`` when there is no header."""
    line = line.rstrip("\r\n")
    found = _match(line)
    if found is None:
        return HeaderParts(kind="none", message=line.strip())
    kind, m = found
    g = {k: v for k, v in m.groupdict().items() if v is not None}
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
