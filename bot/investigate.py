"""Investigating firing alerts on Sherlog's own initiative.

When Alertmanager or Grafana delivers a notification with firing alerts, `sherlog serve`
hands the stored alert events to `AlertInvestigator.submit`. For each notification group it
records an investigation (`running`), queues it, and a small pool of worker threads asks the
engine "why is <service> firing <alertname>?" over a window around the alert's start, records
the Answer (`done`) or the error (`failed`), and posts the answer to the configured alerts
channels (`bot.alert_post`). The webhook's request only waits for `submit`, which records
and enqueues (a few milliseconds); the engine never runs on it.

- Dedupe: the same set of alert fingerprints from the same source is investigated at most once
  per `cooldown` (checked in memory and in the store, so a restart or a second notification
  path does not repeat it). Resolved-only notifications start nothing.
- Bounded: a full queue records a `failed` investigation with error "dropped: queue full ..."
  instead of losing the alert silently; such a drop does not count for the cooldown.
- Restarts: investigations still `running` when the server starts again were interrupted, and
  are marked `failed` so none stays running forever.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from core.db.store import RelationalStore
from core.db.tables import InvestigationRecord, InvestigationStatus
from core.db.types import utcnow
from core.errors import SherlogError
from core.model import Answer, EntityRef, Event, EventKind, Question

log = logging.getLogger(__name__)

DROPPED = "dropped: queue full"
SHUTTING_DOWN = "not run: Sherlog was shutting down"
INTERRUPTED = "interrupted: Sherlog stopped before this investigation finished"
_ENTITY_FIELDS = ("cluster", "namespace", "service", "pod", "node", "host")

AlertAskFn = Callable[[Question, datetime], Answer]


@dataclass(frozen=True)
class InvestigationConfig:
    """How alert investigations run.

    * ``workers``: engine runs in parallel (1–2 keeps the server responsive on a small machine).
    * ``queue_size``: notifications waiting for a worker; beyond it they are recorded as dropped.
    * ``cooldown``: the same fingerprint set is not investigated again within this time.
    * ``lookback``: the question's window starts this long before the alert's startsAt.
    * ``max_window``: the window never reaches further back than this before the receive time.
    * ``settle``: an investigation starts no sooner than this after its alert arrived, so what
      fired together (the culprit's own alert, sent as a separate notification group a moment
      later) and the telemetry of that moment (shippers push every few seconds) are in first.
    * ``stop_timeout_s``: how long shutdown waits for a running investigation.
    """

    workers: int = 2
    queue_size: int = 32
    cooldown: timedelta = timedelta(minutes=10)
    lookback: timedelta = timedelta(minutes=30)
    max_window: timedelta = timedelta(hours=6)
    settle: timedelta = timedelta(seconds=5)
    stop_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= 8:
            raise ValueError(f"workers must be 1..8, got {self.workers}")
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {self.queue_size}")
        if min(self.cooldown, self.lookback, self.settle) < timedelta(0) or self.max_window <= timedelta(0):
            raise ValueError("cooldown, lookback and settle must not be negative, max_window must be positive")


@dataclass(frozen=True)
class AlertTrigger:
    """One notification group's firing alerts, as the investigation's trigger."""

    source: str
    alertname: str
    labels: Mapping[str, str]
    fingerprints: tuple[str, ...]
    entity: EntityRef
    starts_at: datetime
    received_at: datetime
    summary: str = ""

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """What the cooldown dedupes on: the source and the (sorted) fingerprint set."""
        return self.source, self.fingerprints

    @property
    def subject(self) -> str | None:
        """The alert's most specific entity name (service, pod, node, host), if it has one."""
        e = self.entity
        return e.service or e.pod or e.node or e.host

    def describe(self) -> str:
        """`HighErrorRate firing on payments (alertmanager)`."""
        where = f" on {self.subject}" if self.subject else ""
        return f"{self.alertname} firing{where} ({self.source})"


class AlertPoster(Protocol):
    """Posts an investigation's answer somewhere; raises on failure."""

    @property
    def destination(self) -> str: ...

    def post(self, investigation_id: int, trigger: AlertTrigger, answer: Answer) -> None: ...


# ------------------------------------------------------------------------------- triggers


def _firing(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if e.kind == EventKind.ALERT and e.attributes.get("status") == "firing"]


def _common_labels(alerts: Sequence[Event]) -> dict[str, str]:
    maps = [{str(k): str(v) for k, v in (a.attributes.get("labels") or {}).items()} for a in alerts]
    common = dict(maps[0])
    for m in maps[1:]:
        common = {k: v for k, v in common.items() if m.get(k) == v}
    return common


def _common_entity(alerts: Sequence[Event]) -> EntityRef:
    values: dict[str, str | None] = {}
    for name in _ENTITY_FIELDS:
        seen = {getattr(a.entity, name) for a in alerts}
        values[name] = seen.pop() if len(seen) == 1 else None
    return EntityRef(**values)


def _starts_at(alert: Event) -> datetime:
    raw = alert.attributes.get("starts_at")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.fromtimestamp(float(raw), UTC)
    return alert.ts


def triggers_from_events(events: Sequence[Event], received_at: datetime) -> list[AlertTrigger]:
    """One trigger per notification group (`group_key`) that has firing alerts; resolved-only groups give none."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for e in _firing(events):
        groups.setdefault((e.source, str(e.attributes.get("group_key") or "")), []).append(e)
    out: list[AlertTrigger] = []
    for (source, _), alerts in groups.items():
        names = sorted({str(a.attributes.get("alertname") or "") for a in alerts} - {""})
        fingerprints = tuple(sorted({str(a.attributes.get("fingerprint") or "") for a in alerts} - {""}))
        out.append(
            AlertTrigger(
                source=source,
                alertname=", ".join(names)[:255] or "(unnamed alert)",
                labels=_common_labels(alerts),
                fingerprints=fingerprints,
                entity=_common_entity(alerts),
                starts_at=min(_starts_at(a) for a in alerts),
                received_at=received_at,
                summary=str(alerts[0].attributes.get("summary") or ""),
            )
        )
    return out


def alert_question(trigger: AlertTrigger, config: InvestigationConfig) -> Question:
    """ "why is <service> firing <alertname>?" over [startsAt - lookback, received], at most `max_window` long."""
    subject = trigger.subject
    text = f"why is {subject} firing {trigger.alertname}?" if subject else f"why is {trigger.alertname} firing?"
    until = trigger.received_at
    start = min(trigger.starts_at, until)
    since = max(start - config.lookback, until - config.max_window)
    return Question(text=text, since=since, until=until)


def describe_error(e: BaseException) -> str:
    """A Sherlog error's own message; anything else with its type, so the record says what broke."""
    if isinstance(e, SherlogError):
        return e.message
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


# ------------------------------------------------------------------------------- the investigator


@dataclass(frozen=True)
class _Job:
    investigation_id: int
    trigger: AlertTrigger
    question: Question


@dataclass
class AlertInvestigator:
    """Investigates firing alerts in the background; see the module docstring."""

    db: RelationalStore
    ask: AlertAskFn
    posters: Sequence[AlertPoster] = ()
    config: InvestigationConfig = field(default_factory=InvestigationConfig)
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        # unbounded underneath: `_submit_one` enforces queue_size, so stop()'s sentinels never block
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, tuple[str, ...]], datetime] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._stopped = threading.Event()  # wakes workers waiting out the settle time

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Fail what a previous run left `running`, then start the workers."""
        interrupted = self.db.fail_running_investigations(INTERRUPTED)
        if interrupted:
            log.warning("%d alert investigation(s) were interrupted by the last shutdown", interrupted)
        for i in range(self.config.workers):
            t = threading.Thread(target=self._work, name=f"sherlog-alert-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop taking work; queued investigations are recorded as not run; wait for running ones."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        self._stopped.set()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._finish_failed(job.investigation_id, SHUTTING_DOWN)
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(self.config.stop_timeout_s)
            if t.is_alive():
                log.warning("an alert investigation was still running at shutdown; it is left to finish on its own")
        self._threads.clear()

    @property
    def waiting(self) -> int:
        """Investigations queued for a worker."""
        return self._queue.qsize()

    # -- intake side --------------------------------------------------------------------------
    def submit(self, events: Sequence[Event]) -> list[int]:
        """Record and queue one investigation per notification group with firing alerts; returns
        the ids recorded (queued or dropped). Skips groups investigated within the cooldown."""
        received = self.clock()
        ids: list[int] = []
        for trigger in triggers_from_events(events, received):
            iid = self._submit_one(trigger)
            if iid is not None:
                ids.append(iid)
        return ids

    def _submit_one(self, trigger: AlertTrigger) -> int | None:
        question = alert_question(trigger, self.config)
        with self._lock:  # one submit at a time: the cooldown check and the record are one step
            if not self._stopping and self._seen_recently(trigger):
                log.info("%s: already investigated within %s; not again", trigger.describe(), self.config.cooldown)
                return None
            error = None
            if self._stopping:
                error = SHUTTING_DOWN
            elif self._queue.qsize() >= self.config.queue_size:
                error = f"{DROPPED} ({self._queue.qsize()} investigations waiting)"
            record = self.db.create_investigation(
                source=trigger.source,
                alertname=trigger.alertname,
                question=question.text,
                labels=trigger.labels,
                fingerprints=trigger.fingerprints,
                status=InvestigationStatus.FAILED.value if error else InvestigationStatus.RUNNING.value,
                error=error,
                at=trigger.received_at,
            )
            assert record.id is not None
            if error is not None:
                log.warning("%s: investigation %d %s", trigger.describe(), record.id, error)
                return record.id
            self._recent[trigger.key] = trigger.received_at
            self._queue.put_nowait(_Job(record.id, trigger, question))
        log.info("%s: investigating (#%d): %s", trigger.describe(), record.id, question.text)
        return record.id

    def _seen_recently(self, trigger: AlertTrigger) -> bool:
        cutoff = trigger.received_at - self.config.cooldown
        for key in [k for k, t in self._recent.items() if t < cutoff]:
            del self._recent[key]
        if trigger.key in self._recent:
            return True
        # the store remembers across restarts (and the webhook of a second Alertmanager replica)
        for rec in self.db.list_investigations(since=cutoff, source=trigger.source, limit=500):
            if rec.error and rec.error.startswith((DROPPED, SHUTTING_DOWN)):
                continue
            if tuple(sorted(rec.fingerprints)) == trigger.fingerprints:
                self._recent[trigger.key] = rec.created_at
                return True
        return False

    # -- worker side --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except Exception:  # a worker must never die: the next alert still needs it
                log.exception("alert investigation %d failed unexpectedly", job.investigation_id)

    def _run(self, job: _Job) -> None:
        wait = (job.trigger.received_at + self.config.settle - self.clock()).total_seconds()
        if wait > 0 and self._stopped.wait(wait):
            self._finish_failed(job.investigation_id, SHUTTING_DOWN)
            return
        try:
            answer = self.ask(job.question, job.trigger.received_at)
        except Exception as e:
            log.warning("investigation %d (%s) failed: %s", job.investigation_id, job.trigger.describe(), e)
            self._finish_failed(job.investigation_id, describe_error(e))
            return
        self.db.finish_investigation(job.investigation_id, status=InvestigationStatus.DONE.value, answer=answer)
        posted: list[str] = []
        errors: list[str] = []
        for poster in self.posters:
            try:
                poster.post(job.investigation_id, job.trigger, answer)
                posted.append(poster.destination)
            except Exception as e:  # one chat refusing must not stop the others or lose the record
                log.warning("could not post investigation %d to %s: %s", job.investigation_id, poster.destination, e)
                errors.append(f"posting to {poster.destination} failed: {describe_error(e)}")
        if posted or errors:
            self.db.add_investigation_posts(job.investigation_id, posted, error="; ".join(errors) or None)

    def _finish_failed(self, investigation_id: int, error: str) -> None:
        try:
            self.db.finish_investigation(investigation_id, status=InvestigationStatus.FAILED.value, error=error)
        except SherlogError as e:
            log.warning("could not record investigation %d as failed (%s): %s", investigation_id, error, e)


# ------------------------------------------------------------------------------- HTTP shape


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def investigation_json(record: InvestigationRecord) -> dict[str, Any]:
    """The record as `GET /investigations` shows it."""
    return {
        "id": record.id,
        "trigger": {
            "source": record.source,
            "alertname": record.alertname,
            "labels": dict(record.labels or {}),
            "fingerprints": list(record.fingerprints or []),
        },
        "question": record.question,
        "status": record.status,
        "answer": record.answer,
        "error": record.error,
        "posted_to": list(record.posted_to or []),
        "created_at": _iso(record.created_at),
        "finished_at": _iso(record.finished_at),
    }
