"""Entity linking: which graph entities a question names, and "did you mean" for names it gets wrong.

The catalog holds every workload (Service, Database, Cache, Queue) and Node by name. A question
is cut into words; runs of one to three words are compared with the catalog's names with
spaces, hyphens, underscores and dots ignored ("orders db" and "orders-db" are the same name),
and a trailing plural "s" is forgiven ("payments" links "payment"). Words that match nothing are
checked against the names with a similarity ratio: a close miss ("chekout") is *not* linked,
because guessing the wrong service at 3 a.m. is worse than asking, but is reported with its
suggestions. Common English and SRE words are never treated as names.

References to earlier context ("the same node", "there", "the database") are recognised here and
resolved by the engine against thread memory and the graph.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from core.knowledge.schema import INFRA_LABELS

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_SEP = re.compile(r"[\s\-_.]+")
SIMILARITY = 0.75
MAX_SUGGESTIONS = 3

# Words that are never entity names, however close they are to one.
_COMMON_TEXT = """
a about above after again against all also am an and any anything are aren around as at be because
been before being below between both but by can could did do does doing done down during each else
ever every few for from further get gets getting go going got had has have having he her here hers
him his how i if in into is isn it its itself just keep keeps kept let me more most much my no nor
not now of off on once only or other our out over own same she should since so some still such than
that the their them then there these they this those through till to too under until up us very was
we were what when where which while who whom why will with would you your yours yesterday today
tonight morning evening night last past previous next hour hours minute minutes min mins day days
week weeks second seconds ago right currently now please tell show give explain list summarize
summarise compare versus vs between happened happening happen going wrong broken broke break failing
failed fails fail failure failures error errors erroring slow slower slowly slowness latency latent
timeout timeouts timing delayed delay delays lag lagging down up outage outages degraded degradation
crash crashing crashed crashes restart restarting restarts restarted flaky unstable unhealthy
healthy health status ok okay fine alive dead stuck hang hanging hung spike spikes spiking jump
jumped jumps high higher low lower increase increased drop dropped drops rising rise rose returning
return returns throwing throw throws requests request calls call traffic users user customers
customer people site website page pages app application system systems everything something anyone
service services server servers database databases db dbs cache caches queue queues node nodes pod
pods host hosts cluster clusters namespace deployment deployments container containers memory mem
cpu disk disks network net packet packets loss dns cert certs certificate certificates tls ssl
connection connections pool pools oom leak leaks job jobs batch alert alerts alerting firing fired
change changes changed deploy deploys deployed release releases released rollout rollback config
configuration runbook runbooks playbook fix fixes fixing mitigate mitigation resolve resolved cause
causes caused root reason reasons problem problems issue issues incident incidents affected
affecting impact impacted impacting blast radius who whose orders order login logins signin signup
payment checkouts emails email notifications confirmation confirmations search searching results
cart carts shipping products product catalog frontend backend api apis endpoint endpoints web mobile
same again that's what's it's whats thats its there's theres sherlog hey hi hello thanks thank also
too either use using used see seen look looking check checking investigate root-cause rca sev sev1
sev2 sev3 sev4
"""
COMMON_WORDS = frozenset(_COMMON_TEXT.split())

# Words that name a kind of entity, for references like "the database" / "the same node".
KIND_WORDS: dict[str, str] = {
    "database": "Database",
    "db": "Database",
    "postgres": "Database",
    "postgresql": "Database",
    "mysql": "Database",
    "cache": "Cache",
    "redis": "Cache",
    "memcached": "Cache",
    "queue": "Queue",
    "broker": "Queue",
    "rabbitmq": "Queue",
    "kafka": "Queue",
    "node": "Node",
    "host": "Node",
    "machine": "Node",
    "vm": "Node",
}

_SAME_KIND = re.compile(
    r"\b(?:the\s+)?(?:same|that|this|its|their)\s+(database|db|cache|queue|node|host|machine|vm|broker)\b", re.I
)
_THE_KIND = re.compile(
    r"\b(?:the|its|their)\s+(database|db|postgres|cache|redis|queue|broker|node|host|machine)\b", re.I
)
_THERE = re.compile(r"\b(there|it|that service|this service|the same service|same one)\b", re.I)


def norm(name: str) -> str:
    """A name with case, spaces, hyphens, underscores and dots removed: what matching compares."""
    return _SEP.sub("", name.lower())


@dataclass(frozen=True)
class CatalogEntry:
    """One linkable entity."""

    id: str
    name: str
    kind: str
    placeholder: bool = False  # created by an event that named it; no topology declared it

    @property
    def is_infra(self) -> bool:
        return self.kind in INFRA_LABELS


@dataclass
class EntityCatalog:
    """Every linkable entity, indexed by normalised name."""

    entries: list[CatalogEntry]
    source: str = "graph"
    by_norm: dict[str, list[CatalogEntry]] = field(init=False)
    by_id: dict[str, CatalogEntry] = field(init=False)

    def __post_init__(self) -> None:
        self.entries = sorted(self.entries, key=lambda e: e.id)
        self.by_norm = defaultdict(list)
        self.by_id = {}
        for e in self.entries:
            self.by_norm[norm(e.name)].append(e)
            self.by_id[e.id] = e
        self._names = sorted(self.by_norm)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entity_id: str) -> CatalogEntry | None:
        return self.by_id.get(entity_id)

    def of_kind(self, kind: str) -> list[CatalogEntry]:
        return [e for e in self.entries if e.kind == kind]

    def lookup(self, text: str) -> list[CatalogEntry]:
        """Entities whose name equals `text` (normalised), forgiving one trailing plural 's'."""
        n = norm(text)
        hits = self.by_norm.get(n)
        if not hits and n.endswith("s") and len(n) > 3:
            hits = self.by_norm.get(n[:-1])
        if not hits:
            hits = self.by_norm.get(n + "s")
        found = list(hits or [])
        # a name both declared by topology and left behind as a placeholder means the declared one
        declared = [h for h in found if not h.placeholder]
        return declared or found

    def similar(self, text: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
        """Names close to `text` (difflib ratio ≥ SIMILARITY), best first; the display names."""
        n = norm(text)
        scored = []
        for cand in self._names:
            # cheap length filter first: the ratio cannot reach the cut if the lengths differ too much
            if abs(len(cand) - len(n)) > max(len(cand), len(n)) * (1 - SIMILARITY) * 2:
                continue
            r = difflib.SequenceMatcher(None, n, cand).ratio()
            if r >= SIMILARITY:
                scored.append((-r, cand))
        scored.sort()
        return [self.by_norm[c][0].name for _, c in scored[:limit]]


@dataclass(frozen=True)
class UnknownName:
    """A word that looks like a name but names nothing; `suggestions` are close known names."""

    text: str
    suggestions: tuple[str, ...]


@dataclass
class LinkResult:
    """Entities named in a question, names not understood, and references to earlier context."""

    entities: list[CatalogEntry] = field(default_factory=list)
    unknown: list[UnknownName] = field(default_factory=list)
    kind_refs: list[str] = field(default_factory=list)  # "Node", "Database", ... ("the same node")
    refers_back: bool = False  # "there", "it", "same service"


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def link(text: str, catalog: EntityCatalog) -> LinkResult:
    """Link the entities `text` names against `catalog` (see module docstring)."""
    res = LinkResult()
    words = _words(text)
    used = [False] * len(words)
    seen: set[str] = set()
    # longest runs first, so "orders db" wins over "orders"
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            if any(used[i : i + size]):
                continue
            hits = catalog.lookup(" ".join(words[i : i + size]))
            if hits:
                used[i : i + size] = [True] * size
                for h in hits:
                    if h.id not in seen:
                        seen.add(h.id)
                        res.entities.append(h)
    for i, w in enumerate(words):
        if used[i]:
            continue
        lw = w.lower()
        if lw in COMMON_WORDS or lw in KIND_WORDS or len(lw) < 3 or lw.isdigit() or not any(c.isalpha() for c in lw):
            continue
        if re.fullmatch(r"\d+(?:\.\d+)?[a-z]{1,7}", lw) or re.fullmatch(r"\d{1,2}:\d{2}(?::\d{2})?", lw):
            continue  # durations and clock times ("2h", "14:05")
        sugg = catalog.similar(w)
        if sugg:
            res.unknown.append(UnknownName(w, tuple(sugg)))
        elif _looks_like_name(w, text):
            res.unknown.append(UnknownName(w, ()))
    for ref in _SAME_KIND.finditer(text):
        res.kind_refs.append(KIND_WORDS[ref.group(1).lower()])
    if not res.entities:
        for ref in _THE_KIND.finditer(text):
            kind = KIND_WORDS[ref.group(1).lower()]
            if kind not in res.kind_refs:
                res.kind_refs.append(kind)
    res.refers_back = bool(_THERE.search(text)) and not res.entities
    return res


def _looks_like_name(word: str, text: str) -> bool:
    """A word with no close known name is still a name when it is shaped like one (hyphens,
    digits) or sits where names sit ("the X service", "is X down")."""
    if re.search(r"[-_]|\d", word):
        return True
    w = re.escape(word)
    slot = re.compile(
        rf"\b{w}\s+(?:service|svc|database|db|cache|queue|node|host|pod|deployment)\b"
        rf"|\b(?:service|svc|database|db|cache|queue|node|host)\s+{w}\b"
        rf"|\b(?:is|are|does|did|on|about|with|of)\s+(?:the\s+)?{w}\s+(?:failing|slow|down|broken|erroring|"
        rf"restarting|crashing|unhealthy|timing|throwing|returning|ok|healthy|up)\b",
        re.I,
    )
    return bool(slot.search(text))
