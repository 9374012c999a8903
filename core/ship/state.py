"""The shipper's state directory: its cursor file and an exclusive lock.

The cursor records, per source, how far the shipper got (file: device,
inode, generation, offset; journald: the journal cursor). It is written
atomically (temp file, fsync, rename, fsync of the directory) and only after
the lines it covers are delivered or safely in the spool, so a crash at any
point replays lines rather than skipping them, and the server's idempotency
keys turn the replay into no-ops.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from core.errors import ConfigError, InvalidPayload

CURSOR_VERSION = 1


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class CursorFile:
    """`cursor.json` in the state dir: `{source key: source state}`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, Any]]:
        """The saved states; {} when the shipper never ran. A corrupt file is an error, not a restart."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InvalidPayload(
                f"shipper cursor {self.path} is corrupt: {e}",
                hint="delete it to ship every source again from the start (the server drops the duplicates)",
            ) from e
        if not isinstance(doc, dict) or not isinstance(doc.get("sources"), dict):
            raise InvalidPayload(f"shipper cursor {self.path}: expected an object with 'sources'")
        return {str(k): v for k, v in doc["sources"].items() if isinstance(v, dict)}

    def save(self, sources: dict[str, dict[str, Any]]) -> None:
        payload = {"version": CURSOR_VERSION, "sources": sources}
        atomic_write(self.path, json.dumps(payload, sort_keys=True, indent=1).encode())


class StateLock:
    """An exclusive `flock` on the state dir: two shippers on one cursor would ship lines twice."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(fd)
            raise ConfigError(
                f"another shipper is already using {self.path.parent}",
                hint="stop it first, or give this one its own --name",
            ) from e
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
