"""Posting the answer to a firing alert into the configured alerts channel (Slack and/or Discord).

The message is the same answer card a mention gets (same renderers, same buttons), with a
banner naming the alert that triggered it. The answer is saved in the answer log under an id
of its own (`<platform>:<channel>:alert-<investigation id>`), so "declare incident" and
"show all evidence" work on it like on any other answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import discord
from slack_sdk import WebClient

from bot.answer_log import PostedAnswer, answer_id_for
from bot.investigate import AlertTrigger
from bot.render import discord as discord_render
from bot.render import slack as slack_render
from bot.render.common import clip
from bot.services import BotServices
from core.errors import BackendTimeout, ConfigError
from core.model import Answer

POST_TIMEOUT_S = 30.0


def banner(trigger: AlertTrigger) -> str:
    """`🚨 Alert HighErrorRate firing on payments (alertmanager) — Sherlog investigated it on its own`."""
    return f"🚨 Alert {trigger.describe()} — Sherlog investigated it on its own"


def alert_answer_id(platform: str, channel: str, investigation_id: int) -> str:
    return answer_id_for(platform, channel, f"alert-{investigation_id}")


class SlackAlertPoster:
    """Posts answers to alerts into one Slack channel (`SHERLOG_SLACK__ALERTS_CHANNEL`)."""

    PLATFORM = "slack"

    def __init__(self, services: BotServices, channel: str, *, client: WebClient | None = None) -> None:
        if not channel.strip():
            raise ConfigError("SHERLOG_SLACK__ALERTS_CHANNEL is empty", hint="give a channel id or #name, or unset it")
        self.services = services
        self.channel = channel.strip()
        self._client = client

    @property
    def destination(self) -> str:
        return f"slack:{self.channel}"

    def client(self) -> WebClient:
        if self._client is None:
            from bot.slack_app import web_client  # the adapter's own client: same token and API base

            self._client = web_client(self.services)
        return self._client

    def payload(self, investigation_id: int, trigger: AlertTrigger, answer: Answer) -> dict[str, Any]:
        """chat.postMessage kwargs: the answer card with the alert banner on top."""
        answer_id = alert_answer_id(self.PLATFORM, self.channel, investigation_id)
        payload = slack_render.render_answer(answer, answer_id)
        text = slack_render.escape(banner(trigger))
        blocks: list[dict[str, Any]] = payload["blocks"]
        if len(blocks) < slack_render.MAX_BLOCKS:  # the card may already use every block Slack allows
            payload["blocks"] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}, *blocks]
        payload["text"] = clip(f"{text}. {payload['text']}", slack_render.MAX_FALLBACK)
        return payload

    def post(self, investigation_id: int, trigger: AlertTrigger, answer: Answer) -> None:
        resp = self.client().chat_postMessage(channel=self.channel, **self.payload(investigation_id, trigger, answer))
        self.services.answers.save(
            PostedAnswer(
                answer_id=alert_answer_id(self.PLATFORM, self.channel, investigation_id),
                answer=answer,
                platform=self.PLATFORM,
                channel=str(resp.get("channel") or self.channel),
                thread=str(resp.get("ts") or ""),
                user=None,
            )
        )


class DiscordAlertPoster:
    """Posts answers to alerts into one Discord channel (`SHERLOG_DISCORD__ALERTS_CHANNEL`) through
    the running bot client; called from a worker thread, it runs the send on the client's loop."""

    PLATFORM = "discord"

    def __init__(
        self,
        client: discord.Client,
        loop: asyncio.AbstractEventLoop,
        channel_id: str,
        services: BotServices,
        *,
        timeout_s: float = POST_TIMEOUT_S,
    ) -> None:
        if not channel_id.strip().isdigit():
            raise ConfigError(
                f"SHERLOG_DISCORD__ALERTS_CHANNEL must be a channel id (digits), got {channel_id!r}",
                hint="in Discord, enable Developer Mode and use 'Copy Channel ID'",
            )
        self.client = client
        self.loop = loop
        self.channel_id = channel_id.strip()
        self.services = services
        self.timeout_s = timeout_s

    @property
    def destination(self) -> str:
        return f"discord:{self.channel_id}"

    async def _send(self, investigation_id: int, trigger: AlertTrigger, answer: Answer) -> str:
        cid = int(self.channel_id)
        channel = self.client.get_channel(cid) or await self.client.fetch_channel(cid)
        if not isinstance(channel, discord.abc.Messageable):
            raise ConfigError(f"Discord channel {cid} cannot receive messages (it is a {type(channel).__name__})")
        answer_id = alert_answer_id(self.PLATFORM, self.channel_id, investigation_id)
        message = await channel.send(
            content=clip(banner(trigger), discord_render.MAX_CONTENT),
            embed=discord_render.answer_embed(answer),
            view=discord_render.answer_view(answer, answer_id),
        )
        return str(message.id)

    def post(self, investigation_id: int, trigger: AlertTrigger, answer: Answer) -> None:
        future = asyncio.run_coroutine_threadsafe(self._send(investigation_id, trigger, answer), self.loop)
        try:
            message_id = future.result(self.timeout_s)
        except concurrent.futures.TimeoutError as e:
            future.cancel()
            raise BackendTimeout(
                f"Discord did not take the message within {self.timeout_s:.0f} s", backend="discord"
            ) from e
        self.services.answers.save(
            PostedAnswer(
                answer_id=alert_answer_id(self.PLATFORM, self.channel_id, investigation_id),
                answer=answer,
                platform=self.PLATFORM,
                channel=self.channel_id,
                thread=message_id,
                user=None,
            )
        )
