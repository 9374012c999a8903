"""infra/slack-manifest.yaml declares what the Slack adapter uses: the events it handles, the
slash command, interactivity, and the scopes for every Web API method it calls."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.slack_app import COMMAND

MANIFEST = Path(__file__).resolve().parents[3] / "infra" / "slack-manifest.yaml"


def test_manifest_matches_the_adapter() -> None:
    doc = yaml.safe_load(MANIFEST.read_text())
    assert doc["_metadata"]["major_version"] == 2
    [command] = doc["features"]["slash_commands"]
    assert command["command"] == COMMAND and command["should_escape"] is True
    for verb in ("declare", "status", "update", "sev", "lead", "note", "timeline", "rca", "resolve", "postmortem"):
        assert verb in command["usage_hint"]
    settings = doc["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_mention"]
    assert settings["interactivity"]["is_enabled"] is True
    urls = [command["url"], settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]]
    assert all(u.startswith("https://") and u.endswith("/slack/events") for u in urls)
    scopes = set(doc["oauth_config"]["scopes"]["bot"])
    assert scopes == {"app_mentions:read", "chat:write", "commands", "files:write"}
