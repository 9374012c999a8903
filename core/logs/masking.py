"""Variable masking for template mining: turn the parts of a message that change between
occurrences of the same event (numbers, ids, addresses, paths, times, sizes) into ``<*>``.

:func:`mask` runs a few precompiled regexes over a message: the slow path, run once per new
*shape*. The miner's caches key messages by cheap byte-level keys instead:

* :func:`digits_key`: UTF-8 with every ASCII digit turned into ``0`` (one ``bytes.translate``);
* :func:`shape_key` / :func:`shorten_digit_runs`: the same with digit runs shortened;
* :func:`word_run_key`: every digit together with the word characters after it (``0x1f``,
  ``12ms``, ``3a9c``) folded into one ``0``, so hex values and ids of any length share a key (one
  regex that only stops at digits, far cheaper than :func:`mask`).

:func:`mask_key` masks the text of such a key, which is as good as masking any message with it.

The invariant that makes these keys sound: **every rule treats digits only through unbounded
``\\d+``/``\\w+`` classes**, never by value or by count (no ``\\d{1,3}``), and no digit survives the
digits pass. Then two messages with the same digits or shape key mask to the same string, so the
miner can map a key straight to its template and skip the regexes for almost every line.

Why :func:`word_run_key` is sound too: a run that starts at a digit and continues with word
characters never contains a delimiter, so it lies inside one digit-bearing sub-token, which the
digits pass masks whole. The URL and e-mail rules that run before it cannot start inside such a
run or right after it (their first character must follow a non-word character; a URL starts
with a letter, so not even on the run's leading digit), cannot end inside it (a top-level domain
is letters after a dot, followed by a word boundary) and treat every word character alike in
between; so they replace the same spans whatever the run holds, and every later rule sees the
same text. ``tests/unit/core/logs`` checks these properties on Loghub and on generated messages.
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
    # digit), with a size unit after it when there is one ("5.2 KB" is one value). A unit can end
    # inside a sub-token ("5 KB/s"); the rest of that sub-token goes with it when it holds a digit
    # ("5 KB/1s"), so no digit ever survives this pass: the caches rely on that.
    (
        "digits",
        "",
        rf"(?<![^{_DELIMS}])[^{_DELIMS}\d]*+\d[^{_DELIMS}]*+"
        rf"(?: ?(?:[KMGTPE]i?B|B)(?!\w)(?:[^{_DELIMS}\d]*+\d[^{_DELIMS}]*+)?)?",
    ),
    # Clock times, now "<*>:<*>:<*>" with an optional fraction: 07:07:00, 18:01:47,978, 12:00:00.5Z
    ("clock", ":<*>:", r"<\*>(?::<\*>){2,}(?:[.,]<\*>)?"),
    # ... and dates around them: "Fri Jun 17 07:07:00 2005", "Jun 17 07:07:00", "Mon, Jun 6 1:02:03"
    ("date", "<*> <*>", rf"\b(?:{_WEEKDAY},? )?{_MONTH} +<\*>(?:,? <\*>)? <\*>(?: <\*>)?"),
    # Paths left (no digit in them): /a/b, ./x, ../x, ~/x; a lone "/" is not a path.
    ("path", "/", rf"(?<![^{_DELIMS}])(?:~|\.\.?)?(?:/[^{_DELIMS}/]+)+/?"),
)

_COMPILED: tuple[tuple[str, re.Pattern[str]], ...] = tuple((g, re.compile(rx, re.ASCII)) for _, g, rx in _RULES)
# The same rules by name, for the unrolled pass in mask() (one Python loop iteration less per rule).
(_URL_RX, _EMAIL_RX, _DIGITS_RX, _CLOCK_RX, _DATE_RX, _PATH_RX) = (rx for _, rx in _COMPILED)
# Values next to each other ("<*> <*>", "<*>:<*> <*>:<*>") are one variable-length value. The
# pattern opens with a literal so sre can jump between candidates instead of trying every position.
_VALUE = r"<\*>(?:[:.,/@#_-]*<\*>)*"
_RUN_RE = re.compile(rf"{_VALUE}(?:\s+{_VALUE})+")

# bytes.translate is a C table lookup: all ASCII digits become b"0", then digit runs are shortened.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
# On digits-normalised bytes: a digit and the word characters after it ([A-Za-z0-9_] for bytes).
# The literal "0" lets sre jump from digit to digit (a lone "0" would be replaced by itself).
_DIGIT_WORD_RUN = re.compile(rb"0\w+")
# Delimiter bytes -> b" " and nothing else becomes a space: the sub-token boundaries of an ASCII
# key, for C-level searches (\s is [ \t\n\r\f\v] in ASCII mode).
_DELIM_BYTES = b" \t\n\r\x0b\x0c=:,;()[]{}'\"<>|"
_DELIMS_TO_SPACE = bytes.maketrans(_DELIM_BYTES, b" " * len(_DELIM_BYTES))
# The size unit the digits rule takes after a value's sub-token, and the bytes it can start with.
_UNIT_AFTER = re.compile(r" (?:[KMGTPE]i?B|B)(?!\w)", re.ASCII)
_UNIT_INITIALS = frozenset(b"KMGTPEB")


def mask(message: str, *, has_digits: bool = True) -> str:
    """Replace every variable part of ``message`` with ``<*>``; adjacent variables collapse into one.

    Collapsing makes variable-length lists ("to 10.0.0.1:50010 10.0.0.2:50010") one slot, so
    messages of the same event with a different number of list items still share a template;
    a lone value keeps its shape ("<*>:<*>"). ``has_digits=False`` is a promise from a caller that
    already knows the message holds no ASCII digit: the digits pass, which could not match, is skipped.
    """
    # The rules of _RULES in order, each behind its guard (see there).
    masked = message
    if "://" in masked:
        masked = _URL_RX.sub(MASK, masked)
    if "@" in masked:
        masked = _EMAIL_RX.sub(MASK, masked)
    if has_digits:
        masked = _DIGITS_RX.sub(MASK, masked)
    return _mask_after_digits(masked)


def _mask_after_digits(masked: str) -> str:
    """The rules after the digits pass (they read its ``<*>``), then adjacent values collapse."""
    if MASK in masked:
        if ":<*>:" in masked:
            masked = _CLOCK_RX.sub(MASK, masked)
        if "<*> <*>" in masked:
            masked = _DATE_RX.sub(MASK, masked)
    if "/" in masked:
        masked = _PATH_RX.sub(MASK, masked)
    if "> <" in masked or ">\t" in masked or ">  " in masked:
        masked = _RUN_RE.sub(MASK, masked)
    return masked


def mask_key(key: bytes) -> str:
    """:func:`mask` of the text of a :func:`digits_key` or :func:`word_run_key` (UTF-8 bytes).

    Messages with equal keys mask alike and the key's text is such a message itself (each run
    is now a lone ``0``), so the result is the mask of every message with that key. A key
    without ``0`` stands for messages without ASCII digits: the digits pass is skipped.
    """
    text = key.decode("utf-8", "surrogatepass")
    if b"0" not in key:
        return mask(text, has_digits=False)
    if len(text) != len(key) or "://" in text or "@" in text:
        return mask(text)  # non-ASCII (byte and character offsets differ), or the URL/e-mail passes run
    if key.count(b"0") * 10 >= len(key):
        return mask(text)  # dense values: one regex pass beats a few searches per value
    return _mask_after_digits(_mask_digit_subtokens(text, key))


def _mask_digit_subtokens(text: str, key: bytes) -> str:
    """The digits pass of :func:`mask` (``_DIGITS_RX.sub``) on the ASCII ``text`` of ``key``.

    The regex tries a match at every position; here C-level byte searches go from digit to digit
    and widen each to its sub-token, so a message with few values (fewer than one digit per ten
    characters, see :func:`mask_key`) costs a few searches per value instead.
    ``tests/unit/core/logs`` checks that both give the same text.
    """
    marks = key.translate(_DELIMS_TO_SPACE)
    size = len(key)
    out: list[str] = []
    done = 0  # end of the last replaced value
    digit = key.find(b"0")
    while digit >= 0:
        start = marks.rfind(b" ", 0, digit) + 1
        end = marks.find(b" ", digit)
        if end < 0:
            end = size
        if end + 1 < size and key[end] == 32 and key[end + 1] in _UNIT_INITIALS:
            unit = _UNIT_AFTER.match(text, end)  # "5.2 KB" is one value
            if unit is not None:
                end = unit.end()
                # the rest of the unit's sub-token goes too when it holds a digit ("5 KB/1s")
                rest = marks.find(b" ", end)
                rest = size if rest < 0 else rest
                if key.find(b"0", end, rest) >= 0:
                    end = rest
        out.append(text[done:start])
        out.append(MASK)
        done = end
        digit = key.find(b"0", end)
    out.append(text[done:])
    return "".join(out)


def digits_key(message: str) -> bytes:
    """``message`` as UTF-8 with every ASCII digit turned into ``0`` (lone surrogates kept)."""
    try:
        raw = message.encode()
    except UnicodeEncodeError:  # lone surrogates from undecodable input bytes
        raw = message.encode("utf-8", "surrogatepass")
    return raw.translate(_DIGITS_TO_ZERO)


def word_run_key(digits: bytes) -> bytes:
    """A cache key for a :func:`digits_key`: each digit with the word characters after it becomes
    one ``0`` ("blk_0000" -> "blk_0", "0x0fe0" -> "0"). Messages with the same key mask alike (see
    the module docstring); the key is ``digits`` itself when there is no digit."""
    return _DIGIT_WORD_RUN.sub(b"0", digits)


def shape_key(message: str) -> bytes:
    """A cache key shared by messages that differ only in their ASCII digit runs (values, and
    lengths up to a coarse bucketing).

    Digits become ``0`` and runs are shortened by a fixed rule (any rule works as long as a run
    stays non-empty and never merges with another run); :func:`mask` gives the same result for
    any two messages with the same key, because its rules never look at digit values or counts.
    """
    return shorten_digit_runs(digits_key(message))


def shorten_digit_runs(digits: bytes) -> bytes:
    """The :func:`shape_key` of a :func:`digits_key`: runs of ``0`` shortened by three C-level passes."""
    return digits.replace(b"0000", b"0").replace(b"00", b"0").replace(b"00", b"0")
