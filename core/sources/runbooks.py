"""Runbooks: a directory of markdown files → `Runbook`s with alert-name
aliases and heading-bounded chunks, plus the alert → runbook_url index of a
Prometheus rules file.

Front matter in Hugo style is understood (`---` YAML or `+++` TOML), as the
prometheus-operator runbooks use it. Hugo's `_index.md` section pages carry
no runbook text and are not runbooks. Only ATX headings (`#`..`######`) split
sections; headings inside fenced code blocks are text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import InvalidPayload
from core.model import Entity, EntityKind, Relation, RelationKind
from core.sources.common import ItemError, type_name

DEFAULT_MAX_CHUNK_CHARS = 1500
SECTION_INDEX_FILE = "_index.md"

_ATX = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
# An alert name: one identifier token with an inner capital (KubePodCrashLooping, etcdNoLeader).
_ALERT_NAME = re.compile(r"\b[A-Za-z][a-z0-9]*[A-Z][A-Za-z0-9_]*\b")
_SLUG_BAD = re.compile(r"[^a-z0-9/_.-]+")


@dataclass(frozen=True)
class RunbookChunk:
    """A piece of a runbook under one heading path, at most ~max_chars long."""

    index: int
    heading: str
    text: str

    @property
    def doc_text(self) -> str:
        """What the vector index embeds: heading path + text."""
        return f"{self.heading}\n\n{self.text}"


@dataclass
class Runbook:
    """One runbook file: identity, the alert names it serves, and its chunks."""

    slug: str
    title: str
    path: str
    url: str | None
    aliases: list[str]
    chunks: list[RunbookChunk]
    front_matter: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"runbook:{self.slug}"

    def chunk_id(self, index: int) -> str:
        return f"{self.id}#{index}"

    def to_graph(self) -> tuple[list[Entity], list[Relation]]:
        """Runbook + RunbookChunk nodes and (chunk)-[:PART_OF]->(runbook) edges (schema.py)."""
        nodes = [
            Entity(
                id=self.id,
                kind=EntityKind.RUNBOOK,
                name=self.title,
                props={"title": self.title, "path": self.path, "url": self.url, "aliases": list(self.aliases)},
            )
        ]
        edges: list[Relation] = []
        for c in self.chunks:
            cid = self.chunk_id(c.index)
            nodes.append(
                Entity(
                    id=cid, kind=EntityKind.RUNBOOK_CHUNK, name=c.heading, props={"heading": c.heading, "text": c.text}
                )
            )
            edges.append(Relation(src=cid, dst=self.id, kind=RelationKind.PART_OF))
        return nodes, edges


def split_front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    """(front matter dict, body). Raises InvalidPayload for unterminated or malformed front matter."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0].rstrip()
    if first not in ("---", "+++"):
        return {}, text
    lines = text.split("\n")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == first), None)
    if end is None:
        raise InvalidPayload(f"{where}: front matter opened with '{first}' on line 1 is never closed")
    raw = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    try:
        meta = yaml.safe_load(raw) if first == "---" else tomllib.loads(raw)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        kind = "YAML" if first == "---" else "TOML"
        raise InvalidPayload(f"{where}: front matter is not valid {kind}: {e}") from e
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise InvalidPayload(f"{where}: front matter must be a mapping, got {type_name(meta)}")
    return meta, body


def _sections(body: str) -> list[tuple[int, str, list[str]]]:
    """[(level, heading, lines)]; text before the first heading has level 0."""
    out: list[tuple[int, str, list[str]]] = [(0, "", [])]
    fence: str | None = None
    for line in body.split("\n"):
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
        h = _ATX.match(line) if fence is None and not m else None
        if h:
            out.append((len(h.group(1)), h.group(2).strip(), []))
        else:
            out[-1][2].append(line)
    return out


def _blocks(text: str) -> list[str]:
    """Paragraphs (blank-line separated), keeping a fenced code block in one piece."""
    blocks: list[str] = []
    cur: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if cur:
                blocks.append("\n".join(cur))
                cur = []
        else:
            cur.append(line)
    if cur:
        blocks.append("\n".join(cur))
    return blocks


def _hard_split(text: str, max_chars: int) -> list[str]:
    """Split an over-long paragraph on lines, then on spaces, then anywhere."""
    pieces: list[str] = []
    for unit in text.split("\n"):
        while len(unit) > max_chars:
            cut = unit.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            pieces.append(unit[:cut].rstrip())
            unit = unit[cut:].lstrip()
        pieces.append(unit)
    out: list[str] = []
    for p in pieces:
        if out and len(out[-1]) + 1 + len(p) <= max_chars:
            out[-1] = f"{out[-1]}\n{p}"
        else:
            out.append(p)
    return [p for p in out if p.strip()]


def split_text(text: str, max_chars: int = DEFAULT_MAX_CHUNK_CHARS) -> list[str]:
    """Pack paragraphs into pieces of at most `max_chars`, splitting only on paragraph
    boundaries unless a single paragraph is longer than the bound."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    cur = ""
    for block in _blocks(text):
        parts = [block] if len(block) <= max_chars else _hard_split(block, max_chars)
        for part in parts:
            if cur and len(cur) + 2 + len(part) <= max_chars:
                cur = f"{cur}\n\n{part}"
            else:
                if cur:
                    pieces.append(cur)
                cur = part
    if cur:
        pieces.append(cur)
    return pieces


def _aliases(stem: str, title: str, meta: Mapping[str, Any]) -> list[str]:
    """Alert names this runbook serves, lower-case; the file stem comes first."""
    found: list[str] = [stem]
    found += _ALERT_NAME.findall(title)
    for key in ("alert", "alerts", "alertname", "alertnames"):
        value = meta.get(key)
        found += [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
    # Hugo `aliases` are old URL paths; their last segment is the former alert name.
    hugo = meta.get("aliases")
    for a in [hugo] if isinstance(hugo, str) else hugo or []:
        if isinstance(a, str) and a.strip("/"):
            found.append(a.strip("/").rsplit("/", 1)[-1])
    meta_title = meta.get("title")
    if isinstance(meta_title, str):
        found += _ALERT_NAME.findall(meta_title)
    out: list[str] = []
    for name in found:
        low = name.strip().lower()
        if low and " " not in low and low not in out:
            out.append(low)
    return out


def parse_runbook(
    text: str,
    rel_path: str,
    *,
    base_url: str | None = None,
    max_chars: int = DEFAULT_MAX_CHUNK_CHARS,
) -> Runbook:
    """One markdown runbook. `rel_path` (e.g. `kubernetes/KubePodCrashLooping.md`) gives the slug."""
    meta, body = split_front_matter(text, rel_path)
    stem = Path(rel_path).stem
    slug = _SLUG_BAD.sub("-", str(Path(rel_path).with_suffix("")).lower()).strip("-/")
    sections = _sections(body)
    h1 = next((h for level, h, _ in sections if level == 1 and h), None)
    meta_title = meta.get("title") if isinstance(meta.get("title"), str) else None
    title = h1 or meta_title or stem

    chunks: list[RunbookChunk] = []
    stack: list[tuple[int, str]] = []
    for level, heading, lines in sections:
        if level:
            stack = [(lv, h) for lv, h in stack if lv < level] + [(level, heading)]
        path = " > ".join(h for _, h in stack) or title
        if stack and stack[0][0] != 1:
            path = f"{title} > {path}"
        for piece in split_text("\n".join(lines), max_chars):
            chunks.append(RunbookChunk(index=len(chunks), heading=path, text=piece))
    if not chunks:
        # a runbook that is only headings still needs one searchable chunk
        outline = "\n".join(h for lv, h, _ in sections if lv) or title
        chunks.append(RunbookChunk(index=0, heading=title, text=outline))

    url = next((meta[k] for k in ("url", "runbook_url", "link") if isinstance(meta.get(k), str)), None)
    if url is None and base_url:
        url = f"{base_url.rstrip('/')}/{slug}"
    return Runbook(
        slug=slug,
        title=title,
        path=rel_path,
        url=url,
        aliases=_aliases(stem, title, meta),
        chunks=chunks,
        front_matter=meta,
    )


def load_runbook_dir(
    path: Path | str,
    *,
    base_url: str | None = None,
    max_chars: int = DEFAULT_MAX_CHUNK_CHARS,
    errors: list[ItemError] | None = None,
) -> list[Runbook]:
    """Every `*.md` runbook under `path` (recursively, sorted, `_index.md` excluded).

    A file that cannot be read or parsed raises InvalidPayload naming it, unless
    an `errors` list is given: then it is recorded there and the others load.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidPayload(f"runbook directory not found: {root}")
    runbooks: list[Runbook] = []
    files = sorted(p for p in root.rglob("*.md") if p.is_file() and p.name != SECTION_INDEX_FILE)
    for i, file in enumerate(files):
        rel = file.relative_to(root).as_posix()
        try:
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                raise InvalidPayload(f"{rel}: not UTF-8 text (invalid byte at offset {e.start})") from e
            except OSError as e:
                raise InvalidPayload(f"{rel}: cannot read: {e.strerror or e}") from e
            runbooks.append(parse_runbook(text, rel, base_url=base_url, max_chars=max_chars))
        except InvalidPayload as e:
            if errors is None:
                raise
            errors.append(ItemError(i, rel, e.message))
    return runbooks


def runbook_alias_index(runbooks: list[Runbook]) -> dict[str, str]:
    """alias (lower-case alert name) → runbook id. A file-stem alias beats an alias
    found in another runbook's title (upstream runbooks sometimes copy a heading)."""
    index: dict[str, str] = {}
    for rb in runbooks:
        for alias in rb.aliases[1:]:
            index.setdefault(alias, rb.id)
    for rb in runbooks:
        if rb.aliases:
            index[rb.aliases[0]] = rb.id
    return index


# --- Prometheus alert rules -------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule from a Prometheus rules file."""

    name: str
    group: str
    expr: str
    for_: str | None
    labels: dict[str, str]
    annotations: dict[str, str]

    @property
    def severity(self) -> str | None:
        return self.labels.get("severity")

    @property
    def runbook_url(self) -> str | None:
        return self.annotations.get("runbook_url")

    @property
    def doc_text(self) -> str:
        """What the vector index embeds for an `alert_rule` document."""
        parts = [self.name, self.annotations.get("summary", ""), self.annotations.get("description", "")]
        return "\n".join(p for p in parts if p)


def _rules_doc(source: Path | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        doc: Any = source
    else:
        where = str(source) if isinstance(source, Path) else "rules YAML"
        try:
            text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
            doc = yaml.safe_load(text)
        except OSError as e:
            raise InvalidPayload(f"cannot read rules file {source}: {e.strerror or e}") from e
        except yaml.YAMLError as e:
            raise InvalidPayload(f"{where}: not valid YAML: {e}") from e
    if not isinstance(doc, Mapping) or not isinstance(doc.get("groups"), list):
        raise InvalidPayload("rules file: expected a mapping with a 'groups' array (Prometheus rule file format)")
    return doc


def load_alert_rules(
    source: Path | str | Mapping[str, Any], *, errors: list[ItemError] | None = None
) -> list[AlertRule]:
    """Alerting rules of a Prometheus rules file (a Path, YAML text, or the parsed mapping).

    Recording rules are not alerts and are skipped. A malformed rule raises
    InvalidPayload naming it, unless `errors` is given (then it is recorded there).
    """
    doc = _rules_doc(source)
    rules: list[AlertRule] = []
    n = 0
    for gi, group in enumerate(doc["groups"]):
        gname = group.get("name", "") if isinstance(group, Mapping) else ""
        items = group.get("rules") if isinstance(group, Mapping) else None
        if not isinstance(items, list):
            bad_group = ItemError(gi, f"groups[{gi}].rules", f"expected an array, got {type_name(items)}")
            if errors is None:
                raise InvalidPayload(str(bad_group))
            errors.append(bad_group)
            continue
        for ri, rule in enumerate(items):
            here = f"groups[{gi}].rules[{ri}]"
            if isinstance(rule, Mapping) and "record" in rule and "alert" not in rule:
                continue
            n += 1
            problem = _rule_problem(rule, here)
            if problem:
                if errors is None:
                    raise InvalidPayload(f"{problem[0]}: {problem[1]}")
                errors.append(ItemError(n - 1, *problem))
                continue
            assert isinstance(rule, Mapping)
            rules.append(
                AlertRule(
                    name=rule["alert"],
                    group=str(gname),
                    expr=str(rule["expr"]).strip(),
                    for_=str(rule["for"]) if rule.get("for") is not None else None,
                    labels={str(k): str(v) for k, v in (rule.get("labels") or {}).items()},
                    annotations={str(k): str(v) for k, v in (rule.get("annotations") or {}).items()},
                )
            )
    return rules


def _rule_problem(rule: Any, here: str) -> tuple[str, str] | None:
    """(field path, message) of the first thing wrong with a rule, or None."""
    if not isinstance(rule, Mapping):
        return here, f"expected a rule mapping, got {type_name(rule)}"
    if not isinstance(rule.get("alert"), str) or not rule["alert"].strip():
        return f"{here}.alert", "expected the alert name (a string)"
    if not isinstance(rule.get("expr"), str | int | float):
        return f"{here}.expr", "expected a PromQL expression"
    for key in ("labels", "annotations"):
        if rule.get(key) is not None and not isinstance(rule[key], Mapping):
            return f"{here}.{key}", f"expected a mapping, got {type_name(rule[key])}"
    return None


def alert_runbook_index(rules_yaml: Path | str | Mapping[str, Any]) -> dict[str, str]:
    """alertname → runbook_url for every alerting rule that has one."""
    return {r.name: r.runbook_url for r in load_alert_rules(rules_yaml) if r.runbook_url}
