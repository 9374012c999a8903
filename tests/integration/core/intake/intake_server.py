"""A real intake server for the intake/ship integration tests: uvicorn in a thread on a free
loopback port, with the real stack (session FalkorDB, SQLite in a temp data dir)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from core.graph.falkordb_server import EmbeddedFalkorDB
from core.intake.http import create_intake_app
from core.settings import GraphSettings, ServerSettings, Settings
from core.wiring import Stack, open_stack
from tests.fixtures.net import free_port, wait_for_port


@dataclass
class RunningIntake:
    """A live intake server and the stack behind it."""

    url: str
    settings: Settings
    stack: Stack

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0)


def intake_settings(data_dir: Path, falkor: EmbeddedFalkorDB, **server: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        graph=GraphSettings(uri=f"falkor://127.0.0.1:{falkor.port}", graph_name=f"t_{data_dir.name}"),
        server=ServerSettings(**server),  # type: ignore[arg-type]
    )


@contextmanager
def running_intake(settings: Settings) -> Iterator[RunningIntake]:
    """Serve `create_intake_app(settings)` with uvicorn until the block ends."""
    stack = open_stack(settings, start=False)
    port = free_port()
    app = create_intake_app(settings, stack, warm=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port, timeout=60)
        yield RunningIntake(f"http://127.0.0.1:{port}", settings, stack)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        stack.close()
