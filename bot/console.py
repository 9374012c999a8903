"""`sherlog chat`: the console adapter. Same conversation, same `/incident` verbs, text rendering.

Type a question to ask it (one conversation thread per session, so follow-ups keep their
context; `/new` starts a fresh thread), or `/incident <verb> ...`. The answer buttons of the
chat platforms are commands here: `/helpful`, `/unhelpful`, `/evidence`, `/declare`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from bot.conversation import Mention
from bot.incidents import CommandContext
from bot.render.text import render_answer, render_reply
from bot.replies import Reply
from bot.services import BotServices
from core.errors import SherlogError

log = logging.getLogger(__name__)
PLATFORM = "console"
CHANNEL = "console"

HELP = """\
Ask a question, e.g.:  why is checkout failing?
Follow-ups keep the context:  what changed there?

/incident <verb> ...   incidents (/incident help lists the verbs)
/evidence              every evidence item of the last answer
/helpful, /unhelpful   rate the last answer
/declare               declare an incident from the last answer
/new                   start a new conversation thread
/help                  this text
/quit                  leave (Ctrl-D works too)"""


@dataclass
class _Last:
    answer_id: str
    text: str


class ConsoleChat:
    """A REPL over BotServices. `handle` is one turn (what the tests drive); `run` is the loop."""

    def __init__(self, services: BotServices, *, user: str = "@you", out: TextIO | None = None) -> None:
        self.services = services
        self.user = user
        self.out = out
        self.thread = self._new_thread()
        self.conversation = services.conversation(PLATFORM)
        self._last: _Last | None = None
        self._turn = 0

    @staticmethod
    def _new_thread() -> str:
        return f"session-{uuid.uuid4().hex[:12]}"

    def _ctx(self) -> CommandContext:
        return CommandContext(platform=PLATFORM, channel=CHANNEL, thread=self.thread, user=self.user)

    def handle(self, line: str) -> str | None:
        """One input line → the text to print; None means quit."""
        line = line.strip()
        if not line:
            return ""
        low = line.lower()
        if low in ("/quit", "/exit", "quit", "exit"):
            return None
        if low in ("/help", "help", "?"):
            return HELP
        if low == "/new":
            self.thread = self._new_thread()
            self._last = None
            return "Started a new conversation thread."
        if low.startswith("/incident"):
            return self._incident(line[len("/incident") :])
        if low in ("/helpful", "/unhelpful", "/evidence", "/declare"):
            return self._button(low[1:])
        if line.startswith("/"):
            return f"Unknown command {line.split()[0]!r}.\n\n{HELP}"
        return self._ask(line)

    def _ask(self, text: str) -> str:
        self._turn += 1
        mention = Mention(platform=PLATFORM, channel=CHANNEL, thread=self.thread, user=self.user, text=text)
        refusal = self.conversation.screen(mention)
        if refusal is not None:
            return f"{refusal.reason}\nhint: {refusal.hint}"
        self._emit("🔎 Investigating…")
        try:
            answer = self.conversation.answer(mention)
        except SherlogError as e:
            return render_reply(Reply.from_error(e))
        answer_id = self.conversation.record(mention, f"{self.thread}-{self._turn}", answer)
        self._last = _Last(answer_id=answer_id, text=text)
        return render_answer(answer)

    def _incident(self, text: str) -> str:
        parsed = self.services.parse(text)
        if isinstance(parsed, Reply):
            return render_reply(parsed)
        if parsed.verb == "rca":
            self._emit("🔎 Investigating…")
        reply = self.services.run_command(parsed, self._ctx())
        if reply.answer is not None:
            mention = Mention(platform=PLATFORM, channel=CHANNEL, thread=self.thread, user=self.user, text=text)
            self._turn += 1
            answer_id = self.conversation.record(mention, f"{self.thread}-{self._turn}", reply.answer)
            self._last = _Last(answer_id=answer_id, text=reply.answer.question)
        return render_reply(reply)

    def _button(self, action: str) -> str:
        if self._last is None:
            return "No answer yet in this thread: ask a question first."
        try:
            if action in ("helpful", "unhelpful"):
                self.conversation.feedback(self._last.answer_id, self.user, action == "helpful")
                return "Thanks — feedback recorded."
            posted = self.services.answers.load(PLATFORM, self._last.answer_id)
            if action == "evidence":
                return render_answer(posted.answer, evidence_limit=None)
            reply = self.services.desk().declare_from_answer(posted, self._ctx())
            return render_reply(reply)
        except SherlogError as e:
            return render_reply(Reply.from_error(e))

    def _emit(self, text: str) -> None:
        if self.out is not None:
            self.out.write(text + "\n")
            self.out.flush()

    def run(self, read: Callable[[str], str] = input) -> None:
        """Read lines until /quit or end of input, printing each answer."""
        self._emit("Sherlog chat — ask a question, or /help. (/quit to leave)")
        while True:
            try:
                line = read("you> ")
            except (EOFError, KeyboardInterrupt):
                self._emit("")
                return
            try:
                result = self.handle(line)
            except Exception:  # a bug must not end the operator's session
                log.exception("console turn failed")
                result = "Sherlog hit an internal error on that; see the log. The session goes on."
            if result is None:
                return
            if result:
                self._emit(result)
