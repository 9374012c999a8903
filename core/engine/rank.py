"""Root-cause ranking over candidate entities.

`score = strength × onset × position × consumer × change × prior × blame`, each factor 1 when it
has nothing to say (core.rca.factors supplies onset, the upstream bonus, change proximity and the
prior; core.rca.confidence the confidence):

* **strength**: the entity's strongest signal, compressed (`10·log10(1 + z)`, so a 2,800-sigma
  error ratio does not drown a 20-sigma drop in traffic), plus one point per further *kind* of
  evidence that agrees (metrics, logs, alerts, Kubernetes events).
* **onset**: the earliest anomalous entity gets up to ×1.25, decaying with a one-minute time
  constant; root causes start first, symptoms follow one hop later.
* **position**: on the "needs" graph (DEPENDS_ON, and workload → node), an anomalous entity that
  other anomalous entities need gets up to ×2 (the share of them it explains), and one that needs
  an anomalous entity which went wrong first loses up to 60% (weighted by how surely that one is
  anomalous and how closely it preceded). Only edges consistent in time count: a dependency whose
  anomaly started *after* its caller's, or half an hour before, cannot explain it. This lets a
  node outrank the services on it when they degrade together, and a quiet database outrank its
  loud callers.
* **consumer**: a node whose CPU or memory anomaly is matched by one of its own pods consuming
  more of that resource at the same time is busy *because of* that tenant: ×0.5.
* **change**: a deploy or config change on the entity shortly before the incident started.
* **prior**: past incidents caused by the entity, more for ones of the same kind (at most ×1.3).
* **blame**: error logs of anomalous callers that name the entity ("failed to call auth: ...").

Confidence is core.rca.confidence (margin over the runner-up × how surely the strength is an
anomaly); eval/scenarios.py measures it against the scenario eval and prints the calibration table.
Ties break by entity id, so the same data always gives the same ranking.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.engine.signals import Signal
from core.metrics.cases import CallEdge, Change
from core.rca.confidence import confidence as confidence_of
from core.rca.confidence import is_anomalous
from core.rca.factors import FactorParams, change_factors, onset_factors, prior_factors, upstream_factors

#: Compressed strength at which an entity counts as anomalous (10·log10(1+z) = 10 ↔ z ≈ 9).
ANOMALOUS = 10.0
#: Signals at least this strong (robust z) date an entity's onset.
ONSET_Z = 8.0
SOURCES = ("metric", "log", "alert", "k8s")
FACTORS = FactorParams(onset_weight=0.25, onset_tau_s=60.0, upstream_weight=1.0, downstream_penalty=0.0)
#: How much a candidate loses when something it needs went wrong first (it is then likely a symptom).
SYMPTOM_PENALTY = 0.6
#: A dependency's anomaly stops explaining a caller's when it started this much earlier (seconds).
MAX_LEAD_S = 1800.0
SYMPTOM_TAU_S = 600.0
BLAME_WEIGHT = 0.3
PRIOR_SAME_KIND = 0.1
PRIOR_ANY = 0.03
PRIOR_CAP = 1.3


def compress(z: float) -> float:
    """`10·log10(1 + z)`: 1 → 3, 9 → 10, 99 → 20, 999 → 30."""
    return 10.0 * math.log10(1.0 + max(z, 0.0))


@dataclass
class Candidate:
    """One ranked candidate: score, confidence, the factors behind it and its signals."""

    id: str
    strength: float = 0.0
    raw_z: float = 0.0
    onset: float | None = None
    score: float = 0.0
    confidence: float = 0.0
    factors: dict[str, float] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    explains: list[str] = field(default_factory=list)  # anomalous entities that need this one
    needs: list[str] = field(default_factory=list)  # anomalous entities this one needs (it may be their symptom)
    blamed_by: list[str] = field(default_factory=list)
    change_ids: list[str] = field(default_factory=list)

    @property
    def anomalous(self) -> bool:
        return self.strength >= ANOMALOUS

    def top_signals(self, n: int = 3) -> list[Signal]:
        """The strongest signals, one per (source, family) first."""
        seen: set[tuple[str, str]] = set()
        first: list[Signal] = []
        rest: list[Signal] = []
        for s in sorted(self.signals, key=lambda s: (-s.z, s.source, s.evidence_id)):
            key = (s.source, s.family)
            (rest if key in seen else first).append(s)
            seen.add(key)
        return (first + rest)[:n]


@dataclass
class Ranking:
    """Candidates best first, with the incident's start and the anomalous set."""

    candidates: list[Candidate]
    incident_start: float | None
    anomalous: list[str]

    def top(self, n: int) -> list[Candidate]:
        return self.candidates[:n]


@dataclass(frozen=True)
class ChangeRef:
    """A change for the change-proximity factor, with the evidence id that shows it."""

    entity: str
    ts: float
    evidence_id: str


def _reach(adj: Mapping[str, Iterable[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = sorted(adj.get(start, ()))
    while todo:
        n = todo.pop()
        if n in seen or n == start:
            continue
        seen.add(n)
        todo.extend(sorted(adj.get(n, ())))
    return seen


def rank(
    candidates: Sequence[str],
    signals: Sequence[Signal],
    edges: Iterable[tuple[str, str]],
    *,
    changes: Sequence[ChangeRef] = (),
    prior: Mapping[str, float] | None = None,
    blamed: Mapping[str, set[str]] | None = None,
) -> Ranking:
    """Rank `candidates` (see module docstring). Signals of non-candidates are ignored."""
    cands = {c: Candidate(c) for c in sorted(set(candidates))}
    for s in signals:
        if s.entity in cands:
            cands[s.entity].signals.append(s)
    for c in cands.values():
        best: dict[str, float] = {}
        for s in c.signals:
            best[s.source] = max(best.get(s.source, 0.0), compress(s.z))
        if best:
            agree = sum(1 for v in best.values() if v >= ANOMALOUS)
            c.strength = max(best.values()) + max(0, agree - 1)
            c.raw_z = max(s.z for s in c.signals)
        c.onset = _onset(c.signals)

    edges_set = set(edges)
    consumer = {
        c.id: _consumer_factor(c, signals, {a for a, b in edges_set if b == c.id}) if c.id.startswith("node:") else 1.0
        for c in cands.values()
        if c.anomalous
    }
    # a node busy because of its own tenant is an effect: it takes no part in explaining the others
    anomalous = {c.id for c in cands.values() if c.anomalous and c.onset is not None and consumer[c.id] == 1.0}
    onsets = {c.id: c.onset for c in cands.values()}
    # keep an edge (a needs b) unless both are anomalous and b started after a (then b cannot explain a),
    # or so long before a that the two are unrelated episodes
    kept = [
        CallEdge(a, b)
        for a, b in sorted(edges_set)
        if a in cands
        and b in cands
        and not (a in anomalous and b in anomalous and not _consistent(onsets[b], onsets[a]))
    ]
    ids = sorted(cands)
    f_onset = onset_factors({i: (onsets[i] if i in anomalous else None) for i in ids}, FACTORS)
    f_up = upstream_factors(ids, anomalous, kept, FACTORS)
    start = min((t for i in anomalous if (t := onsets[i]) is not None), default=None)
    f_change = {i: 1.0 for i in ids}
    if start is not None and changes:
        f_change = change_factors(ids, [Change(ch.ts, ch.entity) for ch in changes], start, FACTORS)
        for ch in changes:
            if ch.entity in cands and f_change.get(ch.entity, 1.0) > 1.0:
                cands[ch.entity].change_ids.append(ch.evidence_id)
    f_prior = prior_factors(ids, prior)
    callers: dict[str, set[str]] = defaultdict(set)
    callees: dict[str, set[str]] = defaultdict(set)
    for e in kept:
        callers[e.target].add(e.source)
        callees[e.source].add(e.target)
    for i in ids:
        c = cands[i]
        c.explains = sorted(_reach(callers, i) & anomalous) if i in anomalous else []
        c.needs = sorted(_reach(callees, i) & anomalous) if i in anomalous else []
        c.blamed_by = sorted((blamed or {}).get(i, set()) & anomalous - {i})
        others = max(len(anomalous) - 1, 1)
        f_blame = 1.0 + BLAME_WEIGHT * min(len(c.blamed_by) / others, 1.0) if c.anomalous else 1.0
        c.factors = {
            "onset": f_onset[i],
            "position": f_up[i],
            "change": f_change[i] if c.anomalous else 1.0,
            "prior": f_prior[i] if c.anomalous else 1.0,
            "blame": f_blame,
        }
        c.factors["position"] *= _symptom_factor(i, callees, anomalous, cands, onsets)
        c.factors["consumer"] = consumer.get(i, 1.0)
        c.score = c.strength * math.prod(c.factors.values())
    ordered = sorted(cands.values(), key=lambda c: (-round(c.score, 9), c.id))
    for k, c in enumerate(ordered):
        rival = ordered[1].score if k == 0 and len(ordered) > 1 else (ordered[0].score if k > 0 else 0.0)
        c.confidence = round(confidence_of(c.score, rival, c.raw_z), 4) if c.score > 0 else 0.0
    return Ranking(ordered, start, sorted(anomalous))


#: Node resource families a tenant's own usage can account for.
CONSUMABLE = ("cpu", "memory")
CONSUMER_PENALTY = 0.5
CONSUMER_SLACK_S = 90.0


def _consumer_factor(node: Candidate, signals: Sequence[Signal], tenants: set[str]) -> float:
    """A node whose anomaly is in a resource (CPU, memory) that one of its own tenants visibly consumes more
    of at about the same time is busy *because of* that tenant: the tenant explains the node, not the
    reverse. Such a node gets ×CONSUMER_PENALTY. (A noisy neighbour outside the tenants shows no such pod.)
    A pod-level signal counts when the pod is on this node, or when its node is unknown and its workload
    runs here."""
    strong = [s for s in node.signals if s.source == "metric" and s.z >= ONSET_Z and s.family in CONSUMABLE]
    if not strong or node.onset is None:
        return 1.0
    families = {s.family for s in strong}
    for s in signals:
        here = s.node == node.id or (s.node is None and s.entity in tenants)
        if (
            here
            and s.source == "metric"
            and s.family in families
            and s.z >= ONSET_Z
            and s.onset is not None
            and s.onset <= node.onset + CONSUMER_SLACK_S
            and s.entity != node.id
        ):
            return CONSUMER_PENALTY
    return 1.0


def _consistent(dep_onset: float | None, caller_onset: float | None) -> bool:
    """Could a dependency anomaly starting at `dep_onset` explain one starting at `caller_onset`?"""
    if dep_onset is None or caller_onset is None:
        return True
    lead = caller_onset - dep_onset
    return 0.0 <= lead <= MAX_LEAD_S


def _symptom_factor(
    i: str,
    callees: Mapping[str, set[str]],
    anomalous: set[str],
    cands: Mapping[str, Candidate],
    onsets: Mapping[str, float | None],
) -> float:
    """`1 - SYMPTOM_PENALTY · w` where w is the strongest reason to think `i` is a symptom of something it needs:
    how surely that dependency is anomalous (core.rca.confidence.is_anomalous) times how closely its onset
    preceded `i`'s (exp(-lead / 10 min))."""
    if i not in anomalous:
        return 1.0
    mine = onsets[i]
    worst = 0.0
    for d in _reach(callees, i) & anomalous:
        theirs = onsets[d]
        lead = (mine - theirs) if mine is not None and theirs is not None else 0.0
        w = is_anomalous(cands[d].raw_z) * math.exp(-max(lead, 0.0) / SYMPTOM_TAU_S)
        worst = max(worst, w)
    return 1.0 - SYMPTOM_PENALTY * worst


def _onset(signals: Sequence[Signal]) -> float | None:
    """Earliest onset of the strong signals; metrics date best, then logs, Kubernetes events, alerts."""
    for source in SOURCES:
        times = [s.onset for s in signals if s.source == source and s.onset is not None and s.z >= ONSET_Z]
        if times:
            return min(times)
    return None


def priors_from_history(history: Mapping[str, Sequence[object]], kind_of: Mapping[str, str | None]) -> dict[str, float]:
    """A modest prior per entity from past incidents it caused: more for ones of the same fault kind."""
    out: dict[str, float] = {}
    for entity, incidents in history.items():
        same = sum(
            1
            for inc in incidents
            if getattr(inc, "fault_kind", None) and getattr(inc, "fault_kind", None) == kind_of.get(entity)
        )
        anyk = len(incidents)
        out[entity] = min(PRIOR_CAP, 1.0 + PRIOR_SAME_KIND * same + PRIOR_ANY * anyk)
    return out
