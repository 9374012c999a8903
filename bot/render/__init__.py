"""Renderers: one Reply/Answer, three looks (Slack Block Kit, Discord embeds, plain text)."""
