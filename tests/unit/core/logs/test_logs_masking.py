"""Masking rules, and the invariant the miner's caches rely on: digits matter only as runs."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from core.logs.header import message_of
from core.logs.masking import mask, shape_key


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "PacketResponder 1 for block blk_-6952295868487656571 terminating",
            "PacketResponder <*> for block <*> terminating",
        ),
        ("Received connection request /10.10.34.11:45307", "Received connection request <*>:<*>"),
        ("CE sym 2, at 0x0b85eee0, mask 0x05", "CE sym <*>, at <*>, mask <*>"),
        ("iar 003a90fc dear 00b360e8", "iar <*> dear <*>"),
        ("request 123e4567-e89b-12d3-a456-426614174000 done", "request <*> done"),
        ("Deleting file /var/log/app/old.log", "Deleting file <*>"),
        ("fetching https://example.com/api/v1?x=1 failed", "fetching <*> failed"),
        ("mail to alice@example.com bounced", "mail to <*> bounced"),
        ("connection from 1.2.3.4 () at Fri Jun 17 07:07:00 2005", "connection from <*> () at <*>"),
        (
            "Block broadcast_9 stored as bytes in memory (estimated size 5.2 KB, free 317.1 KB)",
            "Block <*> stored as bytes in memory (estimated size <*>, free <*>)",
        ),
        ("tick at 18:01:47,978 ok", "tick at <*> ok"),
        # variable-length lists collapse into one slot
        (
            "ask 10.0.0.1:50010 to replicate blk_1 to datanode(s) 10.0.0.2:50010 10.0.0.3:50010",
            "ask <*>:<*> to replicate <*> to datanode(s) <*>",
        ),
        # key=value: the value goes, the key stays
        ("uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4", "uid=<*> euid=<*> tty=NODEVssh ruser= rhost=<*>"),
        # words stay words
        ("Registered signal handlers for [TERM, HUP, INT]", "Registered signal handlers for [TERM, HUP, INT]"),
        ("", ""),
    ],
)
def test_mask_examples(message: str, expected: str) -> None:
    assert mask(message) == expected


def _stretch(text: str, rng: random.Random) -> str:
    """Same text with every digit run replaced by random digits of a random length (1-20)."""
    return re.sub(r"\d+", lambda m: "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20))), text)


SYNTHETIC = [
    "worker 12 took 3.5 ms at 2024-01-02T03:04:05Z for /api/v2/items/99",
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; uid=0 rhost=218.188.2.4",
    "2015-10-18 18:01:47,978 INFO [main] a.b.C: Created 4 tasks of 12 MB",
    "0x1f2e at 0xdeadbeef, sym 7, http://h1:80/x?y=2 mail a1@b2.io",
    "size 93.0 B free 1.5 GB 12MiB",
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_-1 terminating",
]


def test_digit_runs_never_change_the_mask_or_the_header_split() -> None:
    rng = random.Random(7)
    for line in SYNTHETIC:
        for _ in range(50):
            other = _stretch(line, rng)
            assert mask(other) == mask(line), (line, other)
            assert mask(message_of(other)) == mask(message_of(line)), (line, other)


@pytest.mark.shared_data
def test_digit_runs_invariant_on_loghub(shared_data: Path) -> None:
    rng = random.Random(11)
    for path in sorted((shared_data / "loghub").glob("*/*_2k.log")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[:300]
        for line in lines:
            other = _stretch(line, rng)
            assert mask(other) == mask(line), (path.name, line, other)
            assert mask(message_of(other)) == mask(message_of(line)), (path.name, line, other)


def test_shape_key_tells_apart_texts_that_differ_beyond_digits() -> None:
    assert shape_key("abc1") != shape_key("abc")
    assert shape_key("a 1 b") != shape_key("a 12b")
    assert shape_key("x 1") == shape_key("x 123456789")
    assert shape_key("bad \udcff byte") != shape_key("bad byte")  # lone surrogates do not crash
