"""Understanding by rules: intents, time phrases with a fixed now, entity linking with did-you-mean,
references to earlier context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.engine.linker import CatalogEntry, EntityCatalog, link
from core.engine.timewin import parse_duration, parse_time_phrases, resolve_window, zone
from core.engine.understand import Intent, classify, hints_of, understand

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


@pytest.fixture
def catalog() -> EntityCatalog:
    names = [
        ("checkout", "Service"),
        ("payments", "Service"),
        ("frontend", "Service"),
        ("orders-db", "Database"),
        ("redis-cart", "Cache"),
        ("order-queue", "Queue"),
        ("email", "Service"),
    ]
    entries = [CatalogEntry(f"service:sim/shop/{n}", n, k) for n, k in names]
    entries += [CatalogEntry(f"node:sim/node-{i}", f"node-{i}", "Node") for i in (1, 2)]
    return EntityCatalog(entries)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("why is checkout failing?", Intent.WHY),
        ("@sherlog why is checkout failing?", Intent.WHY),
        ("checkout is slow", Intent.WHY),
        ("what changed in the last 2h?", Intent.WHAT_CHANGED),
        ("any deploys today?", Intent.WHAT_CHANGED),
        ("status of payments", Intent.STATUS),
        ("is frontend healthy?", Intent.STATUS),
        ("what's the runbook for DBConnectionPoolExhausted?", Intent.RUNBOOK),
        ("how do I fix this?", Intent.RUNBOOK),
        ("summarize alerts", Intent.ALERTS),
        ("which alerts are firing?", Intent.ALERTS),
        ("compare the last hour with yesterday", Intent.COMPARE),
        ("who is affected?", Intent.AFFECTED),
        ("what is the blast radius of orders-db", Intent.AFFECTED),
    ],
)
def test_intents_by_rule(text: str, intent: Intent) -> None:
    got, certain = classify(text)
    assert (got, certain) == (intent, True)


def test_unmatched_question_defaults_to_why_and_is_unsure() -> None:
    assert classify("tell me about checkout") == (Intent.WHY, False)


def test_hints_name_the_topics() -> None:
    assert hints_of("what about memory on the same node?") == ["memory"]
    assert hints_of("why is checkout slow and throwing errors") == ["latency", "errors"]


def test_time_phrases_relative_and_clock() -> None:
    tz = zone("UTC")
    p = parse_time_phrases("what changed in the last 2h?", NOW, tz)
    assert p.since == NOW - timedelta(hours=2) and p.until is None
    p = parse_time_phrases("errors since 14:05", NOW, tz)
    assert p.since == datetime(2026, 11, 17, 14, 5, tzinfo=UTC)
    # a clock time later than now means yesterday's
    p = parse_time_phrases("since 16:30", NOW, tz)
    assert p.since == datetime(2026, 11, 16, 16, 30, tzinfo=UTC)
    p = parse_time_phrases("what happened yesterday?", NOW, tz)
    assert (p.since, p.until) == (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 17, tzinfo=UTC))
    p = parse_time_phrases("between 13:00 and 14:30", NOW, tz)
    assert (p.since, p.until) == (datetime(2026, 11, 17, 13, tzinfo=UTC), datetime(2026, 11, 17, 14, 30, tzinfo=UTC))


def test_clock_times_are_read_in_the_operators_timezone() -> None:
    p = parse_time_phrases("since 14:05", NOW, zone("Europe/Paris"))  # 15:00 UTC is 16:00 in Paris
    assert p.since == datetime(2026, 11, 17, 13, 5, tzinfo=UTC)


def test_contradictory_window_is_repaired_and_said() -> None:
    p = parse_time_phrases("why did checkout fail since 14:00 until 13:00?", NOW, UTC)
    w = resolve_window(p, NOW, default=timedelta(hours=1))
    assert (w.since, w.until) == (datetime(2026, 11, 17, 13, tzinfo=UTC), datetime(2026, 11, 17, 14, tzinfo=UTC))
    assert any("ends" in problem and "before it starts" in problem for problem in w.problems)


def test_future_window_is_clamped_to_now() -> None:
    w = resolve_window(
        parse_time_phrases("", NOW, UTC), NOW, default=timedelta(hours=1), until=NOW + timedelta(hours=3)
    )
    assert w.until == NOW and w.problems


def test_default_window_and_explicit_flags() -> None:
    w = resolve_window(parse_time_phrases("why is checkout failing", NOW, UTC), NOW, default=timedelta(hours=1))
    assert (w.since, w.until, w.explicit) == (NOW - timedelta(hours=1), NOW, False)
    flag = NOW - timedelta(minutes=30)
    w = resolve_window(parse_time_phrases("in the last 2h", NOW, UTC), NOW, default=timedelta(hours=1), since=flag)
    assert w.since == flag  # an explicit --since wins over the phrase


def test_parse_duration() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1.5 hours") == timedelta(hours=1.5)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("soon")


def test_linking_exact_multiword_and_plural(catalog: EntityCatalog) -> None:
    assert [e.name for e in link("why is checkout failing?", catalog).entities] == ["checkout"]
    assert [e.name for e in link("is the orders db ok", catalog).entities] == ["orders-db"]
    assert [e.name for e in link("order queue backlog", catalog).entities] == ["order-queue"]
    assert [e.name for e in link("why are order confirmation emails delayed?", catalog).entities] == ["email"]


def test_unknown_name_gets_did_you_mean_and_is_not_linked(catalog: EntityCatalog) -> None:
    res = link("why is chekout failing?", catalog)
    assert res.entities == []
    assert [(u.text, u.suggestions) for u in res.unknown] == [("chekout", ("checkout",))]


def test_unknown_name_shaped_like_a_service_is_reported(catalog: EntityCatalog) -> None:
    res = link("why is billing-api down?", catalog)
    assert res.entities == [] and [u.text for u in res.unknown] == ["billing-api"]


def test_common_words_are_never_names(catalog: EntityCatalog) -> None:
    res = link("why are logins failing on the site since yesterday?", catalog)
    assert res.entities == [] and res.unknown == []


def test_references_to_earlier_context(catalog: EntityCatalog) -> None:
    res = link("what about memory on the same node?", catalog)
    assert res.kind_refs == ["Node"] and res.entities == []
    assert link("and the database?", catalog).kind_refs == ["Database"]
    assert link("what changed there?", catalog).refers_back


def test_understand_marks_follow_ups(catalog: EntityCatalog) -> None:
    u = understand("what about memory on the same node?", catalog, NOW, UTC)
    assert u.follow_up and not u.certain and u.hints == ["memory"]
    u = understand("why is checkout failing since 14:05?", catalog, NOW, UTC)
    assert not u.follow_up and u.certain and u.entity_ids == ["service:sim/shop/checkout"]
    assert u.time.since == datetime(2026, 11, 17, 14, 5, tzinfo=UTC)


def test_declared_entity_wins_over_a_placeholder_of_the_same_name() -> None:
    cat = EntityCatalog(
        [
            CatalogEntry("service:checkout", "checkout", "Service", placeholder=True),
            CatalogEntry("service:sim/shop/checkout", "checkout", "Service"),
        ]
    )
    assert [e.id for e in link("why is checkout failing?", cat).entities] == ["service:sim/shop/checkout"]
