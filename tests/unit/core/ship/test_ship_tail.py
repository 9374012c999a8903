"""File tailing: complete lines only, resumable by checkpoint, rotation and truncation aware."""

from __future__ import annotations

import os
from pathlib import Path

from core.ship.tail import FileTailer, line_ingest_id


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def _bodies(records: list[dict]) -> list[str]:
    return [r["body"] for r in records]


def _drain(t: FileTailer, rounds: int = 5) -> list[dict]:
    out: list[dict] = []
    for _ in range(rounds):
        out += t.poll(10_000)
    return out


def test_reads_complete_lines_and_waits_for_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "one\ntwo\r\n\n   \nthr")
    t = FileTailer(log, host="h1")
    recs = t.poll(100)
    assert _bodies(recs) == ["one", "two"]  # blank lines skipped, partial 'thr' held back
    assert recs[0]["entity"] == {"service": "app", "host": "h1"}
    assert recs[1]["attributes"]["offset"] == 4
    assert t.poll(100) == []
    _append(log, "ee\n")
    assert _bodies(t.poll(100)) == ["three"]
    assert t.checkpoint()["offset"] == log.stat().st_size


def test_ingest_ids_are_deterministic_and_distinct(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    _append(log, "same\nsame\n")
    a = FileTailer(log).poll(10)
    b = FileTailer(log).poll(10)
    assert [r["ingest_id"] for r in a] == [r["ingest_id"] for r in b]
    assert a[0]["ingest_id"] != a[1]["ingest_id"]
    ino = log.stat().st_ino
    assert a[1]["ingest_id"] == line_ingest_id(str(log.absolute()), ino, 0, 5)


def test_max_lines_and_resume_from_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    _append(log, "".join(f"line {i}\n" for i in range(10)))
    t = FileTailer(log)
    assert _bodies(t.poll(4)) == [f"line {i}" for i in range(4)]
    cp = t.checkpoint()
    t.close()
    again = FileTailer(log, cp)
    rest = _drain(again)
    assert _bodies(rest) == [f"line {i}" for i in range(4, 10)]


def test_rotation_by_rename_finishes_the_old_file_first(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "a1\na2\n")
    t = FileTailer(log, rotate_wait=0.0)
    assert _bodies(t.poll(100)) == ["a1", "a2"]
    _append(log, "a3\nunterminated")
    os.rename(log, tmp_path / "app.log.1")
    _append(log, "b1\nb2\n")
    got = _drain(t)
    assert _bodies(got) == ["a3", "unterminated", "b1", "b2"]
    ids = [r["ingest_id"] for r in got]
    assert len(set(ids)) == 4
    assert t.checkpoint()["gen"] == 1 and t.checkpoint()["ino"] == log.stat().st_ino


def test_rotation_waits_while_the_old_file_is_still_written(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "a1\n")
    t = FileTailer(log, rotate_wait=3600)
    assert _bodies(t.poll(100)) == ["a1"]
    os.rename(log, tmp_path / "app.log.1")
    _append(log, "b1\n")
    assert t.poll(100) == []  # still on the old file within rotate_wait
    _append(tmp_path / "app.log.1", "a2\n")
    assert _bodies(t.poll(100)) == ["a2"]


def test_rotation_while_stopped_resumes_the_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "a1\na2\n")
    t = FileTailer(log)
    assert _bodies(t.poll(1)) == ["a1"]
    cp = t.checkpoint()
    t.close()
    os.rename(log, tmp_path / "app.log.1")
    _append(log, "b1\n")
    t2 = FileTailer(log, cp, rotate_wait=0.0)
    assert _bodies(_drain(t2)) == ["a2", "b1"]


def test_truncation_restarts_under_a_new_generation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "first line here\nsecond line here\n")
    t = FileTailer(log)
    first = t.poll(100)
    with log.open("w") as f:  # copytruncate
        f.write("new\n")
    again = t.poll(100)
    assert _bodies(again) == ["new"]
    assert again[0]["attributes"]["offset"] == 0
    assert again[0]["ingest_id"] != first[0]["ingest_id"]  # same inode and offset, new generation


def test_truncation_while_stopped(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    _append(log, "x" * 50 + "\n")
    t = FileTailer(log)
    t.poll(10)
    cp = t.checkpoint()
    t.close()
    log.write_text("short\n")
    t2 = FileTailer(log, cp)
    recs = t2.poll(10)
    assert _bodies(recs) == ["short"] and t2.checkpoint()["gen"] == cp["gen"] + 1


def test_overlong_lines_are_shipped_in_pieces(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    _append(log, "a" * 25 + "\nok\n")
    t = FileTailer(log, max_line_bytes=10)
    recs = t.poll(100)
    assert _bodies(recs) == ["a" * 10, "a" * 10, "a" * 5, "ok"]
    assert [r["attributes"].get("partial", False) for r in recs] == [True, True, False, False]


def test_missing_file_is_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    t = FileTailer(log)
    assert t.poll(10) == [] and t.checkpoint() == {}
    _append(log, "here now\n")
    assert _bodies(t.poll(10)) == ["here now"]


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "bin.log"
    log.write_bytes(b"ok \xff\xfe end\n")
    (rec,) = FileTailer(log).poll(10)
    assert rec["body"] == "ok \ufffd\ufffd end"
