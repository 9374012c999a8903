"""Fixtures for the engine tests: the default chaos scenario simulated and ingested once per module,
on the session's real FalkorDB and a SQLite data dir."""

from __future__ import annotations

import os

# numpy's BLAS threads fight over the two cores and make the embedder 30x slower (read when numpy loads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.alerts import RUNBOOK_DIR
from chaos.history import generate_history
from chaos.scenarios import DEFAULT_SCENARIO, load_scenario
from chaos.simulate import SimulationResult, simulate
from core.graph.falkordb_server import EmbeddedFalkorDB
from core.ingest import Ingestor
from core.model import EntityRef
from core.settings import GraphSettings, Settings
from core.sources.topology import from_static
from core.wiring import Stack, open_stack
from tests.fixtures.llama_server import llama_server

__all__ = ["llama_server"]


@dataclass
class Scenario:
    """A simulated, ingested scenario and the stack holding it."""

    result: SimulationResult
    settings: Settings
    stack: Stack


def ingest_scenario(stack: Stack, result: SimulationResult, *, history: bool = True) -> None:
    # events and incident records name services without cluster/namespace: these defaults complete them
    ing = Ingestor(stack, defaults=EntityRef(cluster=result.env.cluster, namespace=result.env.namespace))
    ing.ingest_topology(from_static(result.topology))
    ing.ingest_runbooks(RUNBOOK_DIR)
    if history:
        h = generate_history(result.env, seed=0, days=30, end=result.start)
        ing.ingest_events(h.events)
        ing.ingest_incidents([i.to_dict() for i in h.incidents])
    report = ing.ingest_events(result.events)
    assert not report.rejected, report.rejected[:3]
    ing.flush()


@pytest.fixture(scope="module")
def checkout_db_pool(tmp_path_factory: pytest.TempPathFactory, falkordb_server: EmbeddedFalkorDB) -> Iterator[Scenario]:
    """The default scenario (orders-db connection pool exhausted), with runbooks and incident history."""
    data_dir: Path = tmp_path_factory.mktemp("engine-scenario")
    settings = Settings(
        data_dir=data_dir,
        graph=GraphSettings(uri=f"falkor://127.0.0.1:{falkordb_server.port}", graph_name=f"engine_{data_dir.name}"),
    )
    stack = open_stack(settings)
    result = simulate(None, load_scenario(DEFAULT_SCENARIO))
    ingest_scenario(stack, result)
    try:
        yield Scenario(result, settings, stack)
    finally:
        stack.close()
