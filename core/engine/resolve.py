"""Resolve what a question is about: named entities, or references to the thread's earlier answer.

"what about memory on the same node?" → the node(s) the last cause (or focus) runs on;
"and the database?" → the database among the last answer's candidates;
"what changed there?" → the last root cause (or focus); a bare follow-up → the last focus.
Names the linker could not place become "did you mean" notes with a citable catalog item.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.engine.evidence import EvidenceBook, make_evidence
from core.engine.linker import EntityCatalog
from core.engine.memory import ThreadState
from core.engine.understand import Understanding
from core.model import EvidenceKind


@dataclass
class Focus:
    """The entities a question is about, and how they were found."""

    ids: list[str] = field(default_factory=list)
    via: str = "none"  # named | memory | kind | none
    unknown_sentences: list[str] = field(default_factory=list)
    unknown_evidence: str | None = None
    notes: list[str] = field(default_factory=list)


def resolve_focus(u: Understanding, catalog: EntityCatalog, state: ThreadState | None, book: EvidenceBook) -> Focus:
    """The focus of `u` (see module docstring)."""
    f = Focus()
    if u.links.entities:
        f.ids, f.via = [e.id for e in u.links.entities], "named"
    elif u.links.kind_refs:
        for kind in u.links.kind_refs:
            if kind == "Node":
                if state is not None and state.nodes:
                    f.ids += state.nodes
                else:
                    nodes = catalog.of_kind("Node")
                    if len(nodes) == 1:
                        f.ids.append(nodes[0].id)
                    else:
                        f.notes.append("which node? There is no earlier answer in this thread to take it from")
            else:
                pool = [c for c in (state.candidates if state else []) if (e := catalog.get(c)) and e.kind == kind]
                if not pool:
                    of_kind = catalog.of_kind(kind)
                    pool = [e.id for e in of_kind] if len(of_kind) <= 3 else []
                if pool:
                    f.ids += pool
                else:
                    f.notes.append(f"which {kind.lower()}? I could not tell from the thread")
        f.ids = list(dict.fromkeys(f.ids))
        f.via = "kind" if f.ids else "none"
    elif state is not None and (u.follow_up or u.links.refers_back):
        if u.links.refers_back and state.root_cause:
            f.ids = [state.root_cause]
        else:
            f.ids = list(state.focus) or ([state.root_cause] if state.root_cause else [])
        f.via = "memory" if f.ids else "none"
    if u.links.unknown:
        kinds = sorted({e.kind for e in catalog.entries})
        sentences = []
        for unk in u.links.unknown:
            if unk.suggestions:
                alts = " or ".join(f"'{s}'" for s in unk.suggestions)
                sentences.append(f"I don't know a service called '{unk.text}' — did you mean {alts}?")
            else:
                sentences.append(f"I don't know a service called '{unk.text}'.")
        text = (
            f"the knowledge graph has {len(catalog)} entities ({', '.join(kinds) or 'none'}); none is called "
            + ", ".join(f"'{x.text}'" for x in u.links.unknown)
        )
        close = sorted({s for x in u.links.unknown for s in x.suggestions})
        if close:
            text += f"; closest names: {', '.join(close)}"
        f.unknown_evidence = book.add(
            make_evidence(
                EvidenceKind.TOPOLOGY, None, text, key=("catalog", tuple(x.text for x in u.links.unknown), len(catalog))
            )
        )
        f.unknown_sentences = sentences
    return f
