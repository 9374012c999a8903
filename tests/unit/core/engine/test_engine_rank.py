"""Root-cause ranking on hand-built signals: graph position, onset consistency, changes, ties."""

from __future__ import annotations

from core.engine.rank import ChangeRef, compress, rank
from core.engine.signals import Signal

T0 = 1_800_000_000.0


def sig(entity: str, z: float, onset: float, source: str = "metric", family: str = "errors") -> Signal:
    return Signal(entity, source, family, z, T0 + onset, f"ev-{source}-{abs(hash((entity, z, onset))) % 16**8:08x}")


def test_node_outranks_its_tenants_when_they_degrade_together() -> None:
    # a batch job outside the tenants burns the node's CPU: every tenant is throttled at once
    tenants = ["service:a", "service:b", "service:c"]
    signals = [sig("node:n1", 50, 0, family="cpu")] + [sig(t, 60, 0, family="throttle") for t in tenants]
    edges = [(t, "node:n1") for t in tenants]
    r = rank([*tenants, "node:n1", "node:n2"], signals, edges)
    assert r.candidates[0].id == "node:n1"
    assert set(r.candidates[0].explains) == set(tenants)
    assert all(c.needs == ["node:n1"] for c in r.candidates if c.id in tenants)


def test_a_tenant_consuming_the_cpu_explains_its_node() -> None:
    # a hot loop in "a" uses more CPU; the node's CPU rises with it and "b" on the same node slows down
    signals = [
        sig("service:a", 60, 0, family="cpu"),
        sig("node:n1", 50, 0, family="cpu"),
        sig("service:b", 20, 30, family="latency"),
    ]
    edges = [("service:a", "node:n1"), ("service:b", "node:n1"), ("service:b", "service:a")]
    r = rank(["service:a", "service:b", "node:n1"], signals, edges)
    node = next(c for c in r.candidates if c.id == "node:n1")
    assert r.candidates[0].id == "service:a" and node.factors["consumer"] < 1.0
    assert r.candidates[0].needs == [] and node.explains == []


def test_a_dependency_that_started_later_explains_nothing() -> None:
    # a hot loop in "a" lifts its node's CPU a minute later; "b" (calls a, runs on the node) follows
    signals = [
        sig("service:a", 200, 0, family="cpu"),
        sig("node:n1", 12, 60, family="cpu"),
        sig("service:b", 20, 60, family="latency"),
    ]
    edges = [("service:a", "node:n1"), ("service:b", "node:n1"), ("service:b", "service:a")]
    r = rank(["service:a", "service:b", "node:n1"], signals, edges)
    assert r.candidates[0].id == "service:a"
    a = r.candidates[0]
    assert a.needs == []  # the node's later anomaly does not make "a" a symptom
    node = next(c for c in r.candidates if c.id == "node:n1")
    assert "service:a" not in node.explains


def test_quiet_dependency_outranks_loud_callers() -> None:
    signals = [
        sig("service:db", 15, 0, family="throughput"),
        sig("service:api", 2000, 30),
        sig("service:web", 600, 60),
    ]
    edges = [("service:api", "service:db"), ("service:web", "service:api")]
    r = rank(["service:web", "service:api", "service:db"], signals, edges)
    assert [c.id for c in r.candidates] == ["service:db", "service:api", "service:web"]
    assert r.candidates[0].confidence > r.candidates[1].confidence


def test_change_shortly_before_the_onset_breaks_a_tie() -> None:
    signals = [sig("service:a", 40, 0), sig("service:b", 40, 0)]
    changes = [ChangeRef("service:b", T0 - 120, "ev-change-00000001")]
    r = rank(["service:a", "service:b"], signals, [], changes=changes)
    assert r.candidates[0].id == "service:b"
    assert r.candidates[0].factors["change"] > 1.0 and r.candidates[0].change_ids == ["ev-change-00000001"]


def test_change_after_the_onset_counts_for_nothing() -> None:
    signals = [sig("service:a", 40, 0), sig("service:b", 40, 0)]
    r = rank(["service:a", "service:b"], signals, [], changes=[ChangeRef("service:b", T0 + 3600, "ev-change-00000002")])
    assert r.candidates[0].factors["change"] == r.candidates[1].factors["change"] == 1.0


def test_ties_break_by_entity_id_and_ranking_is_repeatable() -> None:
    signals = [sig("service:zeta", 40, 0), sig("service:alpha", 40, 0)]
    first = rank(["service:zeta", "service:alpha"], signals, [])
    again = rank(["service:alpha", "service:zeta"], list(reversed(signals)), [])
    assert [c.id for c in first.candidates] == ["service:alpha", "service:zeta"]
    assert [(c.id, c.score, c.confidence) for c in first.candidates] == [
        (c.id, c.score, c.confidence) for c in again.candidates
    ]


def test_weak_signals_do_not_make_an_entity_anomalous() -> None:
    r = rank(["service:a", "service:b"], [sig("service:a", 4, 0), sig("service:b", 300, 0)], [])
    a = next(c for c in r.candidates if c.id == "service:a")
    assert not a.anomalous and r.anomalous == ["service:b"]
    assert 0.0 <= a.confidence <= 1.0


def test_agreeing_kinds_of_evidence_add_strength() -> None:
    only_metric = rank(["service:a"], [sig("service:a", 99, 0)], []).candidates[0]
    with_logs = rank(["service:a"], [sig("service:a", 99, 0), sig("service:a", 50, 0, source="log")], []).candidates[0]
    assert with_logs.strength == only_metric.strength + 1
    assert round(compress(9), 6) == 10.0
