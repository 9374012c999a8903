"""Online, streaming log template miner with ids that survive restarts.

How a message finds its template (fast path first):

1. The verbatim message, then the message with its digits normalised (``bytes.translate``):
   two dict lookups, no regex. Sound because masking never looks at digit values or run lengths
   (:mod:`core.logs.masking`), so equal keys mask alike.
2. Then the message with every digit and the word characters after it folded into one ``0``
   (``0x1f3a`` and ``7`` alike, :func:`core.logs.masking.word_run_key`): one regex that only
   stops at digits, so hex values and ids of any length rarely reach the masking pass.
3. Otherwise mask it (one regex pass, mostly) and look the masked text up.
4. Otherwise match the masked tokens against live templates with the same token count and first
   token (a template matches when every non-``<*>`` token is equal); the most specific wins.
5. Otherwise it is a new template.

Every cache level maps a key to the template an earlier message with the same masked text got,
so which level answers, or whether one is skipped, does not change results.

Word tokens (no digits) are *constants until proven variable*: a position becomes ``<*>`` only when
``min_distinct`` templates that are identical everywhere else disagree on it (the online form of
Brain's "many distinct values at one position" test). That keeps categorical words such as states,
actions and units apart ("stored as bytes" vs "stored as values", "LOOKING" vs "LEADING"), which a
single similarity threshold (Drain) merges. A word that fits a masked pattern already seen at that
position (``rhost=db.example`` next to ``rhost=<*>``) needs only ``min_distinct_glob`` values, and the
template keeps the pattern (``rhost=<*>``), which then matches any ``rhost=...``. When templates
merge, the oldest id survives and the others become aliases of it (:meth:`TemplateMiner.resolve`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from operator import itemgetter, ne
from typing import Any, NamedTuple

from core.errors import ConfigError, InvalidPayload
from core.logs.masking import MASK, mask_key, shorten_digit_runs, word_run_key
from core.logs.parse import message_for_mining

STATE_FORMAT = "sherlog.logs.miner"
STATE_VERSION = 1
_STATE_MASKED_MAX = 100_000

_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_ENUM_RE = re.compile(r"[A-Z][A-Z_]*[A-Z]")


@dataclass(frozen=True)
class MinerConfig:
    """Knobs of the miner; the defaults are used everywhere (no per-source tuning).

    ``min_distinct``: distinct word values one position must show, among templates equal
    elsewhere, before it becomes a variable. ``min_distinct_glob``: the same when one value is
    already a masked pattern that another value fits (``rhost=<*>`` vs ``rhost=host.example``).
    ``min_constant_ratio``: a template keeps at least this share of constant tokens.
    ``keep_first_token``: the first word names the event often enough to never generalise it.
    ``keep_enum_tokens``: ALL_CAPS words are states/kinds (RUNNING, LOOKING), not variables.
    ``max_cache``: entries per lookup cache before it is reset (bounds memory on endless streams);
    ``max_exact``: the same for the cache of verbatim messages, whose keys are whole messages.
    """

    min_distinct: int = 4
    min_distinct_glob: int = 2
    min_constant_ratio: float = 0.5
    keep_first_token: bool = True
    keep_enum_tokens: bool = True
    max_cache: int = 500_000
    max_exact: int = 100_000

    def __post_init__(self) -> None:
        if self.min_distinct < 2 or self.min_distinct_glob < 2:
            raise ConfigError("min_distinct and min_distinct_glob must be at least 2")
        if not 0.0 <= self.min_constant_ratio <= 1.0:
            raise ConfigError(f"min_constant_ratio must be within [0, 1], got {self.min_constant_ratio}")
        if self.max_cache < 1 or self.max_exact < 1:
            raise ConfigError(f"max_cache and max_exact must be positive, got {self.max_cache}, {self.max_exact}")


class MatchResult(NamedTuple):
    """What :meth:`TemplateMiner.add` returns for one message."""

    template_id: int
    template: str
    is_new: bool


# A NamedTuple's own constructor is a Python-level function; tuple.__new__ builds the same object in C.
_new_result: Callable[[type[MatchResult], tuple[int, str, bool]], MatchResult] = tuple.__new__  # type: ignore[assignment]


class Template:
    """One event type: its id, tokens (``<*>`` marks variables), and how many lines it has seen."""

    __slots__ = (
        "_constants",
        "_globs",
        "_pick",
        "can_generalise",
        "id",
        "open",
        "parent",
        "result",
        "size",
        "text",
        "tokens",
        "wildcards",
    )
    _pick: Callable[[tuple[str, ...]], tuple[str, ...]]
    _constants: tuple[str, ...]

    def __init__(self, template_id: int, tokens: tuple[str, ...], size: int = 0, *, min_constant_ratio: float = 0.5):
        self.id = template_id
        self.size = size
        self.parent: Template | None = None  # set when merged into an older template
        self.set_tokens(tokens, min_constant_ratio)

    def set_tokens(self, tokens: tuple[str, ...], min_constant_ratio: float) -> None:
        """Replace the tokens and recompute what matching needs."""
        self.tokens = tokens
        self.text = text = " ".join(tokens)
        self.result = _new_result(MatchResult, (self.id, text, False))
        n = len(tokens)
        self.wildcards = wildcards = tokens.count(MASK)
        fixed = n - wildcards
        # open: takes messages that differ from it at <*> positions. A template that is mostly <*>
        # (a bare number, "<*> <*>") would swallow every message of its length, so it only takes
        # messages that mask to exactly its own text.
        self.open = fixed > 0 and fixed >= min_constant_ratio * n
        # can_generalise: enough constants remain to turn one more position into <*>.
        self.can_generalise = fixed - 1 >= min_constant_ratio * n
        self._globs: tuple[tuple[int, str, str], ...] = ()
        if self.open and (wildcards or MASK in text):
            self._pick_constants(tokens, text, wildcards)
        else:
            # Not open, or no <*> anywhere: every position must be equal. tuple() of a tuple is
            # the tuple itself, so covers() compares whole token tuples (always of one length).
            self._pick = tuple
            self._constants = tokens

    def _pick_constants(self, tokens: tuple[str, ...], text: str, wildcards: int) -> None:
        # Each bare <*> holds one MASK and a MASK never spans tokens, so more MASKs than bare <*>
        # tokens means pattern tokens exist ("rhost=<*>", "(<*>)": any token with that head and
        # tail fits). Counting in C picks the cheapest way to list the constant positions.
        if text.count(MASK) == wildcards:
            pick = [i for i, tok in enumerate(tokens) if tok != MASK]
        else:
            pick = []
            globs = []
            for i, tok in enumerate(tokens):
                if MASK not in tok:
                    pick.append(i)
                elif tok != MASK:
                    head, _, tail = tok.partition(MASK)
                    globs.append((i, head, tail))
            self._globs = tuple(globs)
        if len(pick) == 1:
            pick = pick * 2  # itemgetter of one index returns a bare item, not a tuple
        # covers() compares the constant positions in C: itemgetter(*idx)(tokens) == constants
        self._pick = itemgetter(*pick) if pick else _no_items
        self._constants = self._pick(tokens)

    def covers(self, tokens: tuple[str, ...]) -> bool:
        """True when ``tokens`` (same length) fit this template."""
        return self._pick(tokens) == self._constants and (not self._globs or self._globs_fit(tokens))

    def _globs_fit(self, tokens: tuple[str, ...]) -> bool:
        for i, head, tail in self._globs:
            tok = tokens[i]
            if len(tok) < len(head) + len(tail) or not tok.startswith(head) or not tok.endswith(tail):
                return False
        return True

    def root(self) -> Template:
        t = self
        while t.parent is not None:
            t = t.parent
        return t

    def __repr__(self) -> str:
        return f"Template(id={self.id}, size={self.size}, text={self.text!r})"


def _no_items(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return ()


_EMPTY: list[Template] = []


class _CacheGate:
    """Decides whether a cache level is worth its key: the level is consulted while it answers at
    least ``min_hits`` of every ``window`` lookups; after a poorer window it is skipped for ``rest``
    uncached items, then measured again.

    A lookup that misses still pays for computing the key, and some streams (hex values, host
    names in every line) make a level miss nearly always. Skipping a level never changes a result:
    every level only returns the template an earlier item with the same masked text got.
    """

    __slots__ = ("_hits", "_rest", "_tries", "min_hits", "rest", "window")

    def __init__(self, window: int = 32, rest: int = 224, min_hits: int = 11) -> None:
        self.window, self.rest, self.min_hits = window, rest, min_hits
        self._tries = self._hits = self._rest = 0

    def open(self) -> bool:
        if self._rest:
            self._rest -= 1
            return False
        return True

    def record(self, hit: bool) -> None:
        self._tries += 1
        self._hits += hit
        if self._tries == self.window:
            if self._hits < self.min_hits:
                self._rest = self.rest
            self._tries = self._hits = 0


def _remember(cache: dict[Any, Template], key: Any, t: Template, limit: int) -> None:
    # Resetting a full cache is crude but O(1) amortised; entries come back on the next miss.
    if len(cache) >= limit:
        cache.clear()
    cache[key] = t


def _glob_fits(pattern: str, value: str) -> bool:
    head, _, tail = pattern.partition(MASK)
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _common_pattern(values: Iterable[str]) -> str | None:
    """A masked value (``x=<*>``) that every other value fits, when some plain value is among them."""
    vals = list(values)
    plain = [v for v in vals if MASK not in v]
    if not plain:
        return None
    for p in vals:
        if MASK in p and p != MASK and all(v == p or (MASK not in v and _glob_fits(p, v)) for v in vals):
            return p
    return None


class TemplateMiner:
    """Streaming template miner: ``add(message) -> MatchResult(template_id, template, is_new)``.

    Ids are small integers in order of first appearance; when templates merge, the older id
    survives and :meth:`resolve` maps the others to it. Persist with
    :func:`core.logs.state.save_miner` / :func:`~core.logs.state.load_miner` (JSON, or
    :meth:`to_state` / :meth:`from_state`): a reloaded miner gives the same ids to the same
    messages. One miner per thread (no locking inside).
    """

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        # config values read on every new template, as plain attributes
        self._max_cache = self.config.max_cache
        self._max_exact = self.config.max_exact
        self._ratio = self.config.min_constant_ratio
        self._first_kept = 1 if self.config.keep_first_token else 0
        self._next_id = 1
        self._by_id: dict[int, Template] = {}
        self._msg_exact: dict[str, Template] = {}
        self._msg_digits: dict[bytes, Template] = {}
        self._msg_words: dict[bytes, Template] = {}
        self._line_digits: dict[bytes, Template] = {}
        self._line_shape: dict[bytes, Template] = {}
        # the fallback, a header split, costs about twice this key: worth it above ~1/3 hits
        self._line_shape_gate = _CacheGate(min_hits=11)
        self._by_masked: dict[str, Template] = {}
        # (token count, first token or <*>) -> live templates
        self._buckets: dict[tuple[int, str], list[Template]] = {}
        # token count -> live templates (every first token), for lookups whose first token is <*>
        self._by_len: dict[int, list[Template]] = {}

    # ---------------------------------------------------------------- hot path
    # Messages: the verbatim text, then level 1, the text with every ASCII digit turned into "0"
    # (one bytes.translate: exact repeats and same-length numbers hit it), then level 2, digits
    # with the word characters after them folded into one "0" (masking.word_run_key: numbers of
    # any length, hex values, ids). Raw lines: level 1 as above, then digit runs shortened (header
    # detection reads letters right after a digit, so word runs may not be folded there), then the
    # message's own levels. Every key is sound: header detection and masking never look at digit
    # values or run lengths, and masking treats a digit-led word run as one value. Level 2 for raw
    # lines is skipped while it rarely answers (_CacheGate): on a miss its key costs about half
    # of the header split it can save.
    def add(self, message: str) -> MatchResult:
        """Assign ``message`` (one log message, header already removed) to a template."""
        exact = self._msg_exact
        t = exact.get(message)  # messages repeat verbatim often: one str hash
        if t is None:
            try:
                digits = message.encode().translate(_DIGITS_TO_ZERO)
            except UnicodeEncodeError:  # lone surrogates from undecodable input
                digits = message.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO)
            if len(exact) >= self._max_exact:
                exact.clear()  # crude but O(1) amortised; entries come back on the next miss
            t = self._msg_digits.get(digits)
            if t is None:
                result = self._add_message_uncached(message, digits)
                exact[message] = self._by_id[result.template_id]
                return result
            exact[message] = t
        while t.parent is not None:
            t = t.parent
        t.size += 1
        return t.result

    def add_line(self, line: str) -> MatchResult:
        """Like :meth:`add` for a raw line: take its message (JSON ``msg``, logfmt ``msg=``, or the text
        after a generic header, see :func:`core.logs.parse.message_for_mining`) and mine that.

        Header detection, like masking, sees digits only as runs, so a raw line's digit-normalised
        key decides its template too: repeated line shapes skip the header regex as well.
        """
        try:
            digits = line.encode().translate(_DIGITS_TO_ZERO)
        except UnicodeEncodeError:
            digits = line.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO)
        t = self._line_digits.get(digits)
        if t is None:
            return self._add_line_uncached(line, digits)
        while t.parent is not None:
            t = t.parent
        t.size += 1
        return t.result

    def _add_message_uncached(self, message: str, digits: bytes) -> MatchResult:
        by_digits, by_words = self._msg_digits, self._msg_words
        limit = self._max_cache
        if len(by_digits) >= limit:
            by_digits.clear()
        # Always worth its key: a miss costs a fraction of the masking pass that a hit saves.
        words = word_run_key(digits)
        cached = by_words.get(words)
        if cached is None:
            # the key masks like every message with that key (see masking.mask_key)
            result = self._add_new_shape(mask_key(words))
            t = self._by_id[result.template_id]
            if len(by_words) >= limit:
                by_words.clear()
            by_words[words] = t
        else:
            t = cached
            while t.parent is not None:
                t = t.parent
            t.size += 1
            result = t.result
        by_digits[digits] = t
        return result

    def _add_line_uncached(self, line: str, digits: bytes) -> MatchResult:
        by_digits, by_shape = self._line_digits, self._line_shape
        limit = self._max_cache
        if len(by_digits) >= limit:
            by_digits.clear()
        shape: bytes | None = None
        cached: Template | None = None
        gate = self._line_shape_gate
        if gate.open():
            shape = shorten_digit_runs(digits)
            cached = by_shape.get(shape)
            gate.record(cached is not None)
        if cached is None:
            result = self.add(message_for_mining(line))
            t = self._by_id[result.template_id]
            if shape is not None:
                if len(by_shape) >= limit:
                    by_shape.clear()
                by_shape[shape] = t
        else:
            t = cached
            while t.parent is not None:
                t = t.parent
            t.size += 1
            result = t.result
        by_digits[digits] = t
        return result

    def _add_new_shape(self, masked: str) -> MatchResult:
        t = self._by_masked.get(masked)
        created: Template | None = None
        if t is None:
            tokens = tuple(masked.split())
            t = self._match(tokens)
            if t is None:
                t = created = self._create(tokens)
            _remember(self._by_masked, masked, t, self._max_cache)
        while t.parent is not None:
            t = t.parent
        t.size += 1
        if created is not None and t is created:
            return _new_result(MatchResult, (t.id, t.text, True))
        return t.result

    # ---------------------------------------------------------------- matching
    def _candidates(self, n: int, first: str) -> list[Template]:
        """Live templates that can cover ``n`` tokens starting with ``first`` (callers only read it)."""
        if first == MASK:
            return self._by_len.get(n, _EMPTY)
        buckets = self._buckets
        return buckets.get((n, first), _EMPTY) + buckets.get((n, MASK), _EMPTY)

    def _match(self, tokens: tuple[str, ...]) -> Template | None:
        """The live template that covers ``tokens`` with the fewest wildcards (then the oldest)."""
        n = len(tokens)
        first = tokens[0] if tokens else ""
        buckets = self._buckets
        if first == MASK:
            pools: tuple[list[Template], ...] = (self._by_len.get(n, _EMPTY),)
        else:
            pools = (buckets.get((n, first), _EMPTY), buckets.get((n, MASK), _EMPTY))
        best: Template | None = None
        # (wildcards, id) is a total order, so the visiting order of candidates does not matter
        for pool in pools:
            for t in pool:
                if (
                    t._pick(tokens) == t._constants
                    and (not t._globs or t._globs_fit(tokens))
                    and (best is None or (t.wildcards, t.id) < (best.wildcards, best.id))
                ):
                    best = t
        return best

    def _bucket_of(self, t: Template) -> list[Template]:
        n = len(t.tokens)
        return self._buckets.setdefault((n, t.tokens[0] if n else ""), [])

    def _add_live(self, t: Template) -> None:
        tokens = t.tokens
        n = len(tokens)
        key = (n, tokens[0] if n else "")
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [t]
        else:
            bucket.append(t)
        same_length = self._by_len.get(n)
        if same_length is None:
            self._by_len[n] = [t]
        else:
            same_length.append(t)

    def _drop_live(self, t: Template) -> None:
        self._bucket_of(t).remove(t)
        self._by_len[len(t.tokens)].remove(t)

    def _create(self, tokens: tuple[str, ...]) -> Template:
        tid = self._next_id
        self._next_id = tid + 1
        t = self._by_id[tid] = Template(tid, tokens, min_constant_ratio=self._ratio)
        self._add_live(t)
        if t.open and t.wildcards:
            # A template with variables may cover older, more specific ones: fold them in.
            covered = [o for o in self._candidates(len(tokens), tokens[0]) if o is not t and t.covers(o.tokens)]
            if covered:
                self._merge([*covered, t], tokens)
                return t
        if t.can_generalise:
            self._generalise(t)
        return t

    # ---------------------------------------------------------------- generalisation
    def _generalisable(self, token: str) -> bool:
        if token == MASK:
            return False
        return not (self.config.keep_enum_tokens and _ENUM_RE.fullmatch(token))

    def _generalise(self, t: Template) -> None:
        """Merge ``t`` with the templates that differ from it at one position, once that position
        has shown enough distinct values to be a variable (the oldest template id survives)."""
        if not t.can_generalise:
            return
        tokens = t.tokens
        n = len(tokens)
        start = self._first_kept
        pool = self._candidates(n, tokens[0]) if start else self._candidates(n, MASK)
        if len(pool) < 2:
            return  # only t itself
        siblings: dict[int, list[Template]] = {}
        for o in pool:
            if o is t or not o.can_generalise:
                continue
            other = o.tokens
            # exactly one differing position? C-level iterators that stop at the second difference
            # (most candidates differ early and in several places, and templates can be long)
            diffs = filter(None, map(ne, other, tokens))
            if next(diffs, None) is None or next(diffs, None) is not None:
                continue
            pos = list(map(ne, other, tokens)).index(True)
            if pos >= start and self._generalisable(tokens[pos]) and self._generalisable(other[pos]):
                siblings.setdefault(pos, []).append(o)
        if not siblings:
            return
        for pos in sorted(siblings):
            group = [*siblings[pos], t]
            values = {g.tokens[pos] for g in group}
            pattern = _common_pattern(values)
            need = self.config.min_distinct_glob if pattern else self.config.min_distinct
            if len(values) >= need:
                # keep "rhost=<*>" rather than a bare <*> when every value fits that pattern
                self._merge(group, (*tokens[:pos], pattern or MASK, *tokens[pos + 1 :]))
                return

    def _merge(self, group: list[Template], tokens: tuple[str, ...]) -> None:
        survivor = min(group, key=lambda g: g.id)
        self._drop_live(survivor)
        for g in group:
            if g is not survivor and g.parent is None:
                self._absorb(survivor, g)
        survivor.set_tokens(tokens, self._ratio)
        # The generalised template may now cover other live templates too.
        if survivor.open:
            for o in list(self._candidates(len(tokens), tokens[0] if tokens else "")):
                if o is not survivor and survivor.covers(o.tokens):
                    self._absorb(survivor, o)
        self._add_live(survivor)
        self._generalise(survivor)

    def _absorb(self, survivor: Template, g: Template) -> None:
        self._drop_live(g)
        g.parent = survivor
        survivor.size += g.size

    # ---------------------------------------------------------------- queries
    def resolve(self, template_id: int) -> int:
        """The live id for ``template_id`` (ids of merged templates point at their survivor)."""
        t = self._by_id.get(template_id)
        if t is None:
            raise KeyError(template_id)
        while t.parent is not None:  # root(), inlined: called once per mined line by most callers
            t = t.parent
        return t.id

    def get(self, template_id: int) -> Template:
        """The live template for an id (following merges)."""
        t = self._by_id.get(template_id)
        if t is None:
            raise KeyError(template_id)
        return t.root()

    @property
    def lines(self) -> int:
        """Lines mined so far (the sizes of all live templates)."""
        return sum(t.size for t in self.templates)

    @property
    def templates(self) -> list[Template]:
        """Live templates in id order."""
        return [t for t in self._by_id.values() if t.parent is None]

    # ---------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        """A JSON-ready snapshot: config, templates, aliases and the masked-text lookup."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "config": asdict(self.config),
            "next_id": self._next_id,
            "lines": self.lines,
            "templates": [{"id": t.id, "tokens": list(t.tokens), "size": t.size} for t in self.templates],
            "aliases": {str(t.id): t.root().id for t in self._by_id.values() if t.parent is not None},
            # the most recent masked texts: enough to replay ties exactly, bounded in size
            "masked": {m: t.root().id for m, t in list(self._by_masked.items())[-_STATE_MASKED_MAX:]},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TemplateMiner:
        """Rebuild a miner from :meth:`to_state` output; raises InvalidPayload naming what is wrong."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise InvalidPayload("not a Sherlog template-miner state (missing format marker)")
        if state.get("version") != STATE_VERSION:
            raise InvalidPayload(f"template-miner state version {state.get('version')!r} is not {STATE_VERSION}")
        try:
            miner = cls(MinerConfig(**state["config"]))
            miner._next_id = int(state["next_id"])
            for row in state["templates"]:
                tokens = tuple(str(x) for x in row["tokens"])
                ratio = miner.config.min_constant_ratio
                t = Template(int(row["id"]), tokens, int(row["size"]), min_constant_ratio=ratio)
                miner._by_id[t.id] = t
                miner._add_live(t)
            for alias, target in state["aliases"].items():
                a = Template(int(alias), ("<alias>",))
                a.parent = miner._by_id[int(target)]
                miner._by_id[a.id] = a
            for masked, tid in state["masked"].items():
                miner._by_masked[str(masked)] = miner._by_id[int(tid)]
        except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as e:
            raise InvalidPayload(f"template-miner state is malformed: {e!r}") from e
        return miner
