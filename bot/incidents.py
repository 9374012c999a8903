"""`/incident` verbs, platform-neutral: parse the text, run the verb against the incident store,
return a `Reply`.

Every verb that changes an incident writes the store and its timeline with a timestamp, so
MTTA (declared → acknowledged) and MTTR (declared → resolved) come straight from the store:
`lead @user` (someone took the incident) and `ack` acknowledge it, `mitigate` marks it
mitigated, `resolve` resolves it (the store stamps any milestone skipped on the way).

Verbs act on the incident named by an explicit `INC-<n>` right after the verb, else on the
incident of the current thread, else on the newest open incident declared in the channel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.answer_log import AnswerLog, PostedAnswer
from bot.postmortem import build_postmortem
from bot.render.common import clip, short_entity
from bot.replies import Reply
from bot.timefmt import fmt_clock, fmt_duration, fmt_ts, since, stamp
from core.db.store import RelationalStore
from core.db.tables import Incident, TimelineEntry
from core.db.types import utcnow
from core.errors import InputError, NotFound, SherlogError, UnknownCommand
from core.model import Answer, IncidentStatus, Question

AskFn = Callable[[Question, str], Answer]
"""The engine as the bot sees it: (question, platform) → Answer."""

USAGE: dict[str, str] = {
    "declare": "declare <title> [sev1-4]  — open an incident (default SEV3)",
    "status": "status  — where the incident stands: status, severity, lead, MTTA/MTTR",
    "update": "update <text>  — post a status update to the timeline",
    "sev": "sev <1-4>  — change the severity",
    "lead": "lead @user  — set the incident lead (acknowledges the incident)",
    "ack": "ack  — acknowledge the incident",
    "note": "note <text>  — add a note to the timeline",
    "timeline": "timeline  — every timeline entry with its time",
    "rca": "rca  — run root-cause analysis and post the answer in the incident thread",
    "mitigate": "mitigate [text]  — mark the incident mitigated",
    "resolve": "resolve [summary]  — resolve the incident",
    "postmortem": "postmortem  — a postmortem draft from the timeline, evidence and RCA",
    "list": "list  — open incidents",
    "help": "help  — this list",
}
VERBS = frozenset(USAGE)
_ALIASES = {
    "acknowledge": "ack",
    "severity": "sev",
    "mitigated": "mitigate",
    "resolved": "resolve",
    "close": "resolve",
    "pm": "postmortem",
    "ls": "list",
    "?": "help",
    "open": "declare",
}
# Verbs the engine runs for: adapters show a placeholder first and rate-limit them.
ENGINE_VERBS = frozenset({"rca"})
_KEY = re.compile(r"^INC-\d+$", re.IGNORECASE)
_SEV = re.compile(r"^(?:sev)?[-_ ]?(\d+)$", re.IGNORECASE)
_TIMELINE_RCA_CHARS = 300
_SLACK_USER = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")


def usage_text(verb: str | None = None) -> str:
    """Usage of one verb, or of all of them."""
    if verb in USAGE:
        return f"/incident {USAGE[verb]}"
    return "\n".join(f"/incident {line}" for line in USAGE.values())


@dataclass(frozen=True)
class Command:
    """A parsed `/incident` command. `text` is the verb's free text (title, update, summary)."""

    verb: str
    text: str = ""
    key: str | None = None
    severity: int | None = None
    user: str | None = None


@dataclass(frozen=True)
class CommandContext:
    """Who ran a command, where, and when (`now` None means the clock)."""

    platform: str
    channel: str | None = None
    thread: str | None = None
    user: str | None = None
    now: datetime | None = None

    def at(self) -> datetime:
        return self.now if self.now is not None else utcnow()


def parse_severity(raw: str) -> int:
    """`2`, `sev2`, `SEV-2` → 2; anything else, or outside 1-4, raises InputError."""
    m = _SEV.match(raw.strip())
    if not m:
        raise InputError(f"{raw!r} is not a severity", hint="use 1 (worst) to 4, e.g. `/incident sev 2` or `sev2`")
    n = int(m.group(1))
    if not 1 <= n <= 4:
        raise InputError(f"severity must be 1 (worst) to 4, got {n}", hint="e.g. `/incident sev 2`")
    return n


def normalize_user(raw: str) -> str:
    """A user reference as given: Slack's escaped `<@U123|name>` becomes `<@U123>`; others are kept."""
    raw = raw.strip()
    m = _SLACK_USER.match(raw)
    return f"<@{m.group(1)}>" if m else raw


def parse_command(text: str) -> Command:
    """Parse `/incident` text (without the `/incident` itself).

    Raises UnknownCommand (with the usage) for an unknown verb and InputError (with the verb's
    usage) for missing or malformed arguments.
    """
    tokens = text.strip().split()
    if not tokens:
        return Command(verb="help")
    verb = _ALIASES.get(tokens[0].lower(), tokens[0].lower())
    if verb not in VERBS:
        raise UnknownCommand(f"unknown /incident verb {tokens[0]!r}", hint="verbs:\n" + usage_text())
    rest = tokens[1:]
    key = None
    if rest and _KEY.match(rest[0]) and verb != "declare":
        key, rest = rest[0].upper(), rest[1:]
    args = " ".join(rest)

    def need(what: str) -> None:
        if not args:
            raise InputError(f"`{verb}` needs {what}", hint=usage_text(verb))

    def none_expected() -> None:
        if args:
            raise InputError(f"`{verb}` takes no arguments, got {args!r}", hint=usage_text(verb))

    if verb == "declare":
        need("a title")
        severity = None
        if len(rest) >= 2 and rest[-2].lower() == "sev":
            severity, rest = parse_severity(rest[-1]), rest[:-2]
        elif _SEV.match(rest[-1]) and rest[-1].lower().startswith("sev"):
            severity, rest = parse_severity(rest[-1]), rest[:-1]
        title = " ".join(rest).strip()
        if not title:
            raise InputError("`declare` needs a title before the severity", hint=usage_text("declare"))
        return Command(verb="declare", text=title, severity=severity)
    if verb == "sev":
        need("a severity")
        if len(rest) != 1:
            raise InputError(f"`sev` takes one severity, got {args!r}", hint=usage_text("sev"))
        return Command(verb="sev", key=key, severity=parse_severity(rest[0]))
    if verb == "lead":
        need("a user")
        if len(rest) != 1:
            raise InputError(f"`lead` takes one user, got {args!r}", hint=usage_text("lead"))
        return Command(verb="lead", key=key, user=normalize_user(rest[0]))
    if verb in ("update", "note"):
        need("some text")
        return Command(verb=verb, key=key, text=args)
    if verb in ("resolve", "mitigate"):
        return Command(verb=verb, key=key, text=args)
    if verb == "help":
        return Command(verb="help", text=args)
    none_expected()
    return Command(verb=verb, key=key)


def _sev(n: int) -> str:
    return f"SEV{n}"


class IncidentDesk:
    """Runs `/incident` verbs over the relational store; every platform goes through here.

    `ask` is the engine (needed by `rca` only). Bad input and missing incidents come back as
    ephemeral error replies naming what to do, never as exceptions.
    """

    def __init__(self, db: RelationalStore, *, ask: AskFn | None = None, answers: AnswerLog | None = None) -> None:
        self.db = db
        self.ask = ask
        self.answers = answers or AnswerLog(db)

    # ------------------------------------------------------------------ entry points

    def handle_text(self, text: str, ctx: CommandContext) -> Reply:
        """Parse and run; any Sherlog error becomes an ephemeral reply."""
        try:
            return self.execute(parse_command(text), ctx)
        except SherlogError as e:
            return Reply.from_error(e)

    def execute(self, cmd: Command, ctx: CommandContext) -> Reply:
        """Run one parsed command; Sherlog errors become ephemeral replies."""
        handler = getattr(self, f"_do_{cmd.verb}", None)
        if handler is None:
            return Reply.from_error(UnknownCommand(f"unknown /incident verb {cmd.verb!r}", hint=usage_text()))
        try:
            reply: Reply = handler(cmd, ctx)
            return reply
        except SherlogError as e:
            return Reply.from_error(e)

    def attach_thread(self, key: str, channel: str, thread: str) -> None:
        """Remember the chat thread an incident is discussed in (the declaration message's thread)."""
        self.db.update_incident(key, channel=channel, thread=thread)

    def declare_from_answer(self, posted: PostedAnswer, ctx: CommandContext) -> Reply:
        """The "declare incident" button: an incident titled by the question, in the answer's thread."""
        answer = posted.answer
        top = answer.root_causes[0] if answer.root_causes else None
        title = answer.question.strip() or answer.summary[:200]
        incident = self.db.create_incident(
            title[:500],
            severity=2 if top is not None and top.confidence >= 0.5 else 3,
            service=short_entity(top.entity) if top is not None else None,
            channel=posted.channel or ctx.channel,
            thread=posted.thread or ctx.thread,
            author=ctx.user,
            at=ctx.now,
        )
        # the answer that prompted the declaration is this incident's first RCA
        self.answers.save_rca(incident.key, answer)
        if top is not None:
            self.db.update_incident(incident.key, root_cause=top.entity, fault_kind=top.fault_kind)
            self.db.add_timeline_entry(
                incident.key, "rca", self._rca_line(answer), author="sherlog", at=ctx.now or incident.created_at
            )
        reply = self._declared_reply(incident)
        reply.new_incident = False  # already lives in the answer's thread
        return reply

    # ------------------------------------------------------------------ lookup

    def locate(self, cmd: Command, ctx: CommandContext) -> Incident:
        """The incident a read-only verb would act on (NotFound with a hint if there is none)."""
        return self._target(cmd, ctx, open_only=False)

    def _target(self, cmd: Command, ctx: CommandContext, *, open_only: bool) -> Incident:
        if cmd.key:
            incident = self.db.get_incident(cmd.key)
            if open_only and incident.status == IncidentStatus.RESOLVED.value:
                raise InputError(
                    f"{incident.key} is already resolved ({fmt_ts(incident.resolved_at)})",
                    hint="declare a new incident if it is happening again",
                )
            return incident
        pool = self.db.list_open_incidents() if open_only else self.db.list_incidents(limit=500)
        here = [i for i in pool if ctx.channel is not None and i.channel == ctx.channel]
        if ctx.thread is not None:
            in_thread = [i for i in here if i.thread == ctx.thread]
            if in_thread:
                return in_thread[0]
        # newest first from the store; an open one wins over a resolved one
        for incident in here:
            if incident.status != IncidentStatus.RESOLVED.value:
                return incident
        if here:
            return here[0]
        raise NotFound(
            "no open incident in this channel" if open_only else "no incident in this channel",
            hint="declare one with `/incident declare <title> [sev1-4]`, or name one, e.g. `/incident status INC-7` "
            "(`/incident list` shows open incidents)",
        )

    def _reply(self, incident: Incident, text: str, **kw: object) -> Reply:
        return Reply(
            text=text,
            incident_key=incident.key,
            incident_channel=incident.channel,
            incident_thread=incident.thread,
            **kw,  # type: ignore[arg-type]
        )

    # ------------------------------------------------------------------ verbs

    def _declared_reply(self, incident: Incident) -> Reply:
        return self._reply(
            incident,
            f"{incident.key} declared: {incident.title} ({_sev(incident.severity)}). "
            "Take the lead with `/incident lead @you`; `/incident rca` looks for the root cause.",
            title=f"🚨 {incident.key} · {_sev(incident.severity)} · {incident.title}"[:150],
            fields=[
                ("Status", incident.status),
                ("Severity", _sev(incident.severity)),
                ("Declared", fmt_ts(incident.created_at)),
            ],
            new_incident=True,
        )

    def _do_declare(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self.db.create_incident(
            cmd.text,
            severity=cmd.severity or 3,
            channel=ctx.channel,
            thread=ctx.thread,
            author=ctx.user,
            at=ctx.now,
        )
        return self._declared_reply(incident)

    def _do_status(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=False)
        return self._reply(
            incident,
            f"{incident.key} is {incident.status} ({_sev(incident.severity)}): {incident.title}",
            title=f"{incident.key} · {_sev(incident.severity)} · {incident.status}",
            fields=status_fields(incident, ctx.at()),
        )

    def _do_update(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=True)
        entry = self.db.add_timeline_entry(incident.key, "update", cmd.text, author=ctx.user, at=ctx.now)
        return self._reply(incident, f"{incident.key} update ({fmt_clock(entry.ts)} UTC): {cmd.text}")

    def _do_note(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=False)
        entry = self.db.add_timeline_entry(incident.key, "note", cmd.text, author=ctx.user, at=ctx.now)
        return self._reply(incident, f"Noted on {incident.key} ({fmt_clock(entry.ts)} UTC): {cmd.text}")

    def _do_sev(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=True)
        assert cmd.severity is not None
        if incident.severity == cmd.severity:
            return self._reply(incident, f"{incident.key} is already {_sev(cmd.severity)}.")
        before = incident.severity
        self.db.update_incident(incident.key, severity=cmd.severity)
        self.db.add_timeline_entry(
            incident.key, "sev", f"{_sev(before)} → {_sev(cmd.severity)}", author=ctx.user, at=ctx.now
        )
        return self._reply(incident, f"{incident.key} severity {_sev(before)} → {_sev(cmd.severity)}.")

    def _acknowledge(self, incident: Incident, ctx: CommandContext, text: str) -> bool:
        """Acknowledge once; True if this call did it."""
        if incident.acknowledged_at is not None:
            return False
        self.db.set_incident_status(incident.key, IncidentStatus.ACKNOWLEDGED, at=ctx.now, author=ctx.user, text=text)
        return True

    def _do_lead(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=True)
        assert cmd.user is not None
        self.db.update_incident(incident.key, lead=cmd.user)
        self.db.add_timeline_entry(
            incident.key, "lead", f"{cmd.user} is the incident lead", author=ctx.user, at=ctx.now
        )
        acked = self._acknowledge(incident, ctx, f"acknowledged: {cmd.user} took the lead")
        text = f"{cmd.user} is now the lead of {incident.key}."
        if acked:
            fresh = self.db.get_incident(incident.key)
            text += f" Acknowledged after {fmt_duration(since(fresh.created_at, fresh.acknowledged_at))}."
        return self._reply(incident, text)

    def _do_ack(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=True)
        who = ctx.user or "someone"
        if not self._acknowledge(incident, ctx, f"acknowledged by {who}"):
            return self._reply(
                incident, f"{incident.key} was already acknowledged at {fmt_ts(incident.acknowledged_at)}."
            )
        fresh = self.db.get_incident(incident.key)
        return self._reply(
            incident,
            f"{incident.key} acknowledged after {fmt_duration(since(fresh.created_at, fresh.acknowledged_at))}.",
        )

    def _do_mitigate(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=True)
        if incident.mitigated_at is not None:
            return self._reply(incident, f"{incident.key} was already mitigated at {fmt_ts(incident.mitigated_at)}.")
        fresh = self.db.set_incident_status(
            incident.key, IncidentStatus.MITIGATED, at=ctx.now, author=ctx.user, text=cmd.text or "mitigated"
        )
        return self._reply(
            incident,
            f"{incident.key} mitigated after {fmt_duration(since(fresh.created_at, fresh.mitigated_at))}."
            + (f" {cmd.text}" if cmd.text else ""),
        )

    def _do_resolve(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=True)
        if cmd.text:
            changes: dict[str, object] = {"resolution": cmd.text}
            if not incident.summary:
                changes["summary"] = cmd.text
            self.db.update_incident(incident.key, **changes)
        fresh = self.db.set_incident_status(
            incident.key, IncidentStatus.RESOLVED, at=ctx.now, author=ctx.user, text=cmd.text or "resolved"
        )
        return self._reply(
            incident,
            f"✅ {incident.key} resolved. Time to resolve {fmt_duration(since(fresh.created_at, fresh.resolved_at))}"
            f" (acknowledged after {fmt_duration(since(fresh.created_at, fresh.acknowledged_at))})."
            " `/incident postmortem` drafts the write-up.",
            fields=status_fields(fresh, ctx.at()),
        )

    def _do_timeline(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=False)
        entries = self.db.timeline(incident.key)
        return self._reply(
            incident,
            f"{incident.key} timeline ({len(entries)} entries, UTC)",
            title=f"{incident.key} timeline: {incident.title}"[:150],
            lines=[timeline_line(e) for e in entries],
        )

    def _do_list(self, cmd: Command, ctx: CommandContext) -> Reply:
        rows = self.db.list_open_incidents()
        now = ctx.at()
        if not rows:
            return Reply(text="No open incidents. 🎉", title="Open incidents")
        lines = [
            f"{i.key} · {_sev(i.severity)} · {i.status} · {i.title} · lead {i.lead or '-'} · "
            f"open {fmt_duration(since(i.created_at, now))}"
            for i in rows
        ]
        return Reply(text=f"{len(rows)} open incident(s)", title="Open incidents", lines=lines)

    def _do_help(self, cmd: Command, ctx: CommandContext) -> Reply:
        verb = _ALIASES.get(cmd.text.strip().lower(), cmd.text.strip().lower())
        if verb in USAGE:
            return Reply(text=usage_text(verb), title=f"/incident {verb}", ephemeral=True)
        return Reply(
            text="Run incidents from chat. Verbs act on this thread's or channel's incident, or on `INC-<n>` "
            "given right after the verb.",
            title="/incident help",
            lines=[f"/incident {line}" for line in USAGE.values()],
            ephemeral=True,
        )

    def _rca_question(self, incident: Incident) -> str:
        title = incident.title.strip()
        if title.endswith("?"):
            return title
        subject = f"{incident.service}: {title}" if incident.service and incident.service not in title else title
        return f"why {subject}?"

    @staticmethod
    def _rca_line(answer: Answer) -> str:
        if not answer.root_causes:
            return clip(f"RCA: no root cause found. {answer.summary}", _TIMELINE_RCA_CHARS)
        top = answer.root_causes[0]
        # the timeline is read at a glance; the full reasoning lives in the stored answer
        return clip(f"RCA: {short_entity(top.entity)} ({top.confidence:.0%}) — {top.why}", _TIMELINE_RCA_CHARS)

    def _do_rca(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=False)
        if self.ask is None:
            raise InputError("root-cause analysis needs the engine, which this adapter was started without")
        question = Question(
            text=self._rca_question(incident),
            channel=incident.channel or ctx.channel,
            thread=incident.thread or ctx.thread,
            user=ctx.user,
        )
        # no `since`: the fault began before anyone declared, and the engine picks the window
        answer = self.ask(question, ctx.platform)
        self.answers.save_rca(incident.key, answer)
        if answer.root_causes:
            top = answer.root_causes[0]
            self.db.update_incident(incident.key, root_cause=top.entity, fault_kind=top.fault_kind)
        self.db.add_timeline_entry(incident.key, "rca", self._rca_line(answer), author="sherlog", at=ctx.now)
        return self._reply(incident, f"{incident.key} RCA: {answer.summary}", answer=answer)

    def _do_postmortem(self, cmd: Command, ctx: CommandContext) -> Reply:
        incident = self._target(cmd, ctx, open_only=False)
        entries = self.db.timeline(incident.key)
        doc = build_postmortem(incident, entries, self.answers.latest_rca(incident.key), now=ctx.at())
        note = "" if incident.status == IncidentStatus.RESOLVED.value else " (the incident is still open)"
        return self._reply(incident, f"Postmortem draft for {incident.key}{note}.", title=doc.title, document=doc)


def status_fields(incident: Incident, now: datetime) -> list[tuple[str, str]]:
    """Status, severity, lead and the lifecycle timestamps with MTTA/MTTR."""
    fields = [
        ("Status", incident.status),
        ("Severity", _sev(incident.severity)),
        ("Lead", incident.lead or "- (`/incident lead @you`)"),
        ("Declared", fmt_ts(incident.created_at)),
    ]
    if incident.service:
        fields.append(("Service", incident.service))
    if incident.acknowledged_at:
        fields.append(("Acknowledged", stamp(incident.created_at, incident.acknowledged_at, "MTTA")))
    if incident.mitigated_at:
        fields.append(("Mitigated", stamp(incident.created_at, incident.mitigated_at)))
    if incident.resolved_at:
        fields.append(("Resolved", stamp(incident.created_at, incident.resolved_at, "MTTR")))
    else:
        fields.append(("Open for", fmt_duration(since(incident.created_at, now))))
    if incident.root_cause:
        fields.append(("Root cause", short_entity(incident.root_cause)))
    return fields


def timeline_line(entry: TimelineEntry) -> str:
    """`2026-01-02 10:03:04 UTC · update · <@U1>: text`."""
    who = f" {entry.author}" if entry.author else ""
    text = f": {entry.text}" if entry.text else ""
    return f"{fmt_ts(entry.ts)} · {entry.kind}{who}{text}"


__all__ = [
    "ENGINE_VERBS",
    "USAGE",
    "VERBS",
    "AskFn",
    "Command",
    "CommandContext",
    "IncidentDesk",
    "parse_command",
    "parse_severity",
    "usage_text",
]
