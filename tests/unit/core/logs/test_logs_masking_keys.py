"""The byte-level cache keys of core.logs.masking: messages with equal keys mask alike, and the
C-level digits pass of mask_key gives exactly the regex's text."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path

import pytest

from core.logs.masking import digits_key, mask, mask_key, word_run_key

# Fragments that stress the rules around values: size units (with and without a space, inside a
# sub-token), every delimiter, URLs and e-mail addresses, paths, clock times, dates, non-ASCII
# text and a lone surrogate from undecodable input.
_FRAGMENTS = [
    *("5", "5 KB", "5 B", "5 KiB", "7 MB/s", "KB/s1", "B", "KB", "Bx", "B0", "9B", "1e5", "0x1fA"),
    *(" ", "  ", "\t", "=", ":", ",", ";", "(", ")", "[", "]", "{", "}", "'", '"', "<", ">", "|"),
    *("a1", "x", "_", "-", ".", "~/", "../", "/a/b1", "blk_-12", "1.2.3.4", "12:00:01", "Jun", "Fri"),
    *("http://h1:80/x?y=2", "s3://b", "a1@b2.io", "x@y.com", "@", "://", "<*>", "é", "\udcff", "ms", "Z"),
    # plain words, so that many messages have few values (mask_key's byte-search path)
    *("connection ", "terminating ", "PacketResponder ", " exception", " received", "Receiving block "),
]


def _generated(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 12))) for _ in range(count)]


def _restretch(text: str, rng: random.Random) -> str:
    """Same text with every digit-led word run replaced by another one (digits, letters, '_')."""
    runs = ("7", "123", "0x1fA_b", "9z", "4_4", "31337cafe")
    return re.sub(r"[0-9]\w*", lambda _m: rng.choice(runs), text, flags=re.ASCII)


def _loghub_messages(shared_data: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted((shared_data / "loghub").glob("*/*_2k.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    for path in sorted((shared_data / "loghub").glob("*/*_2k.log_structured_corrected.csv")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("iar 003a90fc dear 00b360e8", b"iar 0 dear 0"),
        ("blk_-1608999687919862906 to 10.0.0.1:50010", b"blk_-0 to 0.0.0.0:0"),
        ("took 12ms and 3.5 ms", b"took 0 and 0.0 ms"),
        ("no digits here", b"no digits here"),
        ("é 12", "é 0".encode()),
    ],
)
def test_word_run_key_folds_digit_led_word_runs(message: str, expected: bytes) -> None:
    assert word_run_key(digits_key(message)) == expected


def test_no_digit_survives_masking() -> None:
    # a size unit can end inside a sub-token: its digit-bearing rest goes with the value
    assert mask("copied 5 KB/1s") == "copied <*>"
    assert mask("copied 5 KB/s") == "copied <*><*>"  # the unit's rest "/s" is a path
    assert mask("free 317.1 KB, used 5 B") == "free <*>, used <*>"
    for text in _generated(20_000, seed=3):
        assert re.search("[0-9]", mask(text)) is None, text


def test_equal_keys_mask_alike_on_generated_messages() -> None:
    rng = random.Random(5)
    by_digits: dict[bytes, set[str]] = defaultdict(set)
    by_words: dict[bytes, set[str]] = defaultdict(set)
    for text in _generated(40_000, seed=4):
        masked = mask(text)
        by_digits[digits_key(text)].add(masked)
        by_words[word_run_key(digits_key(text))].add(masked)
        other = _restretch(text, rng)
        assert word_run_key(digits_key(other)) == word_run_key(digits_key(text))
        assert mask(other) == masked, (text, other)
    assert all(len(masks) == 1 for masks in by_digits.values())
    assert all(len(masks) == 1 for masks in by_words.values())
    assert len(by_words) < len(by_digits)  # the generated messages do share keys


def test_mask_key_equals_the_mask_of_every_message_with_that_key() -> None:
    for text in _generated(20_000, seed=6):
        expected = mask(text)
        assert mask_key(digits_key(text)) == expected, text
        assert mask_key(word_run_key(digits_key(text))) == expected, text


@pytest.mark.shared_data
def test_word_run_key_never_groups_messages_that_mask_apart_on_loghub(shared_data: Path) -> None:
    masks_by_key: dict[bytes, set[str]] = defaultdict(set)
    rng = random.Random(9)
    for line in _loghub_messages(shared_data):
        masked = mask(line)
        key = word_run_key(digits_key(line))
        masks_by_key[key].add(masked)
        assert mask_key(key) == masked, line
        assert mask(_restretch(line, rng)) == masked, line
    assert all(len(masks) == 1 for masks in masks_by_key.values())
    # and the key is worth having: far fewer keys than distinct lines
    assert len(masks_by_key) < 0.6 * len(set(_loghub_messages(shared_data)))
