"""Template-miner state on disk: one JSON file, written atomically, so template ids survive restarts."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from core.errors import InputError, InvalidPayload
from core.logs.miner import MinerConfig, TemplateMiner


def load_miner(path: Path, config: MinerConfig | None = None) -> TemplateMiner:
    """The miner saved at ``path``, or a fresh one when the file does not exist yet.

    A saved state keeps its own config (ids depend on it); passing a different ``config``
    for an existing state is refused rather than silently mixing the two.
    """
    if not path.exists():
        return TemplateMiner(config)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read miner state {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise InvalidPayload(f"miner state {path} is not valid JSON: {e.msg} at line {e.lineno}") from e
    try:
        miner = TemplateMiner.from_state(state)
    except InvalidPayload as e:
        raise InvalidPayload(f"miner state {path}: {e.message}", hint="delete it to start over") from e
    if config is not None and config != miner.config:
        raise InvalidPayload(
            f"miner state {path} was built with different settings than requested",
            hint="use the saved settings or start a new state file",
        )
    return miner


def save_miner(miner: TemplateMiner, path: Path) -> None:
    """Write the miner's state to ``path`` atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(miner.to_state(), f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
