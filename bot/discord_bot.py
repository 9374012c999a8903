"""The Discord adapter: a discord.py client with an `/incident` app-command group.

A mention of the bot starts a thread on the message (or uses the thread it was asked in),
posts "investigating…" there and edits it into the answer with buttons. `/incident <verb>`
runs the same verbs as Slack and the console through `BotServices.run_command`. Engine and
store calls run in worker threads (`asyncio.to_thread`) so the gateway heartbeat never stalls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from typing import Any

import discord
from discord import app_commands

from bot.answer_log import answer_id_for
from bot.conversation import Mention
from bot.guards import Refusal
from bot.incidents import ENGINE_VERBS, Command, CommandContext, parse_severity, usage_text
from bot.render import discord as render
from bot.render.common import clip
from bot.replies import Reply
from bot.services import BotServices
from core.errors import SherlogError

log = logging.getLogger(__name__)
PLATFORM = "discord"
THREAD_NAME_MAX = 100


def _channel_ids(channel: Any) -> tuple[str, str | None, tuple[str, ...]]:
    """(channel id for memory/incidents, thread id or None, allowlist aliases) of a message's channel."""
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        aliases = tuple(a for a in (str(channel.id), getattr(parent, "name", None), channel.name) if a)
        return str(channel.parent_id), str(channel.id), aliases
    name = getattr(channel, "name", None)
    return str(channel.id), None, ((name,) if name else ())


class SherlogDiscord(discord.Client):
    """The Discord bot. `sync_commands` registers `/incident` with Discord on login."""

    def __init__(self, services: BotServices, *, sync_commands: bool = True) -> None:
        # default intents: guild messages arrive, and a message that mentions the bot carries
        # its content even without the privileged message-content intent
        super().__init__(
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
        )
        self.services = services
        self.conversation = services.conversation(PLATFORM)
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(incident_group(self))
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self._sync_commands = sync_commands
        self.ready_event = asyncio.Event()

    async def setup_hook(self) -> None:
        if self._sync_commands:
            try:
                await self.tree.sync()
            except discord.HTTPException as e:
                log.warning("could not register /incident with Discord: %s", e)

    async def on_ready(self) -> None:
        self.ready_event.set()
        log.info("Discord connected as %s", self.user)

    # ------------------------------------------------------------------ mentions

    async def on_message(self, message: discord.Message) -> None:
        try:
            await self._on_message(message)
        except discord.HTTPException as e:
            log.warning("Discord refused a reply to message %s: %s", message.id, e)

    async def _on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or not any(m.id == me.id for m in message.mentions):
            return
        channel_id, thread_id, aliases = _channel_ids(message.channel)
        mention = Mention(
            platform=PLATFORM,
            channel=channel_id,
            thread=thread_id or str(message.id),
            user=f"<@{message.author.id}>",
            text=message.content,
            channel_aliases=aliases,
        )
        refusal = self.conversation.screen(mention)
        if refusal is not None:
            await message.reply(_refusal_text(refusal), mention_author=False)
            return
        target: discord.abc.Messageable = message.channel
        if thread_id is None and message.guild is not None:
            try:
                thread = await message.create_thread(name=clip(mention.question, THREAD_NAME_MAX) or "Sherlog")
                target = thread
                mention = dataclasses.replace(mention, thread=str(thread.id))
            except discord.HTTPException as e:  # no thread permission: answer in the channel
                log.info("could not start a thread (%s); answering in the channel", e)
        placeholder = await target.send(f"🔎 Investigating… *{clip(mention.question, 300)}*")
        try:
            answer = await asyncio.to_thread(self.conversation.answer, mention)
        except SherlogError as e:
            await placeholder.edit(content=None, embed=render.reply_embed(Reply.from_error(e)))
            return
        except Exception:
            log.exception("the engine failed on %r", mention.question)
            await placeholder.edit(content="Sherlog hit an internal error while answering; check the server log.")
            return
        answer_id = await asyncio.to_thread(self.conversation.record, mention, str(placeholder.id), answer)
        await placeholder.edit(
            content=None, embed=render.answer_embed(answer), view=render.answer_view(answer, answer_id)
        )

    # ------------------------------------------------------------------ /incident

    def context_of(self, interaction: discord.Interaction) -> CommandContext:
        channel_id, thread_id, _ = _channel_ids(interaction.channel) if interaction.channel else ("", None, ())
        return CommandContext(
            platform=PLATFORM,
            channel=channel_id or (str(interaction.channel_id) if interaction.channel_id else None),
            thread=thread_id,
            user=f"<@{interaction.user.id}>",
        )

    async def run_verb(self, interaction: discord.Interaction, cmd: Command) -> None:
        """Run one verb and answer the interaction (ephemeral on errors)."""
        ctx = self.context_of(interaction)
        aliases = _channel_ids(interaction.channel)[2] if interaction.channel else ()
        refusal = self.conversation.allowlist.check(ctx.channel, *aliases)
        if refusal is not None:
            await interaction.response.send_message(_refusal_text(refusal), ephemeral=True)
            return
        if cmd.verb in ENGINE_VERBS:
            refusal_reply = self.services.screen_command(cmd, ctx)
            if refusal_reply is not None:
                await self._respond(interaction, refusal_reply)
                return
            await interaction.response.defer(thinking=True)
            reply = await asyncio.to_thread(self.services.run_command, cmd, ctx, screened=True)
            if reply.answer is not None:
                answer_id = answer_id_for(PLATFORM, ctx.channel or "", f"i{interaction.id}")
                mention = Mention(
                    platform=PLATFORM,
                    channel=ctx.channel or "",
                    thread=ctx.thread or str(interaction.id),
                    user=ctx.user,
                    text=reply.answer.question,
                )
                await asyncio.to_thread(self.conversation.record, mention, f"i{interaction.id}", reply.answer)
                await interaction.followup.send(
                    embed=render.answer_embed(reply.answer), view=render.answer_view(reply.answer, answer_id)
                )
            else:
                await interaction.followup.send(embed=render.reply_embed(reply), ephemeral=reply.ephemeral)
            return
        reply = await asyncio.to_thread(self.services.run_command, cmd, ctx)
        await self._respond(interaction, reply)

    async def _respond(self, interaction: discord.Interaction, reply: Reply) -> None:
        kwargs: dict[str, Any] = {"embed": render.reply_embed(reply), "ephemeral": reply.ephemeral}
        if reply.document is not None:
            data = reply.document.markdown.encode("utf-8")
            kwargs["file"] = discord.File(io.BytesIO(data), filename=reply.document.filename)
        await interaction.response.send_message(**kwargs)

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Bad options (a transformer failed) or a bug: tell the user, never go silent."""
        original = getattr(error, "original", None)
        if isinstance(original, SherlogError):
            reply = Reply.from_error(original)
        else:
            log.error("/incident failed: %r", error, exc_info=error)
            reply = Reply(
                text=f"That didn't work: {error}",
                hint="`/incident help` lists the verbs and their options",
                ephemeral=True,
                error=True,
            )
        try:
            if interaction.response.is_done():
                await interaction.followup.send(embed=render.reply_embed(reply), ephemeral=True)
            else:
                await interaction.response.send_message(embed=render.reply_embed(reply), ephemeral=True)
        except discord.HTTPException as e:
            log.warning("could not report an /incident error: %s", e)

    # ------------------------------------------------------------------ buttons

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type != discord.InteractionType.component:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        parsed = render.parse_custom_id(str(data.get("custom_id") or ""))
        if parsed is None:
            return
        action, answer_id = parsed
        try:
            await self._on_button(interaction, action, answer_id)
        except SherlogError as e:
            await self._respond(interaction, Reply.from_error(e))
        except discord.HTTPException as e:
            log.warning("Discord refused a reply to button %s: %s", action, e)

    async def _on_button(self, interaction: discord.Interaction, action: str, answer_id: str) -> None:
        user = f"<@{interaction.user.id}>"
        if action in ("helpful", "unhelpful"):
            helpful = action == "helpful"
            await asyncio.to_thread(self.conversation.feedback, answer_id, user, helpful)
            text = "Thanks — noted as helpful." if helpful else "Thanks — noted as not helpful; it helps us improve."
            await interaction.response.send_message(text, ephemeral=True)
        elif action == "evidence":
            posted = await asyncio.to_thread(self.services.answers.load, PLATFORM, answer_id)
            messages = render.evidence_embeds(posted.answer)
            await interaction.response.send_message(embeds=messages[0])
            for embeds in messages[1:]:
                await interaction.followup.send(embeds=embeds)
        elif action == "declare":
            posted = await asyncio.to_thread(self.services.answers.load, PLATFORM, answer_id)
            ctx = dataclasses.replace(self.context_of(interaction), user=user)
            reply = await asyncio.to_thread(self.services.desk().declare_from_answer, posted, ctx)
            self.services.metrics.incident_commands.labels(PLATFORM, "declare", "ok").inc()
            await self._respond(interaction, reply)
        else:
            await interaction.response.send_message(f"Unknown button {action!r}.", ephemeral=True)


def _refusal_text(refusal: Refusal) -> str:
    return f"{refusal.reason} ({refusal.hint})"


_KEY_HELP = "incident key, e.g. INC-7 (default: this thread's or channel's incident)"


def incident_group(bot: SherlogDiscord) -> app_commands.Group:
    """`/incident <verb>`: the same verbs as Slack's `/incident` and the console."""
    group = app_commands.Group(name="incident", description="Run an incident from chat")

    @group.command(name="declare", description="Open an incident")
    @app_commands.describe(title="what is broken", sev="severity 1 (worst) to 4, default 3")
    async def declare(interaction: discord.Interaction, title: str, sev: str = "3") -> None:
        try:
            severity = parse_severity(sev)
        except SherlogError as e:
            await bot._respond(interaction, Reply.from_error(e))
            return
        await bot.run_verb(interaction, Command(verb="declare", text=title, severity=severity))

    @group.command(name="status", description="Where the incident stands")
    @app_commands.describe(incident=_KEY_HELP)
    async def status(interaction: discord.Interaction, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="status", key=incident))

    @group.command(name="update", description="Post a status update to the timeline")
    @app_commands.describe(text="the update", incident=_KEY_HELP)
    async def update(interaction: discord.Interaction, text: str, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="update", text=text, key=incident))

    @group.command(name="sev", description="Change the severity")
    @app_commands.describe(level="1 (worst) to 4, or sev1-sev4", incident=_KEY_HELP)
    async def sev(interaction: discord.Interaction, level: str, incident: str | None = None) -> None:
        try:
            severity = parse_severity(level)
        except SherlogError as e:
            await bot._respond(interaction, Reply.from_error(e))
            return
        await bot.run_verb(interaction, Command(verb="sev", severity=severity, key=incident))

    @group.command(name="lead", description="Set the incident lead (acknowledges the incident)")
    @app_commands.describe(user="who leads", incident=_KEY_HELP)
    async def lead(interaction: discord.Interaction, user: discord.User, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="lead", user=f"<@{user.id}>", key=incident))

    @group.command(name="ack", description="Acknowledge the incident")
    @app_commands.describe(incident=_KEY_HELP)
    async def ack(interaction: discord.Interaction, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="ack", key=incident))

    @group.command(name="note", description="Add a note to the timeline")
    @app_commands.describe(text="the note", incident=_KEY_HELP)
    async def note(interaction: discord.Interaction, text: str, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="note", text=text, key=incident))

    @group.command(name="timeline", description="Every timeline entry with its time")
    @app_commands.describe(incident=_KEY_HELP)
    async def timeline(interaction: discord.Interaction, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="timeline", key=incident))

    @group.command(name="rca", description="Find the root cause and post it here")
    @app_commands.describe(incident=_KEY_HELP)
    async def rca(interaction: discord.Interaction, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="rca", key=incident))

    @group.command(name="mitigate", description="Mark the incident mitigated")
    @app_commands.describe(text="what mitigated it", incident=_KEY_HELP)
    async def mitigate(interaction: discord.Interaction, text: str = "", incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="mitigate", text=text, key=incident))

    @group.command(name="resolve", description="Resolve the incident")
    @app_commands.describe(summary="what happened and what fixed it", incident=_KEY_HELP)
    async def resolve(interaction: discord.Interaction, summary: str = "", incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="resolve", text=summary, key=incident))

    @group.command(name="postmortem", description="A postmortem draft from the timeline, evidence and RCA")
    @app_commands.describe(incident=_KEY_HELP)
    async def postmortem(interaction: discord.Interaction, incident: str | None = None) -> None:
        await bot.run_verb(interaction, Command(verb="postmortem", key=incident))

    @group.command(name="list", description="Open incidents")
    async def list_(interaction: discord.Interaction) -> None:
        await bot.run_verb(interaction, Command(verb="list"))

    @group.command(name="help", description="The /incident verbs")
    async def help_(interaction: discord.Interaction) -> None:
        await bot._respond(interaction, Reply(text=usage_text(), title="/incident help", ephemeral=True))

    return group
