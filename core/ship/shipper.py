"""The shipper loop: read lines from sources, batch them, deliver or spool them,
and move the cursor only once a batch is delivered or durably spooled.

Exactly-once effect, step by step:

1. a batch is collected (up to `batch_lines` lines / `batch_bytes`, or what
   arrived within `batch_seconds` of its first line);
2. with an empty spool and the server up, it is POSTed; otherwise (or when the
   POST fails) it is appended to the spool and fsync'd;
3. only then is the cursor saved.

A crash before 3 re-reads the batch on restart and sends lines the server
may already hold; their `ingest_id`s make that a no-op. Spooled batches are
replayed oldest first, before any new batch is sent, so order is kept; a
replay whose acknowledgement was lost is likewise a duplicate, not a second
copy. While the spool is over `max_spool_bytes`, reading stops: the lines
wait in their files (or journalctl's pipe) instead of filling the disk.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.ship.backoff import Backoff
from core.ship.client import BatchRefused, BatchTooLarge, IntakeClient, SendResult, ServerUnavailable
from core.ship.spool import Spool
from core.ship.state import CursorFile, StateLock

log = logging.getLogger("sherlog.ship")


class LineSource(Protocol):
    """Something that hands out new log-event dicts and can say where it got to."""

    key: str

    def poll(self, max_lines: int) -> list[dict[str, Any]]: ...

    def checkpoint(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass
class ShipConfig:
    """Batching, retry and spool limits."""

    batch_lines: int = 500
    batch_seconds: float = 1.0
    batch_bytes: int = 1024 * 1024
    poll_interval: float = 0.2
    max_spool_bytes: int = 1024 * 1024 * 1024
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    once_attempts: int = 3


@dataclass
class ShipStats:
    """What a run did."""

    read: int = 0
    sent_batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    spooled_batches: int = 0
    replayed_batches: int = 0
    failures: int = 0
    last_error: str | None = None
    pending_batches: int = 0
    rejections: list[str] = field(default_factory=list)


def encode_batch(events: Sequence[dict[str, Any]]) -> bytes:
    """A batch as the compact one-line JSON `/ingest/logs` takes (and the spool stores)."""
    return json.dumps({"events": list(events)}, separators=(",", ":"), ensure_ascii=False).encode()


class ShipState:
    """A shipper's state dir: the lock (held while open), the cursor file and the spool."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.lock = StateLock(state_dir)
        self.lock.acquire()
        try:
            self.cursor = CursorFile(state_dir / "cursor.json")
            self.saved = self.cursor.load()
            self.spool = Spool(state_dir / "spool")
        except BaseException:
            self.lock.release()
            raise
        self.rejected_path = state_dir / "rejected.jsonl"

    def close(self) -> None:
        self.lock.release()

    def __enter__(self) -> ShipState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Shipper:
    """Ships lines from `sources` to the intake `client`, spooling through outages."""

    def __init__(
        self,
        sources: Sequence[LineSource],
        client: IntakeClient,
        state: ShipState,
        config: ShipConfig | None = None,
    ) -> None:
        self.sources = list(sources)
        self.client = client
        self.state = state
        self.config = config or ShipConfig()
        self.backoff = Backoff(base=self.config.backoff_base, cap=self.config.backoff_cap)
        self.stats = ShipStats()
        self._stop = threading.Event()

    # --- cursor --------------------------------------------------------------------------------

    def save_cursor(self) -> None:
        states = dict(self.state.saved)  # keep cursors of sources not shipped this run
        for src in self.sources:
            cp = src.checkpoint()
            if cp:
                states[src.key] = cp
        self.state.cursor.save(states)
        self.state.saved = states

    # --- sending -------------------------------------------------------------------------------

    def _record(self, res: SendResult) -> None:
        self.stats.sent_batches += 1
        self.stats.accepted += res.accepted
        self.stats.duplicates += res.duplicates
        if res.rejected:
            self._rejected(res.rejected, res.errors, None)

    def _rejected(self, count: int, errors: list[Any], payload: bytes | None) -> None:
        """The server refused lines: say so loudly and keep them in rejected.jsonl, never drop them silently."""
        self.stats.rejected += count
        shown = "; ".join(str(e.get("message", e) if isinstance(e, dict) else e) for e in errors[:3])
        self.stats.rejections.append(shown)
        log.error("server rejected %d line(s): %s", count, shown or "(no reason given)")
        record = {"ts": time.time(), "rejected": count, "errors": errors[:50]}
        if payload is not None:
            record["events"] = json.loads(payload).get("events", [])
        with self.state.rejected_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _send(self, payload: bytes) -> None:
        """Deliver one batch (splitting it on 413); ServerUnavailable propagates."""
        try:
            res = self.client.send(payload)
        except BatchTooLarge as e:
            events = json.loads(payload)["events"]
            if len(events) <= 1:
                self._rejected(len(events), [{"message": e.message}], payload)
                return
            mid = len(events) // 2
            self._send(encode_batch(events[:mid]))
            self._send(encode_batch(events[mid:]))
            return
        except BatchRefused as e:
            count = e.rejected or len(json.loads(payload).get("events", []))
            self._rejected(count, e.errors or [{"message": e.message}], payload)
            return
        self.backoff.succeeded()
        self._record(res)

    def _failed(self, e: ServerUnavailable) -> None:
        delay = self.backoff.failed()
        self.stats.failures += 1
        self.stats.last_error = e.message
        log.warning("%s; retrying in %.1fs (%d batch(es) spooled)", e.message, delay, len(self.state.spool))

    def drain_spool(self) -> None:
        """Replay spooled batches oldest first until the spool is empty or the server fails again."""
        spool = self.state.spool
        replayed = 0
        while len(spool) and self.backoff.ready() and not self._stop.is_set():
            rec = spool.peek()
            if rec is None:
                spool.pending_records = 0  # counted records that are no longer readable
                break
            try:
                self._send(rec.payload)
            except ServerUnavailable as e:
                self._failed(e)
                return
            spool.ack(rec)
            replayed += 1
            self.stats.replayed_batches += 1
        if replayed and not len(spool):
            log.info("spool drained: %d batch(es) replayed", replayed)

    def deliver(self, events: Sequence[dict[str, Any]]) -> None:
        """Send a batch (or spool it), then save the cursor past it."""
        payload = encode_batch(events)
        self.stats.read += len(events)
        if not len(self.state.spool) and self.backoff.ready():
            try:
                self._send(payload)
                self.save_cursor()
                return
            except ServerUnavailable as e:
                self._failed(e)
        self.state.spool.append(payload)
        self.stats.spooled_batches += 1
        self.save_cursor()

    # --- reading -------------------------------------------------------------------------------

    def collect(self, *, once: bool) -> tuple[list[dict[str, Any]], bool]:
        """(a batch, whether the sources had nothing more right now)."""
        cfg = self.config
        records: list[dict[str, Any]] = []
        size = 0
        deadline: float | None = None
        while True:
            got = 0
            for src in self.sources:
                room = cfg.batch_lines - len(records)
                if room <= 0:
                    break
                new = src.poll(room)
                got += len(new)
                records.extend(new)
                size += sum(len(r.get("body", "")) + 320 for r in new)
            if len(records) >= cfg.batch_lines or size >= cfg.batch_bytes:
                return records, False
            if not got and (once or not records):
                if not records and not (once and self._sources_exhausted()):
                    self._stop.wait(cfg.poll_interval)
                return records, True
            now = time.monotonic()
            if deadline is None:
                deadline = now + cfg.batch_seconds
            if now >= deadline or self._stop.is_set():
                return records, False
            if not got:
                self._stop.wait(min(cfg.poll_interval, deadline - now))

    def _sources_exhausted(self) -> bool:
        return all(bool(getattr(src, "exhausted", True)) for src in self.sources)

    # --- the loop ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run` to finish the batch in hand, save the cursor and return."""
        self._stop.set()

    def run(self, *, once: bool = False) -> ShipStats:
        """Ship until `stop()` (or, with `once`, until the sources have nothing more). ConfigError
        (wrong token or URL) propagates; lines not yet delivered or spooled stay unshipped in the cursor."""
        cfg = self.config
        spool = self.state.spool
        if len(spool):
            log.info("%d batch(es) in the spool from an earlier run", len(spool))
        while not self._stop.is_set():
            self.drain_spool()
            if spool.pending_bytes >= cfg.max_spool_bytes:
                # backpressure: leave the lines in their source until the server is back
                self._stop.wait(max(cfg.poll_interval, self.backoff.wait_time()))
                continue
            batch, idle = self.collect(once=once)
            if batch:
                self.deliver(batch)
            elif once and idle and self._sources_exhausted():
                break
        if once:
            for _ in range(cfg.once_attempts):
                if not len(spool) or self._stop.is_set():
                    break
                self._stop.wait(self.backoff.wait_time())
                self.drain_spool()
        # not in a `finally`: after an error the batch in hand was neither sent nor spooled, and
        # saving the sources' positions would skip it; they were saved after every handled batch
        self.save_cursor()
        self.stats.pending_batches = len(spool)
        return self.stats

    def close(self) -> None:
        for src in self.sources:
            src.close()
        self.client.close()
