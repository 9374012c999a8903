"""Tail one log file by inode and offset, surviving rotation and truncation.

A line's identity is (path, inode, generation, byte offset), hashed into the
Event's `ingest_id`; the server drops an `ingest_id` it has seen, so sending a
line again after a crash changes nothing. The generation grows each time the
path starts a new file (rotation, truncation), so a new file that reuses an
old inode or restarts at offset 0 never collides with lines already shipped.

* rotation by rename (`app.log` → `app.log.1`, new `app.log`): the old file is
  read to its end (and for `rotate_wait` seconds after, while the writer may
  still append) before switching to the new one; a shipper restarted after a
  rotation looks for its old inode beside the path and finishes it first.
* truncation in place (copytruncate): the file got shorter than what was
  read, so reading restarts at 0 under a new generation.
* a line longer than `max_line_bytes` is shipped in pieces of that size.
* blank lines are skipped (their bytes still count toward the offset).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger("sherlog.ship")

DEFAULT_MAX_LINE_BYTES = 256 * 1024
READ_CHUNK = 1 << 20


def line_ingest_id(path: str, inode: int, generation: int, offset: int) -> str:
    """The idempotency key of the line starting at `offset` (deterministic across restarts)."""
    raw = f"{path}\x00{inode}\x00{generation}\x00{offset}".encode()
    return "ship:" + hashlib.sha256(raw).hexdigest()[:40]


class FileTailer:
    """Reads new complete lines of one path as log-event dicts, tracking a resumable position."""

    def __init__(
        self,
        path: Path | str,
        state: dict[str, Any] | None = None,
        *,
        service: str | None = None,
        host: str | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        rotate_wait: float = 1.0,
    ) -> None:
        self.path = Path(path).absolute()
        self.key = f"file:{self.path}"
        self.service = service or self.path.name.split(".", 1)[0] or self.path.name
        self.host = host
        self.max_line_bytes = max_line_bytes
        self.rotate_wait = rotate_wait
        self._fh: BinaryIO | None = None
        self._dev = 0
        self._ino = 0
        self._gen = 0
        self._offset = 0  # start of the first byte not yet turned into a record
        self._buf = b""  # bytes read from the file; `_buf[_bpos:]` starts at `_offset`
        self._bpos = 0
        self._rotated_since: float | None = None
        self._missing_logged = False
        self._saved = state
        if state:
            self._gen = int(state.get("gen", 0))

    # --- position ------------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Where to resume: everything before `offset` in file (dev, ino) under generation `gen` is shipped."""
        if self._fh is None:
            return dict(self._saved) if self._saved else {}
        return {"path": str(self.path), "dev": self._dev, "ino": self._ino, "gen": self._gen, "offset": self._offset}

    def _find_old_inode(self, dev: int, ino: int) -> Path | None:
        """After a rotation while the shipper was down, the old file usually sits beside the path."""
        try:
            siblings = list(self.path.parent.iterdir())
        except OSError:
            return None
        for p in siblings:
            try:
                st = p.stat()
            except OSError:
                continue
            if st.st_dev == dev and st.st_ino == ino and p.is_file():
                return p
        return None

    def _open(self) -> bool:
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            if not self._missing_logged:
                log.info("waiting for %s to appear", self.path)
                self._missing_logged = True
            return False
        st = os.fstat(fh.fileno())
        saved, self._saved = self._saved, None
        self._missing_logged = False
        if saved and saved.get("ino"):
            sdev, sino, soff = int(saved.get("dev", 0)), int(saved.get("ino", 0)), int(saved.get("offset", 0))
            if (st.st_dev, st.st_ino) != (sdev, sino):
                old = self._find_old_inode(sdev, sino)
                if old is not None:
                    # finish the rotated file first; the path's current file comes after it
                    fh.close()
                    fh = old.open("rb")
                    st = os.fstat(fh.fileno())
                    log.info("resuming rotated file %s (was %s) at offset %d", old, self.path, soff)
                else:
                    log.warning("%s was replaced while the shipper was stopped; its old file is gone", self.path)
                    soff = -1
            if soff >= 0 and st.st_size < soff:
                log.warning("%s is shorter than the saved offset: truncated, reading from the start", self.path)
                soff = -1
            if soff < 0:
                self._gen += 1
                soff = 0
            self._attach(fh, st, soff)
        else:
            self._attach(fh, st, 0)
        return True

    def _attach(self, fh: BinaryIO, st: os.stat_result, offset: int) -> None:
        if self._fh is not None and self._fh is not fh:
            self._fh.close()
        self._fh = fh
        self._dev, self._ino = st.st_dev, st.st_ino
        self._offset = offset
        self._buf = b""
        self._bpos = 0
        self._rotated_since = None
        fh.seek(offset)

    # --- reading -------------------------------------------------------------------------------

    def _record(self, raw: bytes, offset: int, now: datetime, partial: bool = False) -> dict[str, Any] | None:
        text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        if not text.strip():
            return None
        attributes: dict[str, Any] = {"path": str(self.path), "offset": offset}
        if partial:
            attributes["partial"] = True
        entity: dict[str, str] = {"service": self.service}
        if self.host:
            entity["host"] = self.host
        return {
            "source": "file",
            "kind": "log",
            "ts": now.isoformat(),
            "entity": entity,
            "body": text,
            "attributes": attributes,
            "ingest_id": line_ingest_id(str(self.path), self._ino, self._gen, offset),
        }

    def _take_line(self, now: datetime, *, final: bool = False) -> tuple[bool, dict[str, Any] | None]:
        """(consumed something?, record) from the buffer; `final` also takes an unterminated tail."""
        # an index into the buffer, not slicing it per line: that would copy the chunk once per line
        start, avail = self._bpos, len(self._buf) - self._bpos
        nl = self._buf.find(b"\n", start, start + self.max_line_bytes + 1)
        if nl >= 0:
            raw, size, partial = self._buf[start:nl], nl - start + 1, False
        elif avail >= self.max_line_bytes:
            raw, size, partial = self._buf[start : start + self.max_line_bytes], self.max_line_bytes, True
        elif final and avail:
            raw, size, partial = self._buf[start:], avail, False
        else:
            return False, None
        offset = self._offset
        self._bpos += size
        self._offset += size
        return True, self._record(raw, offset, now, partial)

    def _pending(self) -> int:
        return len(self._buf) - self._bpos

    def _read_more(self) -> bool:
        assert self._fh is not None
        data = self._fh.read(READ_CHUNK)
        if not data:
            return False
        self._buf = self._buf[self._bpos :] + data
        self._bpos = 0
        self._rotated_since = None
        return True

    def _switch_if_replaced(self, now: datetime, out: list[dict[str, Any]]) -> bool:
        """At EOF: handle truncation and rotation. True when reading should continue."""
        assert self._fh is not None
        fst = os.fstat(self._fh.fileno())
        if fst.st_size < self._offset + self._pending():
            log.warning("%s was truncated; reading it again from the start", self.path)
            self._gen += 1
            self._attach(self._fh, fst, 0)
            return True
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return False  # removed or renamed, nothing new yet: keep the old file, its writer may still append
        if (st.st_dev, st.st_ino) == (self._dev, self._ino):
            return False
        mono = time.monotonic()
        if self._rotated_since is None:
            self._rotated_since = mono
        if mono - self._rotated_since < self.rotate_wait:
            return False
        # the old file is finished: its unterminated last line will never be completed
        while self._pending():
            _, rec = self._take_line(now, final=True)
            if rec is not None:
                out.append(rec)
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return False
        log.info("%s was rotated; following the new file", self.path)
        self._gen += 1
        self._attach(fh, os.fstat(fh.fileno()), 0)
        return True

    def poll(self, max_lines: int) -> list[dict[str, Any]]:
        """Up to `max_lines` new complete lines as event dicts (blank lines skipped)."""
        out: list[dict[str, Any]] = []
        if self._fh is None and not self._open():
            return out
        now = datetime.now(UTC)
        while len(out) < max_lines:
            took, rec = self._take_line(now)
            if took:
                if rec is not None:
                    out.append(rec)
                continue
            if self._read_more():
                continue
            if not self._switch_if_replaced(now, out):
                break
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._saved = self.checkpoint()
            self._fh.close()
            self._fh = None
