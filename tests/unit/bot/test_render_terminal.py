"""The terminal Slack preview: every block type Sherlog posts is drawn, mrkdwn translated."""

from __future__ import annotations

from rich.console import Console

from bot.render.terminal import mrkdwn_to_rich, slack_preview


def test_mrkdwn_translation() -> None:
    got = mrkdwn_to_rich("*Root cause:* `orders-db` _likely_ see <https://x.io/rb|runbook> &lt;5s [x]")
    assert "[bold]Root cause:[/bold]" in got
    assert "[bold cyan]orders-db[/bold cyan]" in got
    assert "[italic]likely[/italic]" in got
    assert "[link=https://x.io/rb][underline]runbook[/underline][/link]" in got
    assert "<5s" in got and "\\[x]" in got  # Slack entities decoded, Rich markup escaped


def test_preview_draws_every_block_type() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "🔎 orders-db is the likely root cause"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Q:* why is checkout failing?"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*sev*\n2"}, {"type": "mrkdwn", "text": "*lead*"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "412 ms · no LLM"}]},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "👍 Helpful"}}]},
        {"type": "unknown-kind"},
    ]
    console = Console(record=True, width=100)
    console.print(slack_preview(blocks))
    out = console.export_text()
    for needle in (
        "orders-db is the likely root cause",
        "Q: why is checkout failing?",
        "sev",
        "412 ms",
        "[ 👍 Helpful ]",
    ):
        assert needle in out, needle
