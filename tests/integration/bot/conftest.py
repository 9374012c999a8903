"""Fixtures for the chat adapters: a real stack seeded with the chaos default scenario (once per
session), the real engine behind the bot, and `sherlog serve` running under uvicorn on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bot.incidents import AskFn
from bot.server import create_app
from bot.services import BotServices, engine_ask
from chaos.scenarios import DEFAULT_SCENARIO, load_scenario
from chaos.simulate import GroundTruth, simulate
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.ingest.pipeline import Ingestor
from core.model import Answer, Question
from core.settings import GraphSettings, Settings, SlackSettings
from core.sources.topology import from_static
from core.wiring import Stack, open_stack
from tests.fixtures.net import free_port, wait_for_port
from tests.fixtures.slack_recorder import SlackRecorder

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Demo:
    """The seeded stack and what really happened in it."""

    stack: Stack
    truth: GroundTruth


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, falkordb_server: EmbeddedFalkorDB) -> Iterator[Demo]:
    """The chaos default scenario (checkout-db-pool), shifted to end now, ingested through core's API.

    Shifted because the engine looks at the last hour when a question names no time.
    """
    data_dir = tmp_path_factory.mktemp("bot-demo")
    settings = Settings(
        data_dir=data_dir,
        graph=GraphSettings(uri=f"falkor://127.0.0.1:{falkordb_server.port}", graph_name=f"bot_{data_dir.name}"),
    )
    scenario = load_scenario(DEFAULT_SCENARIO)
    span = timedelta(minutes=scenario.fault.at_min + scenario.window.after_min + 2)
    start = (datetime.now(UTC) - span).replace(second=0, microsecond=0)
    result = simulate(None, scenario, start=start)
    stack = open_stack(settings)
    with Ingestor(stack) as ingestor:
        ingestor.ingest_topology(from_static(result.topology))
        ingestor.ingest_events(result.events)
        ingestor.ingest_runbooks(PROJECT_ROOT / "chaos" / "runbooks")
    yield Demo(stack=stack, truth=result.truth)
    stack.close()


class GatedAsk:
    """The real engine behind a gate the test opens, with events marking when it ran.

    Lets a test check ordering (Slack was acknowledged before the engine finished) without
    timing anything; the engine itself is untouched.
    """

    def __init__(self, ask: AskFn) -> None:
        self._ask = ask
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.finished = threading.Event()
        self.questions: list[tuple[Question, str]] = []

    def __call__(self, question: Question, platform: str) -> Answer:
        self.questions.append((question, platform))
        self.started.set()
        if not self.gate.wait(120):
            raise TimeoutError("test gate never opened")
        try:
            return self._ask(question, platform)
        finally:
            self.finished.set()


@pytest.fixture(scope="session")
def real_ask(demo: Demo) -> AskFn:
    """One real engine for the session (building it loads the embedder once)."""
    return engine_ask(demo.stack)


@dataclass
class Served:
    """`sherlog serve` running in-process on loopback."""

    url: str
    app: Any
    services: BotServices
    settings: Settings
    recorder: SlackRecorder
    ask: GatedAsk
    extra: dict[str, Any] = field(default_factory=dict)


def run_uvicorn(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="sherlog-serve", daemon=True)
    thread.start()
    wait_for_port(port, timeout=60)
    return server, thread, port


@pytest.fixture
def serve_slack(demo: Demo, real_ask: AskFn) -> Iterator[Callable[..., Served]]:
    """Factory: start the server with Slack pointed at a fresh recorder (extra SlackSettings by keyword)."""
    started: list[tuple[uvicorn.Server, threading.Thread, SlackRecorder]] = []
    made: list[Served] = []

    def start(*, socket_server: Any = None, **slack: Any) -> Served:
        recorder = SlackRecorder().__enter__()
        if socket_server is not None:
            recorder.socket_url = socket_server.url
        slack_settings = SlackSettings(
            bot_token="xoxb-test-token",
            signing_secret=SIGNING_SECRET,
            api_base_url=recorder.base_url,
            **slack,
        )
        settings = demo.stack.settings.model_copy(update={"slack": slack_settings})
        ask = GatedAsk(real_ask)
        services = BotServices(settings=settings, db=demo.stack.db, ask=ask)
        app = create_app(settings, stack=demo.stack, services=services)
        server, thread, port = run_uvicorn(app)
        started.append((server, thread, recorder))
        served = Served(
            url=f"http://127.0.0.1:{port}", app=app, services=services, settings=settings, recorder=recorder, ask=ask
        )
        made.append(served)
        return served

    yield start
    for served in made:
        served.ask.gate.set()  # never leave a worker blocked on a failed test's gate
    for server, thread, recorder in started:
        server.should_exit = True
        thread.join(30)
        recorder.__exit__(None, None, None)
