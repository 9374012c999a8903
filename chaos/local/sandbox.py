"""Bounded disk writes inside a sandbox directory.

Disk faults write real bytes, so every write is checked twice: the path must
resolve inside the sandbox (no ``..``, no absolute path, no symlink escaping
it) and the size must stay under a hard cap, whatever a caller asks for.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import InputError

#: The most a single fill may write, whatever is asked: a demo must never fill a real disk.
MAX_FILL_BYTES = 256 * 1024 * 1024
_CHUNK = 1024 * 1024


def inside(root: Path, relpath: str | Path) -> Path:
    """`root / relpath`, refusing anything that would land outside `root`."""
    rel = Path(relpath)
    if rel.is_absolute():
        raise InputError(f"sandbox path '{relpath}' is absolute; give a path relative to the sandbox {root}")
    base = root.resolve()
    target = (base / rel).resolve()
    if target == base or not target.is_relative_to(base):
        raise InputError(f"sandbox path '{relpath}' resolves outside the sandbox {root}")
    return target


def fill(root: Path, relpath: str | Path, nbytes: int) -> Path:
    """Write a file of exactly `nbytes` zero bytes at `root/relpath`; returns its path."""
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes <= 0:
        raise InputError(f"disk fill size must be a positive number of bytes, got {nbytes!r}")
    if nbytes > MAX_FILL_BYTES:
        raise InputError(f"disk fill of {nbytes} bytes refused: the cap is {MAX_FILL_BYTES} bytes")
    path = inside(root, relpath)
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = b"\0" * _CHUNK
    left = nbytes
    # opened without following a symlink planted at the final component
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        while left > 0:
            n = min(left, _CHUNK)
            f.write(chunk[:n])
            left -= n
    return path


def remove(root: Path, relpath: str | Path) -> bool:
    """Delete a file written by `fill`; False when it was already gone."""
    path = inside(root, relpath)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def usage(root: Path) -> int:
    """Bytes used by regular files under `root` (symlinks are not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue  # removed while walking
            total += st.st_size
    return total
