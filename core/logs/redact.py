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
"""

from __future__ import annotations

import re
from collections.abc import Callable

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

# Cheap substring tests that let a rule's regex be skipped entirely (lower-cased text).
_SECRET_WORDS = ("pass", "secret", "token", "key", "credential", "signature")
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


def redact(text: str) -> str:
    """``text`` with every secret and e-mail address replaced by ``[REDACTED]``."""
    lowered = text.lower()
    for name, rx, repl in _RULES:
        guards = _GUARDS.get(name)
        if guards is not None and not any(g in lowered for g in guards):
            continue
        text = rx.sub(repl, text)
    return text
