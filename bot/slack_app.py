"""The Slack adapter: a slack-bolt App with Sherlog's listeners.

Slack must get an acknowledgement within 3 seconds. The App runs with
`process_before_response=False`: bolt acknowledges Events API requests itself before the
listener runs, and our command and action listeners call `ack()` as their first statement;
in both cases bolt answers the HTTP request (or the Socket Mode envelope) as soon as the ack
is in. Listeners then do only quick work (guards, the placeholder, store writes) and hand engine
runs to a small pool of their own, so bolt's listener threads stay free to ack new commands even
while several answers are being computed.

Mentions get a threaded "investigating…" placeholder at once, then `chat.update` puts the
answer in its place. `/incident` verbs reply in the incident's thread when it is in this
channel. Errors are ephemeral and say what to do.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.answer_log import answer_id_for
from bot.conversation import Mention
from bot.guards import Refusal
from bot.incidents import ENGINE_VERBS, Command, CommandContext
from bot.render import slack as render
from bot.replies import Reply
from bot.services import BotServices
from core.errors import BackendUnavailable, ConfigError, SherlogError

log = logging.getLogger(__name__)
PLATFORM = "slack"
COMMAND = "/incident"
# Slack retries an event it thinks was not acknowledged; answering twice would double-post.
_SEEN_EVENTS = 2048
ENGINE_WORKERS = 4


class _RecentIds:
    """A bounded set of recently handled ids (event ids of retried deliveries)."""

    def __init__(self, size: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


def web_client(services: BotServices) -> WebClient:
    """The Web API client: bot token, and the configured API base URL (GovSlack, a test recorder)."""
    s = services.settings.slack
    if s.bot_token is None:
        raise ConfigError("the Slack adapter needs a bot token", hint="set SHERLOG_SLACK__BOT_TOKEN (xoxb-...)")
    base = s.api_base_url if s.api_base_url.endswith("/") else s.api_base_url + "/"
    return WebClient(token=s.bot_token.get_secret_value(), base_url=base)


def build_slack_app(services: BotServices) -> App:
    """A bolt App with every Sherlog listener registered. Verifies the bot token (auth.test).

    Without a signing secret the App does not verify HTTP requests, so `create_app` only mounts
    `/slack/events` when one is set (Socket Mode needs none).
    """
    s = services.settings.slack
    client = web_client(services)
    secret = s.signing_secret.get_secret_value() if s.signing_secret is not None else ""
    try:
        app = App(
            client=client,
            signing_secret=secret,
            request_verification_enabled=bool(secret),
            token_verification_enabled=True,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
            logger=logging.getLogger("sherlog.slack.bolt"),
        )
    except BoltError as e:
        raise ConfigError(
            f"Slack rejected the bot token: {e}",
            hint="check SHERLOG_SLACK__BOT_TOKEN (a bot token starts with xoxb-) and that the app is installed",
        ) from e
    except SlackClientError as e:
        raise BackendUnavailable(
            f"could not reach the Slack API at {client.base_url}: {e}",
            backend="slack",
            hint="check network access and SHERLOG_SLACK__API_BASE_URL",
        ) from e
    except OSError as e:
        raise BackendUnavailable(
            f"could not reach the Slack API at {client.base_url}: {e}",
            backend="slack",
            hint="check network access and SHERLOG_SLACK__API_BASE_URL",
        ) from e
    SlackBot(app, services).register()
    return app


class SlackBot:
    """Sherlog's listeners on one bolt App."""

    def __init__(self, app: App, services: BotServices) -> None:
        self.app = app
        self.services = services
        self.conversation = services.conversation(PLATFORM)
        self._seen = _RecentIds(_SEEN_EVENTS)
        # engine work runs here, not on bolt's listener threads: a slash command must find a free
        # listener thread to call ack() within 3 s even while several answers are being computed
        self.engine_pool = ThreadPoolExecutor(max_workers=ENGINE_WORKERS, thread_name_prefix="sherlog-engine")

    def register(self) -> None:
        self.app.event("app_mention")(self.on_mention)
        self.app.command(COMMAND)(self.on_command)
        self.app.action(re.compile(r"^sherlog_"))(self.on_action)
        self.app.error(self.on_error)

    # ------------------------------------------------------------------ posting helpers

    def _ephemeral(
        self, client: WebClient, channel: str, user: str | None, payload: dict[str, Any], thread: str | None = None
    ) -> None:
        try:
            if user:
                client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, **payload)
            else:  # no user to show it to (a bot?): say it in the thread instead
                client.chat_postMessage(channel=channel, thread_ts=thread, **payload)
        except SlackClientError as e:
            log.warning("could not post an ephemeral message to %s: %s", channel, e)

    def _refuse(
        self, client: WebClient, channel: str, user: str | None, refusal: Refusal, thread: str | None = None
    ) -> None:
        reply = Reply(text=refusal.reason, hint=refusal.hint, ephemeral=True, error=True)
        self._ephemeral(client, channel, user, render.render_reply(reply), thread)

    def _upload(self, client: WebClient, channel: str, thread: str | None, reply: Reply) -> None:
        doc = reply.document
        assert doc is not None
        try:
            client.files_upload_v2(
                channel=channel,
                thread_ts=thread,
                content=doc.markdown,
                filename=doc.filename,
                title=doc.title,
                initial_comment=f"{doc.title} (markdown; edit before sharing)",
            )
            return
        except SlackClientError as e:
            # most often the app lacks files:write; the draft still gets posted, as messages
            log.warning("file upload failed (%s); posting the postmortem as messages", e)
        for chunk in render.split_document(doc):
            client.chat_postMessage(channel=channel, thread_ts=thread, text=chunk, mrkdwn=True)

    def post_reply(
        self, client: WebClient, reply: Reply, *, channel: str, user: str | None, thread: str | None = None
    ) -> str | None:
        """Post a command reply where it belongs; returns the ts of a public message."""
        if reply.ephemeral:
            self._ephemeral(client, channel, user, render.render_reply(reply), thread)
            return None
        if reply.incident_channel == channel and reply.incident_thread:
            thread = reply.incident_thread
        resp = client.chat_postMessage(channel=channel, thread_ts=thread, **render.render_reply(reply))
        ts = str(resp.get("ts") or "")
        if reply.new_incident and reply.incident_key and ts and not thread:
            # the declaration message becomes the incident's thread: later replies go under it
            self.services.desk().attach_thread(reply.incident_key, channel, ts)
        if reply.document is not None:
            self._upload(client, channel, thread or ts or None, reply)
        return ts or None

    # ------------------------------------------------------------------ mentions

    def on_mention(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        """@sherlog <question>: placeholder in the thread now, the answer in its place later."""
        event_id = str(body.get("event_id") or "")
        if event_id and not self._seen.first_time(event_id):
            return
        channel = str(event.get("channel") or "")
        ts = str(event.get("ts") or "")
        if not channel or not ts:
            log.warning("app_mention without channel/ts ignored: %s", {k: event.get(k) for k in ("channel", "ts")})
            return
        user = event.get("user")
        thread = str(event.get("thread_ts") or ts)
        mention = Mention(
            platform=PLATFORM, channel=channel, thread=thread, user=user, text=str(event.get("text") or "")
        )
        refusal = self.conversation.screen(mention)
        if refusal is not None:
            self._refuse(client, channel, user, refusal, thread)
            return
        self.answer_in_thread(client, mention)

    def answer_in_thread(self, client: WebClient, mention: Mention) -> None:
        """Post the placeholder now; compute the answer on the engine pool and update it there."""
        placeholder = client.chat_postMessage(
            channel=mention.channel, thread_ts=mention.thread, **render.placeholder(mention.question)
        )
        self.engine_pool.submit(self._guarded, self._answer_into, client, mention, str(placeholder["ts"]))

    @staticmethod
    def _guarded(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except (SlackClientError, OSError) as e:  # Slack refused, or could not be reached
            log.warning("could not post to Slack: %s", e)
        except Exception:  # a worker must never die silently
            log.exception("Slack background work failed")

    def _answer_into(self, client: WebClient, mention: Mention, ph_ts: str) -> None:
        try:
            answer = self.conversation.answer(mention)
        except SherlogError as e:
            client.chat_update(channel=mention.channel, ts=ph_ts, **render.render_reply(Reply.from_error(e)))
            return
        except Exception:
            log.exception("the engine failed on %r", mention.question)
            client.chat_update(
                channel=mention.channel,
                ts=ph_ts,
                **render.render_reply(
                    Reply(
                        text="Sherlog hit an internal error while answering.",
                        hint="try again; if it keeps failing, check the `sherlog serve` log",
                        error=True,
                    )
                ),
            )
            return
        answer_id = self.conversation.record(mention, ph_ts, answer)
        client.chat_update(channel=mention.channel, ts=ph_ts, **render.render_answer(answer, answer_id))

    # ------------------------------------------------------------------ /incident

    def on_command(self, ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        """/incident <verb> ...: acknowledged first, then run."""
        ack()
        channel = str(command.get("channel_id") or "")
        user_id = command.get("user_id")
        if not channel:
            log.warning("/incident without a channel_id ignored")
            return
        refusal = self.conversation.allowlist.check(channel, command.get("channel_name"))
        if refusal is not None:
            self._refuse(client, channel, user_id, refusal)
            return
        parsed = self.services.parse(str(command.get("text") or ""))
        if isinstance(parsed, Reply):
            self._ephemeral(client, channel, user_id, render.render_reply(parsed))
            return
        ctx = CommandContext(platform=PLATFORM, channel=channel, user=f"<@{user_id}>" if user_id else None)
        try:
            if parsed.verb in ENGINE_VERBS:
                self._run_engine_verb(client, parsed, ctx, user_id)
                return
            reply = self.services.run_command(parsed, ctx)
            self.post_reply(client, reply, channel=channel, user=user_id)
        except SlackApiError as e:
            log.warning("Slack refused a reply to /incident %s: %s", parsed.verb, e)

    def _run_engine_verb(self, client: WebClient, cmd: Command, ctx: CommandContext, user_id: str | None) -> None:
        """`rca`: placeholder in the incident thread, then the answer in its place."""
        assert ctx.channel is not None
        try:
            incident = self.services.desk().locate(cmd, ctx)
        except SherlogError as e:
            self._ephemeral(client, ctx.channel, user_id, render.render_reply(Reply.from_error(e)))
            return
        refusal = self.services.screen_command(cmd, ctx)
        if refusal is not None:
            self._ephemeral(client, ctx.channel, user_id, render.render_reply(refusal))
            return
        thread = incident.thread if incident.channel == ctx.channel else None
        ph = client.chat_postMessage(
            channel=ctx.channel,
            thread_ts=thread,
            **render.placeholder(f"root cause of {incident.key}: {incident.title}"),
        )
        self.engine_pool.submit(
            self._guarded, self._rca_into, client, cmd.verb, incident.key, ctx, thread, user_id, str(ph["ts"])
        )

    def _rca_into(
        self,
        client: WebClient,
        verb: str,
        key: str,
        ctx: CommandContext,
        thread: str | None,
        user_id: str | None,
        ph_ts: str,
    ) -> None:
        assert ctx.channel is not None
        reply = self.services.run_command(Command(verb=verb, key=key), ctx, screened=True)
        if reply.answer is None:
            client.chat_update(channel=ctx.channel, ts=ph_ts, **render.render_reply(reply))
            return
        mention = Mention(
            platform=PLATFORM, channel=ctx.channel, thread=thread or ph_ts, user=user_id, text=reply.answer.question
        )
        answer_id = self.conversation.record(mention, ph_ts, reply.answer)
        client.chat_update(channel=ctx.channel, ts=ph_ts, **render.render_answer(reply.answer, answer_id))

    # ------------------------------------------------------------------ buttons

    def on_action(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        """Helpful / not helpful / declare incident / show all evidence."""
        ack()
        action_id = str(action.get("action_id") or "")
        answer_id = str(action.get("value") or "")
        user_id = (body.get("user") or {}).get("id")
        channel = str((body.get("channel") or {}).get("id") or "")
        message = body.get("message") or {}
        thread = message.get("thread_ts") or message.get("ts")
        if not channel or not answer_id:
            log.warning("button %s without channel or answer id ignored", action_id)
            return
        try:
            if action_id in (render.ACTION_HELPFUL, render.ACTION_UNHELPFUL):
                helpful = action_id == render.ACTION_HELPFUL
                self.conversation.feedback(answer_id, user_id, helpful)
                thanks = (
                    "Thanks — noted as helpful." if helpful else "Thanks — noted as not helpful; it helps us improve."
                )
                self._ephemeral(client, channel, user_id, {"text": thanks}, thread)
            elif action_id == render.ACTION_EVIDENCE:
                posted = self.services.answers.load(PLATFORM, answer_id)
                for msg in render.render_evidence(posted.answer):
                    client.chat_postMessage(channel=channel, thread_ts=thread, **msg)
            elif action_id == render.ACTION_DECLARE:
                posted = self.services.answers.load(PLATFORM, answer_id)
                ctx = CommandContext(
                    platform=PLATFORM, channel=channel, thread=thread, user=f"<@{user_id}>" if user_id else None
                )
                reply = self.services.desk().declare_from_answer(posted, ctx)
                self.services.metrics.incident_commands.labels(PLATFORM, "declare", "ok").inc()
                self.post_reply(client, reply, channel=channel, user=user_id, thread=thread)
            else:
                log.info("unknown Sherlog action %s ignored", action_id)
        except SherlogError as e:
            self._ephemeral(client, channel, user_id, render.render_reply(Reply.from_error(e)), thread)
        except SlackApiError as e:
            log.warning("Slack refused a reply to button %s: %s", action_id, e)

    def on_error(self, error: Exception, body: dict[str, Any] | None = None) -> None:
        """Last resort: log, never crash the worker."""
        log.error("unhandled error in a Slack listener: %r (payload type %s)", error, (body or {}).get("type"))


def mention_answer_id(channel: str, placeholder_ts: str) -> str:
    """The answer id of an answer posted in place of a placeholder (what its buttons carry)."""
    return answer_id_for(PLATFORM, channel, placeholder_ts)
