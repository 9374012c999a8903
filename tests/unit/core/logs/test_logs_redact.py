"""Redaction: every secret in a corpus of realistic (fake) secrets is masked; normal lines are untouched."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from core.logs.redact import _RULES_OF_WORD, REDACTED, redact, redact_rule_by_rule

# (log line, the secret that must not survive, text around it that must survive)
SECRETS: list[tuple[str, str, str]] = [
    ("aws_access_key_id=AKIAIOSFODNN7EXAMPLE region=eu-west-1", "AKIAIOSFODNN7EXAMPLE", "region=eu-west-1"),
    ("uploading with ASIAY34FZKBOKMUTVV7A to s3://bucket", "ASIAY34FZKBOKMUTVV7A", "to s3://bucket"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "",
    ),
    (
        "git clone https://ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12@github.com/acme/api.git",
        "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12",
        "github.com/acme/api.git",
    ),
    (
        "GITHUB_TOKEN github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345 set",
        "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        " set",
    ),
    (
        "slack bot xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx connected",
        "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
        "connected",
    ),
    (
        "posting to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "posting to",
    ),
    ("charging with sk_live_51HdFakeKeyAbCdEfGhIjKlMnOpQr", "sk_live_51HdFakeKeyAbCdEfGhIjKlMnOpQr", "charging with"),
    ("webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "webhook"),
    ("maps key AIzaSyA-1234567890abcdefghijklmnopqrstu in use", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "in use"),
    ("llm key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z used", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "used"),
    (
        "session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0TH",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
        "session",
    ),
    (
        "Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543",
        "8f14e45fceea167a5a36dedd4bea2543",
        "Authorization: Bearer",
    ),
    ("GET /metrics authorization=Basic dXNlcjpzM2NyM3Q= 200", "dXNlcjpzM2NyM3Q=", "200"),
    ('headers={"X-Api-Key": "a1b2c3d4e5f6"}', "a1b2c3d4e5f6", "X-Api-Key"),
    ("Cookie: sessionid=38afes7a8; csrftoken=Zq81", "38afes7a8", "Cookie:"),
    ('{"user":"bob","password":"hunter2!","level":"info"}', "hunter2!", '"level":"info"'),
    ('{"db": {"passwd": "Pa55w0rd"}}', "Pa55w0rd", '"db"'),
    ('{"api_key": 918273645, "retries": 3}', "918273645", '"retries": 3'),
    ('{"accessToken":"ya29.a0AfH6SMBx","expiresIn":3599}', "ya29.a0AfH6SMBx", '"expiresIn":3599'),
    ("clientSecret=Q9v8Uu7~Lx and more", "Q9v8Uu7~Lx", "and more"),
    ("login user=bob password=hunter2 result=ok", "hunter2", "result=ok"),
    ("config loaded client_secret=4c7e0b1f9a secret_key=Zm9vYmFy", "4c7e0b1f9a", "config loaded"),
    ("auth ok token:tk_live_8c1d0f9b2e7a", "tk_live_8c1d0f9b2e7a", "auth ok"),
    ("GET /cb?code=abc&api_key=f00dbabe1234&page=2 HTTP/1.1", "f00dbabe1234", "&page=2"),
    ("GET /download?X-Amz-Signature=9e4f0c1bde2&X-Amz-Expires=60", "9e4f0c1bde2", "X-Amz-Expires=60"),
    ("secret: 'correct horse battery staple'", "correct horse battery staple", "secret:"),
    ("connecting to postgres://app:s3cr3tPw@db.internal:5432/orders", "s3cr3tPw", "db.internal:5432/orders"),
    ("DATABASE_URL=postgresql+psycopg://svc:Tr0ub4dor@10.0.0.5/app", "Tr0ub4dor", "10.0.0.5/app"),
    ("mongo mongodb+srv://admin:Zx9pqLm@cluster0.ab1cd.mongodb.net/test", "Zx9pqLm", "cluster0.ab1cd.mongodb.net"),
    ("cache redis://:myredispass@redis:6379/0 up", "myredispass", "redis:6379/0 up"),
    ("amqp://guest:guestpw@rabbit:5672/ reachable", "guestpw", "rabbit:5672"),
    ("Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=Passw0rd!;Encrypt=yes", "Passw0rd!", "Encrypt=yes"),
    (
        "key=-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c7+fakefakefake\nQ2xvdWRzAQIDBAU=\n"
        "-----END RSA PRIVATE KEY----- loaded",
        "MIIEowIBAAKCAQEA1c7+fakefakefake",
        "loaded",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ (truncated)",
        "b3BlbnNzaC1rZXkt",
        "",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----",
        "MIIEvQIBADANBgkq",
        "",
    ),
    ("password reset mail sent to jane.doe+ops@example.co.uk", "jane.doe+ops@example.co.uk", "password reset mail"),
    ("From: Alice <alice@corp.example.com>", "alice@corp.example.com", "From: Alice"),
]


@pytest.mark.parametrize(("line", "secret", "kept"), SECRETS, ids=[s[1][:24] for s in SECRETS])
def test_secret_is_masked_and_context_kept(line: str, secret: str, kept: str) -> None:
    out = redact(line)
    assert secret not in out
    assert REDACTED in out
    assert kept in out


NORMAL = [
    "PacketResponder 1 for block blk_38865049064139660 terminating",
    "Basic authentication required for /admin",
    "Bearer authentication failed: token expired",
    "Token validation failed for request 42",
    "password: incorrect for user bob",
    "Invalid password for user admin from 10.0.0.7",
    "Executing with tokens:",
    "max_tokens=512 temperature=0.2 model=llama3",
    "tokenizer=bert-base signature_alg=RS256",
    "key=value pairs parsed: 12",
    "secret rotation scheduled for 2024-03-01",
    "GET /api/v1/users?page=2&sort=name HTTP/1.1 200 512",
    "connecting to postgres://db.internal:5432/orders",
    "redirect to https://example.com/login?next=/home",
    "ciod: Error loading /bgl/apps/swl-prep/run: invalid or missing program image",
    "Changing view acls to: yarn,curi",
    "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root",
    '{"level":"info","msg":"cache warmed","entries":1024}',
    "pwd=/home/app cwd=/srv",
    "AKIA is the prefix of an AWS key id",
    "sk-learn version 1.4 loaded",
]


@pytest.mark.parametrize("line", NORMAL)
def test_normal_lines_are_untouched(line: str) -> None:
    assert redact(line) == line


def test_redaction_is_idempotent() -> None:
    for line, _, _ in SECRETS:
        once = redact(line)
        assert redact(once) == once


@pytest.mark.shared_data
def test_loghub_lines_are_untouched_except_email_addresses(shared_data: Path) -> None:
    changed = []
    for path in sorted((shared_data / "loghub").glob("*/*_2k.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            out = redact(line)
            if out != line:
                changed.append(out)
    assert changed, "the Linux sample holds a build e-mail address that must be masked"
    assert all("@" not in c.split("[REDACTED]")[0][-1:] for c in changed)
    assert len(changed) <= 3


# ----------------------------------------------------------------------------- fast path == reference
def _case_and_unicode_variants(line: str) -> list[str]:
    """The line in other cases, and with letters whose lower-casing is not plain ASCII
    (Kelvin sign, dotted and dotless i, long s): guards must skip exactly what the reference skips."""
    swaps = {"k": "\u212a", "K": "\u212a", "i": "\u0131", "I": "\u0130", "s": "\u017f"}
    out = [line.upper(), line.lower(), line.swapcase()]
    for old, new in swaps.items():
        out.append(line.replace(old, new))
    return out


# Lines around the guards: secret words with and without an assignment after them, a key that an
# earlier rule's replacement ends next to, separators with spaces and quotes.
GUARD_EDGES = [
    "cache miss for key product:42 ttl=45s",
    "pass through key=value token list",
    "x-auth-token: abc123 and password=hunter2",
    "SECRET = 'a b' and Api-Key:abc",
    '{"accessToken" : "x", "note": "token"}',
    "tokenhttps://hooks.slack.com/services/T0/B0/XYZ done",
    "-----BEGIN RSA PRIVATE KEY-----abc-----END RSA PRIVATE KEY-----=tok secret",
    "-----BEGIN PRIVATE KEY-----abc",
    "Bearer abc.def-123 secret",
    "postgres://u:p@h/db?password=x&sig=1",
    "signature_alg=RS256 signature=abcd1234",
    "token expired for key 42",
    "my_access-token: 'abc123'",
    "client api-key=abc123",
]


def test_no_guard_word_starts_another() -> None:
    # redact() finds every guard word by searching again one position after each hit: that sees
    # every occurrence only when no two words can match at the same position
    words = list(_RULES_OF_WORD)
    assert not [(a, b) for a in words for b in words if a != b and b.startswith(a)]


def test_fast_path_matches_the_rule_by_rule_reference_on_the_corpus() -> None:
    corpus = [line for line, _, _ in SECRETS] + NORMAL + GUARD_EDGES
    for line in corpus:
        for variant in [line, *_case_and_unicode_variants(line)]:
            assert redact(variant) == redact_rule_by_rule(variant), variant


def test_fast_path_matches_the_reference_on_lines_spliced_from_the_corpus() -> None:
    # words and separators of the corpus recombined: guard words next to, inside and far from
    # assignments and values
    pieces = [p for line in [s for s, _, _ in SECRETS] + NORMAL + GUARD_EDGES for p in re.split(r"(\s+)", line) if p]
    rng = random.Random(13)
    for _ in range(5_000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        assert redact(line) == redact_rule_by_rule(line), line


@pytest.mark.shared_data
def test_fast_path_matches_the_rule_by_rule_reference_on_loghub(shared_data: Path) -> None:
    files = sorted((shared_data / "loghub").glob("*/*_2k.log"))
    assert len(files) == 8
    lines = 0
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            assert redact(line) == redact_rule_by_rule(line), (path.name, line)
            lines += 1
    assert lines == 16_000
