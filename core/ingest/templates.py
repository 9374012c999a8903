"""The ingestion side of template mining: one TemplateMiner per data dir, its state on disk.

Template ids end up in the graph (`tpl:<id>`), in LogCount rows and in LogLine rows, so an id
must never be handed to a second template. Two rules keep that true:

* The state is saved *before* anything that references a new id is written (see
  `MinerState.mining()`): after a crash the miner on disk knows every id the stores know.
* Several processes may ingest into one data dir (`sherlog serve` and a `sherlog ingest` run):
  mining happens under an exclusive lock file, and a state file changed by another process is
  reloaded before mining, so both processes keep extending one id sequence.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from core.errors import InputError
from core.logs.miner import TemplateMiner
from core.logs.state import load_miner, save_miner

STATE_FILE = "templates.json"


class MinerState:
    """A TemplateMiner backed by `<data_dir>/templates.json`, safe across restarts and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self.miner = self._load()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> TemplateMiner:
        self._stamp = self._file_stamp()
        return load_miner(self.path)

    @contextlib.contextmanager
    def mining(self) -> Iterator[TemplateMiner]:
        """Hold the miner exclusively (threads and processes); reload it first if another process saved."""
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise InputError(f"cannot open the template lock file {self.lock_path}: {e.strerror}") from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if self._file_stamp() != self._stamp:
                    self.miner = self._load()
                yield self.miner
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def save(self) -> None:
        """Write the state atomically (call inside `mining()` so no other process writes meanwhile)."""
        save_miner(self.miner, self.path)
        self._stamp = self._file_stamp()

    def flush(self) -> None:
        """Persist the current state (sizes included) under the lock."""
        with self.mining():
            self.save()
