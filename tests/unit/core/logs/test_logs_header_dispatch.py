"""Header detection tries each shape on its own, only the shapes a line's first character allows,
with possessive runs: it must split every line exactly like one alternation of the shapes as first
written (plain greedy runs, every shape tried in order)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from core.logs import header
from core.logs.header import message_of, split_header

# The speed-ups in the shapes, undone: possessive runs and the narrowed level lookahead. (The
# [thread] group of the leveled shape was written possessive from the start and stays so.)
_PLAIN_FORMS = {
    r"\d++": r"\d+",
    r" ++": r" +",
    r"(?:\S++\s++)": r"(?:\S+\s+)",
    r"\s++": r"\s+",
    r"[^\s:]++": r"[^\s:]+",
    r"[\w./-]++": r"[\w./-]+",
    r"[^)\s]*+": r"[^)\s]*",
    r"[\w.]*+": r"[\w.]*",
    r"(?:[^|\t\s]*+[|\t])*+": r"(?:[^|\t\s]*[|\t])*",
    f"(?=[\\[(<{header._LEVEL_INITIALS}])": r"(?=[\[(<A-Z])",
}
_ORIGINALLY_POSSESSIVE = r"(?:[^\[\]]++|\[[^\[\]]*\])*+"


def _plain(pattern: str) -> str:
    for fast, plain in _PLAIN_FORMS.items():
        pattern = pattern.replace(fast, plain)
    return pattern


def _reference() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """One anchored alternation of the plain shapes, in order; an empty marker group per shape."""
    branches = []
    for kind, rx in header._PATTERNS:
        # group names must be unique across branches: prefix them with the shape
        body = re.sub(r"\(\?P<(\w+)>", rf"(?P<{kind}__\1>", _plain(rx.pattern))
        branches.append(f"(?:{body})(?P<{kind}>)")
    timestamp = re.compile(_plain(header._BY_KIND["timestamp"].pattern))
    return re.compile("|".join(branches)), timestamp


_ANY, _TIMESTAMP = _reference()
_FIELDS = ("ts", "level", "component", "host", "pid", "thread")


def _reference_split(line: str) -> tuple[str, str, dict[str, str | None]]:
    """(kind, message, fields) the way the single alternation splits ``line``."""
    line = line.rstrip("\r\n")
    m = _ANY.match(line)
    kind = m.lastgroup if m is not None else None
    prefix = f"{kind}__"
    if m is not None and kind == "leveled":
        pre = m.group("leveled__pre")
        if pre and re.search(r"\d", pre) is None:  # a level word after digit-free tokens is text
            m = _TIMESTAMP.match(line)
            kind, prefix = ("timestamp", "") if m is not None else (None, "")
    if m is None or kind is None:
        return "none", line.strip(), dict.fromkeys(_FIELDS)
    groups = {k.removeprefix(prefix): v for k, v in m.groupdict().items() if v is not None}
    fields: dict[str, str | None] = {f: groups.get(f) for f in _FIELDS}
    fields["level"] = groups.get("level") or groups.get("blevel")
    if kind == "leveled":
        fields["ts"] = (groups.get("pre") or "").strip(" -[]|") or None
    return kind, line[m.end() :].strip(), fields


_VOCAB = [
    *("2015-10-18", "18:01:47,978", "17:41:44,747", "2024-01-01T00:00:00.123+02:00", "2024/01/02", "15:04:05"),
    *("081109", "203615", "148", "Jun", "14", "15:16:01", "<13>Jun", "I0102", "15:04:05.123456", "12345"),
    *("INFO", "WARN", "ERROR", "FATAL", "FAILURE", "ERR:", "(WARN)", "<ERROR>", "[error]", "[info:x]", "notice"),
    *("INFO:urllib3:", "WARNING:a.b:", "[main]", "[QuorumPeer[myid=1]/0:0:0:0:2181:X@7]", "[client 1.2.3.4]"),
    *("org.a.B:", "a.B$C:", "dfs.DataNode$PacketResponder:", "combo", "sshd(pam_unix)[19939]:", "controller.go:42]"),
    *("20171223-22:15:29:606|Step_LSC|30002312|", "-", "|", "\t", "x=1", "msg", "abc", "Thread-1", "1e5", "Z"),
]


def _generated(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    seps = [" ", " ", " ", "  ", "\t", " - "]
    return [rng.choice(seps).join(rng.choice(_VOCAB) for _ in range(rng.randint(1, 12))) for _ in range(count)]


def _check(lines: list[str]) -> None:
    for line in lines:
        kind, message, fields = _reference_split(line)
        parts = split_header(line)
        assert (parts.kind, parts.message) == (kind, message), line
        assert {f: getattr(parts, f) for f in _FIELDS} == fields, line
        assert message_of(line) == message, line


def test_plain_forms_undo_every_speed_up() -> None:
    patterns = "".join(rx.pattern for _, rx in header._PATTERNS)
    assert all(fast in patterns for fast in _PLAIN_FORMS)
    plain = "".join(_plain(rx.pattern) for _, rx in header._PATTERNS).replace(_ORIGINALLY_POSSESSIVE, "")
    assert "++" not in plain and "*+" not in plain and "A-Z" in plain


def test_dispatch_splits_generated_lines_like_one_alternation() -> None:
    _check(_generated(30_000, seed=11))


@pytest.mark.shared_data
def test_dispatch_splits_loghub_lines_like_one_alternation(shared_data: Path) -> None:
    lines: list[str] = []
    for path in sorted((shared_data / "loghub").glob("*/*_2k.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    assert len(lines) == 16_000
    _check(lines)
