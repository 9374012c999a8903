"""Shared Rich consoles for the CLI: results to stdout, diagnostics to stderr."""

from __future__ import annotations

from rich.console import Console

console = Console()
console_err = Console(stderr=True)
