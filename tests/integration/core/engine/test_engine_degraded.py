"""Degraded sources: the graph store unreachable (a dead port) still gives an answer from the relational
store, with a caveat naming what is missing; a slow gatherer becomes a caveat, never an exception."""

from __future__ import annotations

import time

from core.engine import Engine, EngineConfig
from core.knowledge.schema import short_name
from core.model import Question
from core.settings import GraphSettings, Settings
from core.wiring import open_stack
from tests.fixtures.net import free_port
from tests.integration.core.engine.conftest import Scenario


def test_graph_store_unreachable_still_answers_with_a_caveat(checkout_db_pool: Scenario) -> None:
    sc = checkout_db_pool
    dead = Settings(
        data_dir=sc.settings.data_dir,  # the same SQLite data, which is up
        graph=GraphSettings(uri=f"falkor://127.0.0.1:{free_port()}", graph_name="nowhere"),
    )
    stack = open_stack(dead)
    try:
        started = time.perf_counter()
        answer = Engine(stack, dead).ask(Question(text="why is checkout failing?"), now=sc.result.end)
        elapsed = time.perf_counter() - started
    finally:
        stack.close()
    graph_caveats = [c for c in answer.caveats if c.startswith("graph store unreachable:")]
    assert graph_caveats and "cannot reach FalkorDB" in graph_caveats[0]
    # without the graph there is no topology, but metrics, logs and alerts still point at the database
    assert answer.root_causes and short_name(answer.root_causes[0].entity) == "orders-db"
    assert answer.evidence and set(answer.root_causes[0].evidence_ids) <= answer.evidence_ids()
    assert answer.runbooks == []
    assert elapsed < 30  # a dead port refuses at once: no hanging on the way


def test_tiny_time_budget_degrades_to_caveats(checkout_db_pool: Scenario) -> None:
    sc = checkout_db_pool
    engine = Engine(sc.stack, sc.settings, config=EngineConfig(gather_timeout_s=0.0005))
    answer = engine.ask(Question(text="why is checkout failing?"), now=sc.result.end)
    assert answer.caveats and any("timed out" in c for c in answer.caveats)
    assert answer.summary  # still an answer, never a stack trace
