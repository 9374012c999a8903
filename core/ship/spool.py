"""A disk spool for batches the server could not take yet: append-only segment
files, each record fsync'd before the shipper moves its cursor past the lines
in it, replayed oldest first.

Record framing is one line: `<crc32 as 8 hex> <json>\\n` (JSON escapes its
own newlines). A record cut short by a crash fails its CRC or lacks the
newline; it is cut off when the spool opens, which loses nothing because the
cursor was only saved after a record's fsync. `ack.json` says how far replay
got; a replayed record whose ack was lost to a crash is sent again and the
server drops it as a duplicate.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidPayload
from core.ship.state import atomic_write, fsync_dir

log = logging.getLogger("sherlog.ship")

DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
_PREFIX = "seg-"
_SUFFIX = ".spool"


@dataclass(frozen=True)
class SpoolRecord:
    """One spooled batch and where it sits (segment number, byte range)."""

    segment: int
    offset: int
    end: int
    payload: bytes


def _frame(payload: bytes) -> bytes:
    if b"\n" in payload:
        raise InvalidPayload("spool records must be single-line (compact JSON)")
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


def _unframe(line: bytes) -> bytes | None:
    """The payload of a whole, intact record line; None when torn or corrupt."""
    if len(line) < 10 or not line.endswith(b"\n") or line[8:9] != b" ":
        return None
    payload = line[9:-1]
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    return payload if zlib.crc32(payload) == crc else None


class Spool:
    """Append-only, fsync'd queue of batches on disk, in `directory`."""

    def __init__(self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ack_path = self.dir / "ack.json"
        self._ack_seg, self._ack_off = self._load_ack()
        self._repair_tail()
        self.pending_records, self.pending_bytes = self._count_pending()

    # --- files ---------------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        out = []
        for p in self.dir.glob(f"{_PREFIX}*{_SUFFIX}"):
            try:
                out.append(int(p.name[len(_PREFIX) : -len(_SUFFIX)]))
            except ValueError:
                continue
        return sorted(out)

    def _seg_path(self, n: int) -> Path:
        return self.dir / f"{_PREFIX}{n:08d}{_SUFFIX}"

    def _load_ack(self) -> tuple[int, int]:
        try:
            doc = json.loads(self._ack_path.read_bytes())
            return int(doc["segment"]), int(doc["offset"])
        except FileNotFoundError:
            return 0, 0
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidPayload(
                f"spool position {self._ack_path} is corrupt: {e}",
                hint="delete it to replay the whole spool (the server drops what it already has)",
            ) from e

    def _repair_tail(self) -> None:
        """Cut a torn last record (a crash mid-append) so new records follow a clean end."""
        segs = self._segments()
        if not segs:
            return
        path = self._seg_path(segs[-1])
        good = 0
        with path.open("rb") as f:
            for line in f:
                if _unframe(line) is None:
                    break
                good += len(line)
        if good != path.stat().st_size:
            log.warning("spool: cutting a torn record at the end of %s (byte %d)", path.name, good)
            with path.open("r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())

    def _records_from(self, seg: int, off: int) -> list[tuple[int, int, int, bytes]]:
        out = []
        path = self._seg_path(seg)
        try:
            with path.open("rb") as f:
                f.seek(off)
                pos = off
                for line in f:
                    payload = _unframe(line)
                    if payload is None:
                        log.error("spool: corrupt record in %s at byte %d; skipping the rest of it", path.name, pos)
                        break
                    out.append((seg, pos, pos + len(line), payload))
                    pos += len(line)
        except FileNotFoundError:
            pass
        return out

    def _count_pending(self) -> tuple[int, int]:
        n = size = 0
        for seg in self._segments():
            if seg < self._ack_seg:
                continue
            for _, start, end, _ in self._records_from(seg, self._ack_off if seg == self._ack_seg else 0):
                n += 1
                size += end - start
        return n, size

    # --- queue ---------------------------------------------------------------------------------

    def append(self, payload: bytes) -> None:
        """Add a batch durably (written and fsync'd when this returns)."""
        frame = _frame(payload)
        segs = self._segments()
        # with no segment on disk start after the acked one, never inside it: its offset is stale
        seg = segs[-1] if segs else self._ack_seg + 1
        path = self._seg_path(seg)
        if segs and path.stat().st_size >= self.segment_bytes:
            seg += 1
            path = self._seg_path(seg)
        created = not path.exists()
        with path.open("ab") as f:
            f.write(frame)
            f.flush()
            os.fsync(f.fileno())
        if created:
            fsync_dir(self.dir)
        self.pending_records += 1
        self.pending_bytes += len(frame)

    def peek(self) -> SpoolRecord | None:
        """The oldest batch not yet acknowledged (reads one record, not the segment)."""
        for seg in self._segments():
            if seg < self._ack_seg:
                continue
            off = self._ack_off if seg == self._ack_seg else 0
            path = self._seg_path(seg)
            try:
                with path.open("rb") as f:
                    f.seek(off)
                    line = f.readline()
            except FileNotFoundError:
                continue
            if not line:
                continue
            payload = _unframe(line)
            if payload is None:
                log.error("spool: corrupt record in %s at byte %d; skipping the rest of it", path.name, off)
                continue
            return SpoolRecord(seg, off, off + len(line), payload)
        return None

    def ack(self, record: SpoolRecord) -> None:
        """Mark `record` delivered; fully delivered segments are deleted."""
        self._ack_seg, self._ack_off = record.segment, record.end
        self.pending_records = max(0, self.pending_records - 1)
        self.pending_bytes = max(0, self.pending_bytes - (record.end - record.offset))
        segs = self._segments()
        if self.pending_records == 0:
            # all delivered: start over empty (segments first, then the position, so a crash in
            # between leaves an ack pointing past files that no longer exist, i.e. still empty)
            for s in segs:
                self._seg_path(s).unlink(missing_ok=True)
            fsync_dir(self.dir)
            self._ack_seg, self._ack_off = record.segment + 1, 0
        else:
            for s in segs:
                if s < record.segment:
                    self._seg_path(s).unlink(missing_ok=True)
            if self._seg_path(record.segment).stat().st_size <= record.end and record.segment != segs[-1]:
                self._seg_path(record.segment).unlink(missing_ok=True)
                self._ack_seg, self._ack_off = record.segment + 1, 0
        atomic_write(self._ack_path, json.dumps({"segment": self._ack_seg, "offset": self._ack_off}).encode())

    def __len__(self) -> int:
        return self.pending_records
