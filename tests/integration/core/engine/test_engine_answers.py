"""The engine end to end on the default chaos scenario (checkout-db-pool), ingested through core.ingest:
the injected root cause with evidence that exists, determinism, the failure modes, thread memory
and the other intents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.engine import Engine
from core.engine.evidence import cited_ids
from core.engine.narrate import check_citations
from core.knowledge.schema import short_name
from core.model import Answer, Question
from tests.integration.core.engine.conftest import Scenario


def _all_citations_exist(answer: Answer) -> None:
    ids = answer.evidence_ids()
    texts = [answer.summary, *(rc.why for rc in answer.root_causes)]
    cited = [i for t in texts for i in cited_ids(t)]
    assert cited, "the answer cites nothing"
    assert set(cited) <= ids, f"cited but missing: {set(cited) - ids}"
    for rc in answer.root_causes:
        assert set(rc.evidence_ids) <= ids
    assert check_citations(texts, ids) == []


def ask(sc: Scenario, text: str, **kw: object) -> Answer:
    return Engine(sc.stack, sc.settings).ask(Question(text=text, **kw), now=sc.result.end)  # type: ignore[arg-type]


def test_default_scenario_names_the_injected_root_cause_with_its_evidence(checkout_db_pool: Scenario) -> None:
    sc = checkout_db_pool
    truth = sc.result.truth
    answer = ask(sc, truth.question)
    assert answer.intent == "why" and answer.narrated_by == "template"
    top = answer.root_causes[0]
    assert short_name(top.entity) == truth.root_cause == "orders-db"
    assert top.fault_kind == "db_pool_exhaustion"
    assert top.confidence > 0.5
    assert "orders-db" in answer.summary
    _all_citations_exist(answer)
    kinds = {e.kind.value for e in answer.evidence if e.id in top.evidence_ids}
    assert "metric" in kinds and "log" in kinds
    assert any("db_connections_in_use" in e.text for e in answer.evidence)
    assert answer.runbooks and answer.runbooks[0].title == truth.expected_runbook
    assert answer.causal_path == ["checkout", "orders-db"]
    assert answer.next_steps
    assert any("orders-db" in s.title for s in answer.similar_incidents)
    assert answer.caveats == []
    assert answer.cost.latency_ms > 0


def test_same_question_same_data_same_ranking(checkout_db_pool: Scenario) -> None:
    sc = checkout_db_pool
    a, b = ask(sc, "why is checkout failing?"), ask(sc, "why is checkout failing?")
    assert [(rc.entity, rc.confidence, rc.evidence_ids) for rc in a.root_causes] == [
        (rc.entity, rc.confidence, rc.evidence_ids) for rc in b.root_causes
    ]
    assert [e.id for e in a.evidence] == [e.id for e in b.evidence]
    assert a.summary == b.summary


def test_unknown_service_gets_did_you_mean_and_what_i_can_see(checkout_db_pool: Scenario) -> None:
    answer = ask(checkout_db_pool, "why is chekout failing?")
    assert answer.summary.startswith("I don't know a service called 'chekout' — did you mean 'checkout'?")
    assert "What I can see: Most likely root cause: orders-db" in answer.summary
    assert answer.root_causes and short_name(answer.root_causes[0].entity) == "orders-db"
    _all_citations_exist(answer)


def test_empty_window_says_so_and_names_the_newest_data(checkout_db_pool: Scenario) -> None:
    sc = checkout_db_pool
    answer = ask(
        sc,
        "why is checkout failing?",
        since=datetime(2026, 9, 1, 10, tzinfo=UTC),
        until=datetime(2026, 9, 1, 11, tzinfo=UTC),
    )
    assert answer.root_causes == []
    assert "no telemetry" in answer.summary
    assert f"{sc.result.end:%Y-%m-%d}" in answer.summary  # the newest data time
    _all_citations_exist(answer)


def test_contradictory_window_is_said_and_a_sane_one_used(checkout_db_pool: Scenario) -> None:
    sc = checkout_db_pool
    answer = ask(sc, "why is checkout failing since 10:25 until 09:50?")
    assert any("before it starts" in c for c in answer.caveats), answer.caveats
    assert answer.root_causes and short_name(answer.root_causes[0].entity) == "orders-db"


def test_follow_ups_resolve_against_thread_memory(checkout_db_pool: Scenario) -> None:
    sc = checkout_db_pool
    engine = Engine(sc.stack, sc.settings)

    def say(text: str) -> Answer:
        return engine.ask(Question(text=text, channel="C1", thread="T-follow"), platform="slack", now=sc.result.end)

    first = say("why is checkout failing?")
    assert short_name(first.root_causes[0].entity) == "orders-db"
    memory = say("what about memory on the same node?")
    assert "Memory on node-3" in memory.summary  # orders-db runs on node-3
    _all_citations_exist(memory)
    db = say("and the database?")
    assert "orders-db" in db.summary
    changed = say("what changed there?")
    assert changed.intent == "what_changed" and "orders-db" in changed.summary
    # another thread knows nothing of this one
    elsewhere = Question(text="what about memory on the same node?", channel="C1", thread="T-other")
    other = engine.ask(elsewhere, now=sc.result.end)
    assert "Memory on node-3" not in other.summary


def test_what_changed_lists_the_deploy(checkout_db_pool: Scenario) -> None:
    answer = ask(checkout_db_pool, "what changed in the last 2h?")
    assert answer.intent == "what_changed"
    changes = [e for e in answer.evidence if e.kind.value == "change"]
    assert changes and any("catalog" in e.text for e in changes)
    _all_citations_exist(answer)


def test_alerts_summary_and_runbook_lookup(checkout_db_pool: Scenario) -> None:
    alerts = ask(checkout_db_pool, "summarize alerts")
    assert alerts.intent == "alerts" and "DBConnectionPoolExhausted" in alerts.summary
    assert any(rb.title == "DBConnectionPoolExhausted" for rb in alerts.runbooks)
    rb = ask(checkout_db_pool, "what's the runbook for DBConnectionPoolExhausted?")
    assert rb.intent == "runbook" and rb.runbooks[0].title == "DBConnectionPoolExhausted"
    assert any("pg_terminate_backend" in step for step in rb.next_steps)  # from the runbook's Mitigation section


def test_who_is_affected_and_status(checkout_db_pool: Scenario) -> None:
    affected = ask(checkout_db_pool, "who is affected by orders-db?")
    assert affected.intent == "affected"
    assert "checkout" in affected.summary and "auth" in affected.summary
    status = ask(checkout_db_pool, "status of checkout")
    assert status.intent == "status" and "checkout is degraded" in status.summary
    _all_citations_exist(status)


def test_compare_two_windows(checkout_db_pool: Scenario) -> None:
    answer = ask(checkout_db_pool, "compare checkout in the last 30 minutes with before")
    assert answer.intent == "compare" and answer.evidence
    assert "→" in answer.summary


def test_latency_of_a_question_is_reported(checkout_db_pool: Scenario) -> None:
    answer = ask(checkout_db_pool, "why is checkout failing?", since=checkout_db_pool.result.end - timedelta(hours=1))
    assert answer.cost.latency_ms > 0 and answer.cost.prompt_tokens == 0
