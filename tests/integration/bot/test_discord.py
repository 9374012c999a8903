"""The real discord.py client against a local REST fake, with gateway payloads fed through its
parser; the engine is the real one over the seeded chaos default scenario."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.http import Route

from bot.discord_bot import SherlogDiscord
from bot.incidents import AskFn
from bot.services import BotServices
from tests.fixtures import discord_fake as dfake
from tests.fixtures.discord_fake import DiscordFake
from tests.integration.bot.conftest import Demo, GatedAsk


@pytest.fixture
async def fake() -> AsyncIterator[DiscordFake]:
    async with DiscordFake() as f:
        old = Route.BASE
        Route.BASE = f.base  # type: ignore[misc]
        try:
            yield f
        finally:
            Route.BASE = old  # type: ignore[misc]


def gateway(client: SherlogDiscord) -> Any:
    """discord.py's connection state: the parser gateway payloads go through."""
    return client._connection


async def _client(demo: Demo, ask: AskFn) -> tuple[SherlogDiscord, BotServices]:
    services = BotServices(settings=demo.stack.settings, db=demo.stack.db, ask=ask)
    client = SherlogDiscord(services)
    await client.login("discord-test-token")
    gateway(client).parse_guild_create(dfake.guild_create())
    return client, services


async def test_mention_gets_a_thread_reply_naming_the_root_cause(
    fake: DiscordFake, demo: Demo, real_ask: AskFn
) -> None:
    ask = GatedAsk(real_ask)
    client, _ = await _client(demo, ask)
    try:
        assert fake.of("GET", "/users/@me") and fake.of("PUT", f"/applications/{dfake.APP_ID}/commands")
        sync = fake.of("PUT", "/commands")[0].json
        [group] = [c for c in sync if c["name"] == "incident"]
        verbs = {o["name"] for o in group["options"]}
        assert verbs >= {
            "declare",
            "status",
            "update",
            "sev",
            "lead",
            "note",
            "timeline",
            "rca",
            "resolve",
            "postmortem",
            "list",
            "help",
        }

        mid = fake.next_id()
        gateway(client).parse_message_create(
            dfake.message_create(f"<@{dfake.BOT_ID}> why is checkout failing?", mid=mid)
        )
        [thread_req] = await fake.wait_for("POST", f"/channels/{dfake.CHANNEL_ID}/messages/{mid}/threads")
        assert thread_req.json["name"] == "why is checkout failing?"
        thread_id = thread_req.response["id"]
        [placeholder] = await fake.wait_for("POST", f"/channels/{thread_id}/messages")
        assert "Investigating" in placeholder.json["content"]
        [edit] = await fake.wait_for("PATCH", f"/channels/{thread_id}/messages/{placeholder.response['id']}")
        [embed] = edit.json["embeds"]
        assert demo.truth.root_cause in embed["title"]
        assert any(f["name"].startswith("Evidence") for f in embed["fields"])
        buttons = [c["custom_id"] for row in edit.json["components"] for c in row["components"]]
        assert f"sherlog:helpful:discord:{dfake.CHANNEL_ID}:{placeholder.response['id']}" in buttons
        [(question, platform)] = ask.questions
        assert (question.channel, question.thread, platform) == (dfake.CHANNEL_ID, thread_id, "discord")

        # a message that does not mention the bot is ignored
        gateway(client).parse_message_create(dfake.message_create("just chatting", mid=fake.next_id(), mentions=[]))
        # the helpful button stores feedback and answers ephemerally
        gateway(client).parse_interaction_create(dfake.button_click(fake.next_id(), buttons[0]))
        [cb] = await fake.wait_for("POST", "/callback")
        assert cb.json["type"] == 4 and cb.json["data"]["flags"] & 64
        await asyncio.sleep(0)
        assert len(ask.questions) == 1
    finally:
        await client.close()


async def test_incident_declare_and_verbs_reply_and_change_the_store(
    fake: DiscordFake, demo: Demo, real_ask: AskFn
) -> None:
    client, _ = await _client(demo, GatedAsk(real_ask))
    try:
        iid = fake.next_id()
        gateway(client).parse_interaction_create(
            dfake.incident_command(iid, "declare", {"title": "Discord checkout outage", "sev": "sev2"})
        )
        [cb] = await fake.wait_for("POST", f"/interactions/{iid}/")
        assert cb.json["type"] == 4
        [embed] = cb.json["data"]["embeds"]
        m = re.search(r"INC-\d+", embed["title"])
        assert m is not None and "SEV2" in embed["title"]
        incident = demo.stack.db.get_incident(m.group(0))
        assert (incident.title, incident.severity, incident.channel, incident.status) == (
            "Discord checkout outage",
            2,
            dfake.CHANNEL_ID,
            "open",
        )

        iid = fake.next_id()
        gateway(client).parse_interaction_create(
            dfake.incident_command(
                iid, "lead", {"user": dfake.HUMAN_ID}, resolved={"users": {dfake.HUMAN_ID: dfake.HUMAN}}
            )
        )
        [cb] = await fake.wait_for("POST", f"/interactions/{iid}/")
        assert f"<@{dfake.HUMAN_ID}> is now the lead" in cb.json["data"]["embeds"][0]["description"]
        incident = demo.stack.db.get_incident(incident.key)
        assert incident.status == "acknowledged" and incident.lead == f"<@{dfake.HUMAN_ID}>"

        iid = fake.next_id()
        gateway(client).parse_interaction_create(dfake.incident_command(iid, "sev", {"level": "7"}))
        [cb] = await fake.wait_for("POST", f"/interactions/{iid}/")
        assert cb.json["data"]["flags"] & 64 and "severity must be 1" in cb.json["data"]["embeds"][0]["description"]

        iid = fake.next_id()
        gateway(client).parse_interaction_create(dfake.incident_command(iid, "resolve", {"summary": "fixed"}))
        await fake.wait_for("POST", f"/interactions/{iid}/")
        assert demo.stack.db.get_incident(incident.key).status == "resolved"

        iid = fake.next_id()
        gateway(client).parse_interaction_create(dfake.incident_command(iid, "postmortem", {}))
        [cb] = await fake.wait_for("POST", f"/interactions/{iid}/")
        [(name, content)] = cb.files.items()
        assert name == f"{incident.key}-postmortem.md" and f"# Postmortem: {incident.key}".encode() in content
    finally:
        await client.close()


def test_discord_embed_type_is_available() -> None:
    assert discord.__version__ == "2.7.1"
