"""Shared fixtures. Tests run against real servers they start themselves."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Offline guarantees, set before anything imports litellm, deepeval or huggingface.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# never let a developer's own config leak into tests, and never let a test that forgets to
# pass settings touch the real data dir or the default FalkorDB port: both point at a
# throwaway dir and a free port for the whole session (stopped in pytest_sessionfinish)
os.environ["SHERLOG_CONFIG"] = "/nonexistent/sherlog.toml"
_SAFETY_DIR = tempfile.mkdtemp(prefix="sherlog-test-default-")
os.environ["SHERLOG_DATA_DIR"] = _SAFETY_DIR

from core.graph.falkordb_server import EmbeddedFalkorDB  # noqa: E402
from core.settings import GraphSettings, Settings  # noqa: E402
from tests.fixtures.net import free_port  # noqa: E402

os.environ["SHERLOG_GRAPH__PORT"] = str(free_port())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop an embedded FalkorDB that a test started in the safety data dir, if any."""
    EmbeddedFalkorDB(Path(_SAFETY_DIR), port=int(os.environ["SHERLOG_GRAPH__PORT"])).stop()


PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip with the reason when a clone has no shared/ beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (CI has it beside the clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def falkordb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedFalkorDB]:
    """One real embedded FalkorDB for the whole session, on a free loopback port."""
    server = EmbeddedFalkorDB(tmp_path_factory.mktemp("falkor-session"), port=free_port())
    server.ensure_running()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path: Path, falkordb_server: EmbeddedFalkorDB) -> Settings:
    """Settings pointing at a fresh data dir and the session's FalkorDB (unique graph name per test)."""
    return Settings(
        data_dir=tmp_path,
        graph=GraphSettings(uri=f"falkor://127.0.0.1:{falkordb_server.port}", graph_name=f"t_{tmp_path.name}"),
    )
