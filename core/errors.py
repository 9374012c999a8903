"""Typed errors for Sherlog, all under one root.

```
SherlogError
├── ConfigError                 settings are missing or contradictory
├── InputError                  something a user or client sent is wrong
│   ├── InvalidEvent            an Event failed validation (names the field)
│   ├── InvalidPayload          an HTTP/webhook body is malformed
│   └── UnknownCommand          a verb or subcommand we do not know
├── NotFound                    a named entity/incident/case does not exist
├── BackendError                a store or external service failed
│   ├── BackendUnavailable      cannot be reached / not running
│   ├── BackendTimeout          answered too slowly
│   ├── PortInUse               the port we were told to bind is taken
│   └── MigrationError          relational schema could not be brought up to date
└── LLMError                    the optional language model failed
    ├── LLMUnavailable          none configured or all models down
    └── CitationError           narration cited evidence that does not exist
```

Adapters wrap vendor exceptions with ``raise BackendError(...) from e`` so callers
only ever catch Sherlog's own types. Every error carries a ``hint``: what to do next.
"""

from __future__ import annotations


class SherlogError(Exception):
    """Root of every error Sherlog raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class ConfigError(SherlogError):
    """Settings are missing, malformed or contradictory."""


class InputError(SherlogError):
    """Input from a user or a client is wrong; the message says what and where."""


class InvalidEvent(InputError):
    """An Event failed validation."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class InvalidPayload(InputError):
    """A request body or file is malformed."""


class UnknownCommand(InputError):
    """A command or verb Sherlog does not know."""


class NotFound(SherlogError):
    """A named thing does not exist."""


class BackendError(SherlogError):
    """A store or external service failed."""

    def __init__(self, message: str, *, backend: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.backend = backend


class BackendUnavailable(BackendError):
    """The backend cannot be reached or is not running."""


class BackendTimeout(BackendError):
    """The backend did not answer in time."""


class PortInUse(BackendError):
    """The port Sherlog was told to use is already taken by another program."""


class MigrationError(BackendError):
    """The relational schema could not be migrated."""


class LLMError(SherlogError):
    """The optional language model failed."""


class LLMUnavailable(LLMError):
    """No model is configured, or every configured model failed."""


class CitationError(LLMError):
    """A narration cited evidence ids that do not exist."""
