"""Slack Socket Mode: the same bolt App, fed over a websocket Slack opens for us.

Socket Mode needs no public URL (good behind a firewall). The connection URL comes from
`apps.connections.open` on the configured Web API base URL, so GovSlack and test recorders
work the same way. Envelopes are acknowledged as soon as bolt's listener calls `ack()`.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackClientError

from core.errors import BackendUnavailable, ConfigError
from core.settings import Settings

log = logging.getLogger(__name__)


class SlackSocketMode:
    """Starts and stops a Socket Mode connection for one bolt App (non-blocking)."""

    def __init__(self, app: App, settings: Settings) -> None:
        token = settings.slack.app_token
        if token is None:
            raise ConfigError("Socket Mode needs an app-level token", hint="set SHERLOG_SLACK__APP_TOKEN (xapp-...)")
        self.handler = SocketModeHandler(app, token.get_secret_value(), web_client=app.client)

    def start(self) -> None:
        """Open the connection; the SDK's own threads receive envelopes and reconnect."""
        try:
            self.handler.connect()
        except (SlackClientError, OSError) as e:
            raise BackendUnavailable(
                f"could not open a Slack Socket Mode connection: {e}",
                backend="slack",
                hint="check SHERLOG_SLACK__APP_TOKEN (connections:write scope) and network access",
            ) from e
        log.info("Slack Socket Mode connected")

    @property
    def connected(self) -> bool:
        return bool(self.handler.client.is_connected())

    def close(self) -> None:
        try:
            self.handler.close()
        except Exception:  # closing a half-open socket must never block shutdown
            log.debug("error while closing Socket Mode", exc_info=True)
