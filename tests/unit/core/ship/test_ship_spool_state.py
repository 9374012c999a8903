"""The disk spool, the cursor file, the state lock, backoff and the journald mapping."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError, InvalidPayload
from core.ship.backoff import Backoff
from core.ship.journald import entry_to_event, journal_ingest_id, journalctl_command
from core.ship.shipper import encode_batch
from core.ship.spool import Spool
from core.ship.state import CursorFile, StateLock


def _drain(spool: Spool) -> list[bytes]:
    out = []
    while (rec := spool.peek()) is not None:
        out.append(rec.payload)
        spool.ack(rec)
    return out


def test_spool_is_fifo_across_segments_and_reopen(tmp_path: Path) -> None:
    d = tmp_path / "spool"
    s = Spool(d, segment_bytes=100)
    payloads = [encode_batch([{"body": f"line {i}" * 5}]) for i in range(10)]
    for p in payloads:
        s.append(p)
    assert len(s) == 10 and len(list(d.glob("seg-*"))) > 1
    first = s.peek()
    assert first is not None and first.payload == payloads[0]
    s.ack(first)
    reopened = Spool(d, segment_bytes=100)
    assert len(reopened) == 9
    assert _drain(reopened) == payloads[1:]
    assert len(reopened) == 0 and list(d.glob("seg-*")) == []
    reopened.append(b'{"again":1}')  # a fresh start after a full drain
    assert _drain(Spool(d)) == [b'{"again":1}']


def test_unacked_record_is_replayed_after_a_crash(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.append(b'{"a":1}')
    s.append(b'{"b":2}')
    assert s.peek() is not None  # sent, but the process died before ack
    again = Spool(tmp_path)
    assert _drain(again) == [b'{"a":1}', b'{"b":2}']


def test_torn_tail_is_cut_and_appends_continue_cleanly(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.append(b'{"ok":1}')
    seg = next(tmp_path.glob("seg-*"))
    with seg.open("ab") as f:
        f.write(b'deadbeef {"torn":')  # a crash mid-append
    s2 = Spool(tmp_path)
    assert len(s2) == 1
    s2.append(b'{"next":2}')
    assert _drain(Spool(tmp_path)) == [b'{"ok":1}', b'{"next":2}']


def test_corrupt_record_fails_its_crc(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.append(b'{"value":"aaaa"}')
    seg = next(tmp_path.glob("seg-*"))
    seg.write_bytes(seg.read_bytes().replace(b"aaaa", b"aaab"))
    assert len(Spool(tmp_path)) == 0


def test_spool_refuses_multiline_payloads(tmp_path: Path) -> None:
    with pytest.raises(InvalidPayload, match="single-line"):
        Spool(tmp_path).append(b"{\n}")


def test_cursor_file_round_trip_and_corruption(tmp_path: Path) -> None:
    cf = CursorFile(tmp_path / "cursor.json")
    assert cf.load() == {}
    cf.save({"file:/a": {"offset": 5, "ino": 1}})
    assert cf.load() == {"file:/a": {"offset": 5, "ino": 1}}
    assert not list(tmp_path.glob(".*tmp"))
    (tmp_path / "cursor.json").write_text("{not json")
    with pytest.raises(InvalidPayload, match="corrupt"):
        cf.load()


def test_state_lock_is_exclusive(tmp_path: Path) -> None:
    with StateLock(tmp_path):
        with pytest.raises(ConfigError, match="another shipper"):
            StateLock(tmp_path).acquire()
    with StateLock(tmp_path):  # released on exit
        pass


def test_backoff_grows_is_capped_and_resets() -> None:
    b = Backoff(base=1.0, cap=8.0, rng=random.Random(7))
    ceilings = []
    for _ in range(8):
        ceilings.append(min(8.0, 1.0 * 2 ** (b.failures + 1)))
        d = b.failed(now=100.0)
        assert 0.0 <= d <= ceilings[-1]
        assert not b.ready(now=100.0 + d - 1e-6) or d == 0.0
        assert b.ready(now=100.0 + d)
    assert ceilings[-1] == 8.0
    delays = [Backoff(base=1.0, cap=8.0, rng=random.Random(s), failures=5).delay() for s in range(50)]
    assert len(set(delays)) > 40 and max(delays) <= 8.0  # jittered, capped
    b.succeeded()
    assert b.failures == 0 and b.ready()


def test_journal_entry_mapping() -> None:
    entry: dict[str, Any] = {
        "__CURSOR": "s=abc;i=1f;b=boot;m=1;t=5f;x=9",
        "__REALTIME_TIMESTAMP": "1714557600123456",
        "_SYSTEMD_UNIT": "nginx.service",
        "SYSLOG_IDENTIFIER": "nginx",
        "PRIORITY": "3",
        "_HOSTNAME": "web-1",
        "_PID": "42",
        "MESSAGE": [104, 105, 255],
    }
    ev = entry_to_event(entry)
    assert ev["entity"] == {"service": "nginx", "host": "web-1"}
    assert ev["severity"] == "error" and ev["body"] == "hi\ufffd"
    assert ev["ts"].startswith("2024-05-01T10:00:00.123456")
    assert ev["ingest_id"] == journal_ingest_id(entry["__CURSOR"])
    assert ev["attributes"]["pid"] == "42"
    with pytest.raises(InvalidPayload, match="__CURSOR"):
        entry_to_event({"MESSAGE": "x"})


def test_journalctl_command() -> None:
    resume = journalctl_command(cursor="c1", follow=True, units=["a.service"])
    assert resume[-2:] == ["--after-cursor", "c1"] and "--follow" in resume and resume[5:7] == ["--unit", "a.service"]
    assert journalctl_command(cursor=None, follow=False)[-2:] == ["--lines", "0"]
    assert journalctl_command(cursor=None, follow=False, since="-1h")[-2:] == ["--since", "-1h"]
