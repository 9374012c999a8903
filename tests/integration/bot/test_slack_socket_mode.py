"""The same bolt app over Socket Mode: a local websocket server speaks Slack's envelope protocol
(hello, envelopes, acks); `apps.connections.open` on the recorder hands out its URL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl

import pytest

from tests.fixtures.slack_recorder import SocketModeServer
from tests.integration.bot.conftest import Demo, Served
from tests.integration.bot.test_slack_http import command_body, mention_body, new_ts


@pytest.fixture
def socket_server() -> Iterator[SocketModeServer]:
    with SocketModeServer() as server:
        yield server


def test_socket_mode_mention_and_incident_command(
    socket_server: SocketModeServer, serve_slack: Callable[..., Served], demo: Demo
) -> None:
    s = serve_slack(socket_server=socket_server, app_token="xapp-1-A1-test")
    socket_server.wait_connected()
    [opened] = s.recorder.of("apps.connections.open")
    assert opened.token == "xapp-1-A1-test"  # the app-level token, not the bot token

    s.ask.gate.clear()
    ts = new_ts()
    envelope = socket_server.push(
        "events_api", json.loads(mention_body("why is checkout failing?", channel="C-SOCK", ts=ts))
    )
    ack = socket_server.wait_ack(envelope)
    assert ack["envelope_id"] == envelope
    assert not s.ask.finished.is_set()  # the envelope was acknowledged before the engine answered
    [placeholder] = s.recorder.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "C-SOCK")
    assert placeholder.params["thread_ts"] == ts
    s.ask.gate.set()
    [update] = s.recorder.wait_for("chat.update", lambda c: c.params.get("ts") == placeholder.response["ts"])
    assert demo.truth.root_cause in update.params["blocks"][0]["text"]["text"]

    command = dict(parse_qsl(command_body("declare Socket mode incident sev3", channel="C-SOCK")))
    envelope = socket_server.push("slash_commands", command, accepts_response_payload=True)
    socket_server.wait_ack(envelope)
    [declared] = s.recorder.wait_for(
        "chat.postMessage", lambda c: c.params.get("channel") == "C-SOCK" and "declared" in str(c.params.get("text"))
    )
    m = re.search(r"INC-\d+", declared.params["text"])
    assert m is not None
    incident = demo.stack.db.get_incident(m.group(0))
    assert (incident.title, incident.severity, incident.channel) == ("Socket mode incident", 3, "C-SOCK")
