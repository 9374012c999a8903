"""Follow the systemd journal through `journalctl -o json`, resuming after a cursor.

`journalctl` is the stable interface to the journal (its files have no
Python reader in the dependency set). One reader thread turns its stdout into
event dicts on a bounded queue: when the shipper falls behind, the queue
fills, the thread blocks and journalctl blocks on its pipe, so nothing is
read that cannot be held. Each entry's `__CURSOR` is its position; its hash
is the Event's `ingest_id`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from core.errors import BackendUnavailable, ConfigError, InvalidPayload
from core.model import Severity

log = logging.getLogger("sherlog.ship")

JOURNAL_KEY = "journald"
_QUEUE_MAX = 10_000
_DONE = object()


def _text(value: Any) -> str:
    # MESSAGE is a string, or an array of byte values when it is not valid UTF-8
    if value is None:
        return ""
    if isinstance(value, list):
        try:
            return bytes(int(b) & 0xFF for b in value).decode("utf-8", errors="replace")
        except (TypeError, ValueError):
            return ""
    return str(value)


def journal_ingest_id(cursor: str) -> str:
    """The idempotency key of the journal entry at `cursor`."""
    return "journald:" + hashlib.sha256(cursor.encode()).hexdigest()[:40]


def entry_to_event(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One `journalctl -o json` object → a log event dict. Raises InvalidPayload without `__CURSOR`."""
    cursor = entry.get("__CURSOR")
    if not isinstance(cursor, str) or not cursor:
        raise InvalidPayload("journal entry without __CURSOR")
    try:
        ts = datetime.fromtimestamp(int(entry.get("__REALTIME_TIMESTAMP", 0)) / 1_000_000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        ts = datetime.now(UTC)
    unit = _text(entry.get("_SYSTEMD_UNIT")) or None
    ident = _text(entry.get("SYSLOG_IDENTIFIER")) or _text(entry.get("_COMM")) or None
    service = (unit.removesuffix(".service") if unit else None) or ident or "journald"
    priority = _text(entry.get("PRIORITY"))
    severity = Severity.parse(int(priority)) if priority.isdigit() else Severity.INFO
    entity: dict[str, str] = {"service": service}
    host = _text(entry.get("_HOSTNAME"))
    if host:
        entity["host"] = host
    attributes: dict[str, Any] = {"journal_cursor": cursor}
    for src, dst in (
        ("_SYSTEMD_UNIT", "unit"),
        ("SYSLOG_IDENTIFIER", "identifier"),
        ("_PID", "pid"),
        ("_BOOT_ID", "boot_id"),
        ("_TRANSPORT", "transport"),
    ):
        if entry.get(src) is not None:
            attributes[dst] = _text(entry[src])
    return {
        "source": "journald",
        "kind": "log",
        "ts": ts.isoformat(),
        "entity": entity,
        "severity": severity.value,
        "body": _text(entry.get("MESSAGE")),
        "attributes": attributes,
        "ingest_id": journal_ingest_id(cursor),
    }


def journalctl_command(
    *,
    cursor: str | None,
    follow: bool,
    units: Sequence[str] = (),
    since: str | None = None,
    directory: str | None = None,
    binary: str = "journalctl",
) -> list[str]:
    """The journalctl invocation: after `cursor` when resuming; else from `since`, else only new entries."""
    cmd = [binary, "-o", "json", "--no-pager"]
    if follow:
        cmd.append("--follow")
    if directory:
        cmd += ["--directory", directory]
    for u in units:
        cmd += ["--unit", u]
    if cursor:
        cmd += ["--after-cursor", cursor]
    elif since:
        cmd += ["--since", since]
    else:
        cmd += ["--lines", "0"]
    return cmd


class JournalSource:
    """Entries after the saved cursor, read by a `journalctl` child process."""

    key = JOURNAL_KEY

    def __init__(
        self,
        state: dict[str, Any] | None = None,
        *,
        follow: bool = True,
        units: Sequence[str] = (),
        since: str | None = None,
        directory: str | None = None,
        binary: str = "journalctl",
    ) -> None:
        found = shutil.which(binary)
        if found is None:
            raise ConfigError(f"'{binary}' not found: --journald needs systemd's journalctl on PATH")
        self._cursor: str | None = (state or {}).get("cursor") or None
        self._cmd = journalctl_command(
            cursor=self._cursor, follow=follow, units=units, since=since, directory=directory, binary=found
        )
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_MAX)
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._finished = False
        self.bad_entries = 0

    def start(self) -> None:
        log.info("reading the journal: %s", " ".join(self._cmd))
        self._proc = subprocess.Popen(self._cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._proc.stdout is not None
        self._thread = threading.Thread(target=self._pump, args=(self._proc.stdout,), daemon=True, name="journalctl")
        self._thread.start()

    def _pump(self, stdout: IO[bytes]) -> None:
        for raw in stdout:
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
                self._queue.put(entry_to_event(entry))
            except (json.JSONDecodeError, UnicodeDecodeError, InvalidPayload) as e:
                self.bad_entries += 1
                log.warning("skipping an unreadable journal entry: %s", e)
        self._queue.put(_DONE)

    def poll(self, max_lines: int) -> list[dict[str, Any]]:
        """Up to `max_lines` entries already read; raises when journalctl failed."""
        if self._proc is None:
            self.start()
        out: list[dict[str, Any]] = []
        while len(out) < max_lines:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _DONE:
                self._finish()
                break
            out.append(item)
            self._cursor = item["attributes"]["journal_cursor"]
        return out

    def _finish(self) -> None:
        assert self._proc is not None
        rc = self._proc.wait()
        self._finished = True
        if rc != 0:
            err = (self._proc.stderr.read() if self._proc.stderr else b"").decode(errors="replace").strip()
            raise BackendUnavailable(f"journalctl exited with {rc}: {err or 'no message'}", backend="journald")

    @property
    def exhausted(self) -> bool:
        """True once journalctl ended (without --follow) and every entry was handed out."""
        return self._finished

    def checkpoint(self) -> dict[str, Any]:
        return {"cursor": self._cursor} if self._cursor else {}

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
