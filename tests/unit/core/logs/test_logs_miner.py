"""Template miner behaviour: grouping, generalisation, stable ids and persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError, InvalidPayload
from core.logs.header import message_of
from core.logs.miner import MinerConfig, TemplateMiner, _CacheGate
from core.logs.state import load_miner, save_miner


def test_add_returns_id_template_and_whether_new() -> None:
    miner = TemplateMiner()
    first = miner.add("user 42 logged in from 10.0.0.1")
    again = miner.add("user 7 logged in from 192.168.1.20")
    assert first.is_new and not again.is_new
    assert first.template_id == again.template_id
    assert again.template == "user <*> logged in from <*>"
    other = miner.add("disk full on /dev/sda1")
    assert other.is_new and other.template_id != first.template_id
    assert miner.lines == 3
    assert [t.id for t in miner.templates] == [first.template_id, other.template_id]


def test_same_message_with_other_digit_lengths_hits_the_same_template() -> None:
    miner = TemplateMiner()
    a = miner.add("PacketResponder 1 for block blk_38865049064139660 terminating")
    b = miner.add("PacketResponder 12 for block blk_-6952295868487656571 terminating")
    c = miner.add("PacketResponder 1 for block blk_38865049064139660 terminating")
    assert a.template_id == b.template_id == c.template_id
    assert miner.get(a.template_id).size == 3


def test_word_position_becomes_variable_after_enough_distinct_values() -> None:
    miner = TemplateMiner(MinerConfig(min_distinct=3))
    alice = miner.add("session opened for user alice")
    bob = miner.add("session opened for user bob")
    assert alice.template_id != bob.template_id  # two values could be two event kinds
    carol = miner.add("session opened for user carol")
    assert miner.resolve(alice.template_id) == miner.resolve(bob.template_id) == miner.resolve(carol.template_id)
    assert miner.resolve(bob.template_id) == alice.template_id  # the oldest id survives
    assert miner.get(bob.template_id).text == "session opened for user <*>"
    assert miner.get(alice.template_id).size == 3
    dave = miner.add("session opened for user dave")
    assert dave.template_id == alice.template_id and not dave.is_new


def test_categorical_words_and_states_stay_apart() -> None:
    miner = TemplateMiner()
    bytes_ = miner.add("Block 3 stored as bytes in memory")
    values = miner.add("Block 4 stored as values in memory")
    assert bytes_.template_id != values.template_id
    states = {miner.add(f"job 7 changed state to {s}").template_id for s in ("RUNNING", "FAILED", "PENDING", "DONE")}
    assert len(states) == 4  # ALL_CAPS words are states, never merged


def test_the_first_word_is_never_generalised() -> None:
    miner = TemplateMiner()
    ids = {
        miner.add(f"{verb} connection to db").template_id for verb in ("opening", "closing", "resetting", "dropping")
    }
    assert len(ids) == 4


def test_mostly_variable_template_does_not_swallow_other_messages() -> None:
    miner = TemplateMiner()
    number = miner.add("0")
    word = miner.add("getStepCounterStatus")
    assert word.template_id != number.template_id
    assert miner.add("17").template_id == number.template_id


def test_empty_and_undecodable_messages_are_kept() -> None:
    miner = TemplateMiner()
    empty = miner.add("")
    assert empty.template == ""
    bad = miner.add("bad \udcff byte 12")
    assert bad.template == "bad \udcff byte <*>"
    assert miner.lines == 2


def test_add_line_drops_the_header_before_mining() -> None:
    miner = TemplateMiner()
    a = miner.add_line("2015-10-18 18:01:47,978 INFO [main] org.apache.Foo: Created 4 tasks")
    b = miner.add_line("2015-10-18 18:02:01,001 INFO [main] org.apache.Foo: Created 12 tasks")
    c = miner.add("Created 7 tasks")
    assert a.template == "Created <*> tasks"
    assert a.template_id == b.template_id == c.template_id
    assert miner.lines == 3


LINES = [
    "session opened for user alice",
    "session opened for user bob",
    "Received block blk_1 of size 67108864 from /10.250.19.102",
    "session opened for user carol",
    "Verification succeeded for blk_-7",
    "job 1 changed state to RUNNING",
    "session closed for user alice",
]


def _run(miner: TemplateMiner, lines: list[str]) -> list[int]:
    """Final template id of every line (ids of templates merged later resolve to the survivor)."""
    ids = [miner.add(line).template_id for line in lines]
    return [miner.resolve(i) for i in ids]


def test_reloaded_state_gives_the_same_ids(tmp_path: Path) -> None:
    miner = TemplateMiner()
    ids = _run(miner, LINES)
    path = tmp_path / "state" / "miner.json"
    save_miner(miner, path)
    reloaded = load_miner(path)
    results = [reloaded.add(line) for line in LINES]
    assert [reloaded.resolve(r.template_id) for r in results] == ids
    assert not any(r.is_new for r in results)
    assert [t.text for t in reloaded.templates] == [t.text for t in miner.templates]
    # new lines after a restart continue the id sequence instead of reusing ids
    fresh = reloaded.add("completely different event 9")
    assert fresh.is_new and fresh.template_id > max(ids)


def test_merged_ids_still_resolve_after_reload() -> None:
    miner = TemplateMiner()
    first = [miner.add(line).template_id for line in LINES]
    reloaded = TemplateMiner.from_state(json.loads(json.dumps(miner.to_state())))
    assert [reloaded.resolve(i) for i in first] == [miner.resolve(i) for i in first]


def test_missing_state_file_starts_fresh(tmp_path: Path) -> None:
    miner = load_miner(tmp_path / "none.json")
    assert miner.templates == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something-else"}', "not a Sherlog template-miner state"),
        ('{"format": "sherlog.logs.miner", "version": 99}', "version"),
        ('{"format": "sherlog.logs.miner", "version": 1, "config": {}}', "malformed"),
    ],
)
def test_bad_state_file_is_refused_with_the_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(InvalidPayload, match=message):
        load_miner(path)


def test_state_built_with_other_settings_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_miner(TemplateMiner(MinerConfig(min_distinct=5)), path)
    with pytest.raises(InvalidPayload, match="different settings"):
        load_miner(path, MinerConfig())


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError):
        MinerConfig(min_distinct=1)
    with pytest.raises(ConfigError):
        MinerConfig(min_constant_ratio=1.5)


def test_caches_are_bounded_and_results_do_not_change_when_they_reset() -> None:
    small = TemplateMiner(MinerConfig(max_cache=3, max_exact=2))
    big = TemplateMiner()
    lines = [f"request {i} took {i % 7} ms on worker-{i % 3}" for i in range(200)] + LINES * 3
    assert _run(small, lines) == _run(big, lines)
    assert len(small._msg_exact) <= 2 and len(small._msg_digits) <= 3


def test_add_line_takes_the_message_of_structured_lines() -> None:
    miner = TemplateMiner()
    a = miner.add_line('{"ts":"2024-01-01T00:00:01Z","level":"info","msg":"user 42 logged in","pod":"api-1"}')
    b = miner.add_line('ts=2024-01-01T00:00:02Z level=info msg="user 7 logged in" svc=api')
    c = miner.add_line("2024-01-01 00:00:03,000 INFO [main] a.Api: user 9 logged in")
    assert a.template == "user <*> logged in"
    assert a.template_id == b.template_id == c.template_id
    no_msg = miner.add_line('{"event_count": 3}')
    assert no_msg.template == '{"event_count": <*>}'


@pytest.mark.parametrize("numeric_first", [True, False])
def test_a_value_fitting_a_masked_pattern_keeps_the_key(numeric_first: bool) -> None:
    miner = TemplateMiner()
    lines = ["connect from rhost=10.0.0.1 ok", "connect from rhost=db.example.com ok"]
    first, second = (miner.add(line) for line in (lines if numeric_first else lines[::-1]))
    assert miner.resolve(second.template_id) == miner.resolve(first.template_id) == first.template_id
    assert miner.get(first.template_id).text == "connect from rhost=<*> ok"
    third = miner.add("connect from rhost=cache.example.com ok")
    assert third.template_id == first.template_id and not third.is_new
    assert miner.add("connect from user=bob ok").template_id != first.template_id


@pytest.mark.shared_data
@pytest.mark.parametrize("mode", ["content", "raw"])
def test_results_do_not_depend_on_the_caches_on_loghub(shared_data: Path, mode: str) -> None:
    """Every cache level (and skipping one) only shortcuts to the template the full path gives:
    with caches of one entry, which are cleared on every insert, all results stay the same."""
    for path in sorted((shared_data / "loghub").glob("*/*_2k.log")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if mode == "content":
            lines = [message_of(line) for line in lines]
        runs = []
        for config in (MinerConfig(), MinerConfig(max_cache=1, max_exact=1)):
            miner = TemplateMiner(config)
            add = miner.add if mode == "content" else miner.add_line
            results = [add(line) for line in lines]
            runs.append((results, [miner.resolve(r.template_id) for r in results], [t.text for t in miner.templates]))
        assert runs[0] == runs[1], path.name


def test_cache_gate_skips_a_level_that_misses_and_measures_it_again() -> None:
    gate = _CacheGate(window=4, rest=3, min_hits=2)
    for _ in range(4):
        assert gate.open()
        gate.record(False)
    assert [gate.open() for _ in range(4)] == [False, False, False, True]  # skipped for `rest` items
    for hit in (True, True, False, False):  # enough lookups answer: worth its key
        gate.record(hit)
        assert gate.open()
