"""Variable masking for template mining: turn the parts of a message that change between
occurrences of the same event (numbers, ids, addresses, paths, times, sizes) into ``<*>``.

Two functions, one invariant:

* :func:`mask` runs a few precompiled regexes over the message (the slow path, run once per
  new *shape*).
* :func:`shape_key` is a cheap key (bytes translate + replace, no regex): equal for messages
  that differ only in their ASCII digit values (and, mostly, in digit-run lengths).

The invariant that makes the cache sound: **every rule treats digits only through unbounded
``\\d+``/``\\w+`` classes**, never by value or by count (no ``\\d{1,3}``). Then two messages with
the same shape key mask to the same string, so the miner can map a shape key straight to its
template and skip the regex for almost every line. ``tests/unit/core/logs`` checks the invariant.
"""

from __future__ import annotations

import re

MASK = "<*>"

# Characters that end a sub-token: a digit-bearing run between two of these is one variable.
# '.', '-', '_', '/', '@', '#', '$' stay inside so ids like blk_-123, 10.0.0.1 or a.b$C@1f stay whole.
_DELIMS = r"""\s=:,;()\[\]{}'"<>|"""
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"

# (name, guard, regex): rules run in this order, each on the output of the previous one, and a
# rule runs only when its guard substring occurs ("" = always). The one unguarded pass masks every
# digit-bearing sub-token; times, dates and paths are then recognised on its output ("<*>:<*>:<*>"),
# so most messages cost a single regex pass.
_RULES: tuple[tuple[str, str, str], ...] = (
    # URLs (before ':' would split them) and e-mail addresses.
    ("url", "://", r"(?<![\w+.-])[A-Za-z][\w+.-]*://[^\s'\"<>()\[\]{}]+"),
    ("email", "@", r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]+\b"),
    # Any sub-token holding a digit (numbers, hex, ids, IPs, versions, uuids, hashes, paths with a
    # digit), with a size unit after it when there is one ("5.2 KB" is one value).
    ("digits", "", rf"(?<![^{_DELIMS}])[^{_DELIMS}\d]*+\d[^{_DELIMS}]*+(?: ?(?:[KMGTPE]i?B|B)(?!\w))?"),
    # Clock times, now "<*>:<*>:<*>" with an optional fraction: 07:07:00, 18:01:47,978, 12:00:00.5Z
    ("clock", ":<*>:", r"<\*>(?::<\*>){2,}(?:[.,]<\*>)?"),
    # ... and dates around them: "Fri Jun 17 07:07:00 2005", "Jun 17 07:07:00", "Mon, Jun 6 1:02:03"
    ("date", "<*> <*>", rf"\b(?:{_WEEKDAY},? )?{_MONTH} +<\*>(?:,? <\*>)? <\*>(?: <\*>)?"),
    # Paths left (no digit in them): /a/b, ./x, ../x, ~/x; a lone "/" is not a path.
    ("path", "/", rf"(?<![^{_DELIMS}])(?:~|\.\.?)?(?:/[^{_DELIMS}/]+)+/?"),
)

_COMPILED: tuple[tuple[str, re.Pattern[str]], ...] = tuple((g, re.compile(rx, re.ASCII)) for _, g, rx in _RULES)
# Values next to each other ("<*> <*>", "<*>:<*> <*>:<*>") are one variable-length value. The
# pattern opens with a literal so sre can jump between candidates instead of trying every position.
_VALUE = r"<\*>(?:[:.,/@#_-]*<\*>)*"
_RUN_RE = re.compile(rf"{_VALUE}(?:\s+{_VALUE})+")

# bytes.translate is a C table lookup: all ASCII digits become b"0", then digit runs are shortened.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def mask(message: str) -> str:
    """Replace every variable part of ``message`` with ``<*>``; adjacent variables collapse into one.

    Collapsing makes variable-length lists ("to 10.0.0.1:50010 10.0.0.2:50010") one slot, so
    messages of the same event with a different number of list items still share a template;
    a lone value keeps its shape ("<*>:<*>").
    """
    masked = message
    for guard, rx in _COMPILED:
        if guard in masked:
            masked = rx.sub(MASK, masked)
    if "> <" in masked or ">\t" in masked or ">  " in masked:
        masked = _RUN_RE.sub(MASK, masked)
    return masked


def shape_key(message: str) -> bytes:
    """A cache key shared by messages that differ only in their ASCII digit runs (values, and
    lengths up to a coarse bucketing).

    Digits become ``0`` and runs are shortened by a fixed rule (any rule works as long as a run
    stays non-empty and never merges with another run); :func:`mask` gives the same result for
    any two messages with the same key, because its rules never look at digit values or counts.
    """
    try:
        raw = message.encode()
    except UnicodeEncodeError:  # lone surrogates from undecodable input bytes
        raw = message.encode("utf-8", "surrogatepass")
    return raw.translate(_DIGITS_TO_ZERO).replace(b"0000", b"0").replace(b"00", b"0").replace(b"00", b"0")
