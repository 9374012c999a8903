"""`/incident` text → Command: verbs, aliases, keys, severities, users, and the errors."""

from __future__ import annotations

import pytest

from bot.incidents import VERBS, parse_command, parse_severity, usage_text
from core.errors import InputError, UnknownCommand


def test_declare_takes_a_title_and_an_optional_trailing_severity() -> None:
    assert parse_command("declare Checkout is down").text == "Checkout is down"
    assert parse_command("declare Checkout is down").severity is None
    for text in ("declare Checkout is down sev1", "declare Checkout is down SEV1", "declare Checkout is down sev 1"):
        cmd = parse_command(text)
        assert (cmd.verb, cmd.text, cmd.severity) == ("declare", "Checkout is down", 1)


def test_declare_without_title_or_with_bad_severity_says_what_is_wrong() -> None:
    with pytest.raises(InputError, match="needs a title") as e:
        parse_command("declare")
    assert e.value.hint and "declare <title>" in e.value.hint
    with pytest.raises(InputError, match="severity must be 1"):
        parse_command("declare Checkout down sev7")


@pytest.mark.parametrize(("raw", "level"), [("1", 1), ("sev2", 2), ("SEV3", 3), ("sev-4", 4)])
def test_sev_accepts_the_usual_spellings(raw: str, level: int) -> None:
    assert parse_command(f"sev {raw}").severity == level
    assert parse_severity(raw) == level


@pytest.mark.parametrize("raw", ["0", "5", "sev9", "high", "two"])
def test_sev_outside_one_to_four_is_refused(raw: str) -> None:
    with pytest.raises(InputError):
        parse_command(f"sev {raw}")


def test_an_explicit_incident_key_follows_the_verb() -> None:
    cmd = parse_command("update inc-12 rolled back the deploy")
    assert (cmd.verb, cmd.key, cmd.text) == ("update", "INC-12", "rolled back the deploy")
    assert parse_command("status INC-3").key == "INC-3"
    # a bare number after `sev` is the severity, never a key
    assert parse_command("sev 2").key is None


def test_lead_normalises_slack_escaped_mentions() -> None:
    assert parse_command("lead <@U123ABC|alice>").user == "<@U123ABC>"
    assert parse_command("lead @bob").user == "@bob"
    with pytest.raises(InputError, match="one user"):
        parse_command("lead @bob @carol")


def test_update_and_note_need_text_resolve_and_mitigate_do_not() -> None:
    for verb in ("update", "note"):
        with pytest.raises(InputError, match="needs some text"):
            parse_command(verb)
    assert parse_command("resolve").text == ""
    assert parse_command("resolve rolled back v2.1").text == "rolled back v2.1"
    assert parse_command("mitigate").verb == "mitigate"


def test_unknown_verbs_get_the_usage() -> None:
    with pytest.raises(UnknownCommand, match="frobnicate") as e:
        parse_command("frobnicate now")
    assert e.value.hint is not None
    for verb in VERBS:
        assert f"/incident {verb}" in e.value.hint


def test_aliases_and_empty_text() -> None:
    assert parse_command("").verb == "help"
    assert parse_command("acknowledge").verb == "ack"
    assert parse_command("ls").verb == "list"
    assert parse_command("RESOLVED all good").verb == "resolve"


def test_read_only_verbs_refuse_stray_arguments() -> None:
    with pytest.raises(InputError, match="takes no arguments"):
        parse_command("timeline please")


def test_usage_text_names_one_or_all_verbs() -> None:
    assert usage_text("sev").startswith("/incident sev <1-4>")
    assert usage_text().count("/incident ") == len(VERBS)
