"""Mask secrets and personal data in log text before it is stored or sent to a language model.

:func:`redact` replaces the secret part with ``[REDACTED]`` and keeps the structure around it
(the key name, the URL scheme and user, the header name), so redacted lines still read well and
still mine into the same templates. Rules, applied in order:

* PEM private-key blocks (whole block, or to the end of the text when the END line is cut off)
* connection strings / URLs with credentials: ``postgres://user:pass@``, ``mongodb+srv://``,
  ``redis://:pass@`` (the password goes, the user stays)
* JSON Web Tokens (three base64url parts starting ``eyJ``)
* vendor tokens with a known prefix: AWS access key ids, GitHub (``ghp_``, ``github_pat_`` ...),
  Slack (``xox?-``, webhook URLs), Stripe (``sk_live_`` ...), Google API keys (``AIza``),
  OpenAI/Anthropic-style ``sk-`` keys, npm and PyPI tokens
* ``Authorization:`` / API-key headers and ``Bearer``/``Basic``/``Token`` credentials
* values of secret-named keys (password, passwd, pwd, secret, token, api_key, access_key,
  private_key, client_secret, credentials ...) in JSON, logfmt/``key=value``, URL query strings
  and ``key: "quoted"`` forms
* e-mail addresses

Each rule runs only when one of its guard words occurs in the lower-cased line (a rule's regex
cannot match otherwise); one search for all of them lets most lines return untouched at once.
:func:`redact_rule_by_rule` is the plain form, kept for tests to compare against.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

REDACTED = "[REDACTED]"

# A key whose value is a secret: checked on the key text alone (fast), after a generic key=value match.
_SECRET_KEY = re.compile(
    r"password|passwd|passphrase|secret|token(?!s|iz)|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"credential|auth[_-]?key|session[_-]?key|signature(?![_-]?(?:alg|method|version|type))",
    re.IGNORECASE,
)


def _if_secret(m: re.Match[str], redacted: str) -> str:
    return redacted if _SECRET_KEY.search(m[2]) else m[0]


_Rule = tuple[str, re.Pattern[str], str | Callable[[re.Match[str]], str]]

_RULES: tuple[_Rule, ...] = (
    (
        "pem",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----.*?(?:-----END \1PRIVATE KEY\2-----|\Z)",
            re.DOTALL,
        ),
        lambda m: f"-----BEGIN {m[1]}PRIVATE KEY{m[2]}-----{REDACTED}-----END {m[1]}PRIVATE KEY{m[2]}-----",
    ),
    (
        "url_credentials",
        re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s:/@?#'\"]*):([^\s@/?#'\"]+)@"),
        rf"\1\2:{REDACTED}@",
    ),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
    (
        "vendor_token",
        re.compile(
            r"\b(?:"
            r"(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|AGPA)[A-Z0-9]{16}"  # AWS access key id
            r"|gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub
            r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{10,}"  # Stripe
            r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
            r"|sk-(?:proj-|ant-(?:api\d+-)?)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style
            r"|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,}"  # package registries
            r"|glpat-[A-Za-z0-9_-]{20}"  # GitLab
            r")\b"
        ),
        REDACTED,
    ),
    (
        "slack_webhook",
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]+"),
        f"https://hooks.slack.com/{REDACTED}",
    ),
    (
        "auth_header",
        # the credential after Authorization / API-key headers, with or without a scheme word
        re.compile(
            r"\b((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|x-access-token)"
            r"([\"']?\s*[:=]\s*[\"']?)(?>(?:(bearer|basic|token|digest|negotiate|apikey)\s+)?)(?![\[\s])[^\s\"',;]+",
            re.IGNORECASE,
        ),
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) + ' ' if m.group(3) else ''}{REDACTED}",
    ),
    (
        "cookie",
        # session cookies are credentials too: everything up to the end of the header value
        re.compile(r"\b((?:set-)?cookie[\"']?\s*:\s*[\"']?)(?![\s\[])[^\"'\n]+", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    (
        "bearer",
        # a credential has a digit or one of + / = _ . - in it ("Bearer authentication" is prose)
        re.compile(r"\b(Bearer|Basic)\s+(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE),
        rf"\1 {REDACTED}",
    ),
    (
        "secret_quoted",
        # "password": "x", 'api_key': 'x', password="x", secret: "x"
        re.compile(r"(?<![\w.-])([\"']?)([\w.-]{1,80})([\"']?\s*[:=]\s*)(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"),
        lambda m: _if_secret(m, f"{m[1]}{m[2]}{m[3]}{m[4][0]}{REDACTED}{m[4][0]}"),
    ),
    (
        "secret_json_bare",
        # "password": 12345, 'secret': true (quoted key, bare value)
        re.compile(r"(?<![\w.-])([\"'])([\w.-]{1,80})([\"']\s*[:=]\s*)(?![\"'\[\s])([^\s,;\"'}\]]+)"),
        lambda m: _if_secret(m, f"{m[1]}{m[2]}{m[3]}{REDACTED}"),
    ),
    (
        "odbc_pwd",
        re.compile(r"(;\s*pwd\s*=\s*)(?![\s\[])([^;\s]+)", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    (
        "secret_bare",
        # password=x, secret = x, ?api_key=x&..., token:x (no space after ':': "token: expired" is prose)
        re.compile(r"(?<![\w.-])()([\w.-]{1,80})(\s*=\s*|:)(?![\"'\s\[])([^\s&,;\"'<>)\]}]+)"),
        lambda m: _if_secret(m, f"{m[2]}{m[3]}{REDACTED}"),
    ),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), REDACTED),
)

# Cheap substring tests that let a rule's regex be skipped entirely (lower-cased text). A rule
# runs only when one of its words occurs; every match of a rule's regex contains one of them.
_SECRET_WORDS = ("pass", "secret", "token", "key", "credential", "signature")
# The vendor-token regex is case-sensitive and every branch opens with a literal prefix: its
# lower-cased prefixes are a guard that never skips a real token.
_VENDOR_PREFIXES = (
    *(p.lower() for p in ("AKIA", "ASIA", "ABIA", "ACCA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "AGPA")),
    *(f"gh{c}_" for c in "pousr"),
    "github_pat_",
    *(f"xox{c}-" for c in "abposr"),
    *(f"{k}_{env}_" for k in ("sk", "rk", "pk") for env in ("live", "test")),
    "whsec_",
    "aiza",
    "sk-",
    "npm_",
    "pypi-",
    "glpat-",
)
_GUARDS: dict[str, tuple[str, ...]] = {
    "pem": ("private key",),
    "url_credentials": ("://",),
    "jwt": ("eyj",),
    "slack_webhook": ("hooks.slack.com",),
    "email": ("@",),
    "auth_header": ("authorization", "api-key", "auth-token", "access-token"),
    "bearer": ("bearer", "basic"),
    "secret_quoted": _SECRET_WORDS,
    "secret_json_bare": _SECRET_WORDS,
    "odbc_pwd": ("pwd",),
    "cookie": ("cookie",),
    "secret_bare": _SECRET_WORDS,
}


def _any_word(words: Iterable[str]) -> re.Pattern[str]:
    """One regex that finds any of ``words`` (literal substrings) in a single pass.

    Alternatives are grouped by their first character: sre then skips to the positions holding
    one of those characters and tries one group there, instead of every word at every position.
    """
    by_first: dict[str, set[str]] = {}
    for w in words:
        by_first.setdefault(w[0], set()).add(w[1:])
    branches = []
    for first, rests in sorted(by_first.items()):
        if "" in rests:  # the bare first character already decides (e.g. "@")
            branches.append(re.escape(first))
        else:
            alts = "|".join(re.escape(r) for r in sorted(rests, key=lambda r: (-len(r), r)))
            branches.append(f"{re.escape(first)}(?:{alts})")
    return re.compile("|".join(branches))


_FAST_GUARDS = {**_GUARDS, "vendor_token": _VENDOR_PREFIXES}
_RULE_BIT = {name: 1 << i for i, (name, _, _) in enumerate(_RULES)}


def _rules_by_word() -> dict[str, int]:
    """Guard word -> the rules it lets run, as bits (bit i: ``_RULES[i]``)."""
    out: dict[str, int] = {}
    for name, words in _FAST_GUARDS.items():
        for word in words:
            out[word] = out.get(word, 0) | _RULE_BIT[name]
    return out


_RULES_OF_WORD = _rules_by_word()
# Every guard word of every rule in one search: a line holding none of them (most lines) has
# nothing to redact and costs one lower() and one search. No guard word is a prefix of another
# (tests check it), so at most one matches at a position and searching again from the next
# position finds every occurrence.
_ANY_GUARD = _any_word(_RULES_OF_WORD)

# The three secret-key rules change a line only where a key that _SECRET_KEY accepts is followed by
# an optional quote and ':' or '='; every _SECRET_KEY word holds one of _SECRET_WORDS and the rest
# of the key is [\w.-]. Checked with the rules' own case folding on the line as given (no earlier
# rule writes such a key/separator pair: they only put [REDACTED] in place of values), this skips
# the three key=value scans on lines that merely mention a token or a key.
_SECRET_ASSIGNMENT = re.compile(rf"(?:{'|'.join(_SECRET_WORDS)})[\w.-]*[\"']?\s*[:=]", re.IGNORECASE)
_ASSIGNMENT_AFTER_WORD = re.compile(r"[\w.-]*[\"']?\s*[:=]")
_SECRET_BITS = _RULE_BIT["secret_quoted"] | _RULE_BIT["secret_json_bare"] | _RULE_BIT["secret_bare"]
_SECRET_WORD_SET = frozenset(_SECRET_WORDS)


def _rules_to_run(text: str, lowered: str, first: re.Match[str]) -> int:
    """Bits of the rules whose guard words occur in ``lowered`` (``first``: the first occurrence),
    less the secret-key rules when no secret word is followed by an assignment."""
    bits = 0
    assignment = False
    # lower() keeps positions in ASCII text: the words found in ``lowered`` sit where they do in
    # ``text``, and the assignment check (case-blind) can run right after each secret word.
    ascii_text = text.isascii()
    m: re.Match[str] | None = first
    while m is not None:
        word = m.group()
        bits |= _RULES_OF_WORD[word]
        if ascii_text and not assignment and word in _SECRET_WORD_SET:
            assignment = _ASSIGNMENT_AFTER_WORD.match(lowered, m.end()) is not None
        m = _ANY_GUARD.search(lowered, m.start() + 1)
    if bits & _SECRET_BITS and not ascii_text:
        assignment = _SECRET_ASSIGNMENT.search(text) is not None
    return bits if assignment else bits & ~_SECRET_BITS


def redact(text: str) -> str:
    """``text`` with every secret and e-mail address replaced by ``[REDACTED]``."""
    lowered = text.lower()
    first = _ANY_GUARD.search(lowered)
    if first is None:
        return text
    bits = _rules_to_run(text, lowered, first)
    for name, rx, repl in _RULES:
        if bits & _RULE_BIT[name]:
            text = rx.sub(repl, text)
    return text


def redact_rule_by_rule(text: str) -> str:
    """The reference form of :func:`redact`: every rule in turn, each checking its own guard words
    one by one (the vendor-token rule always runs).

    Several times slower; kept so tests can check that :func:`redact` gives byte-identical output.
    """
    lowered = text.lower()
    for name, rx, repl in _RULES:
        guards = _GUARDS.get(name)
        if guards is not None and not any(g in lowered for g in guards):
            continue
        text = rx.sub(repl, text)
    return text
