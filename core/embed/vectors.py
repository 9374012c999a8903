"""Helpers every Embedder shares: input checks and L2 normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.errors import InputError


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return `texts` as a list, or raise InputError naming the first item that is not a str.

    A bare str is refused: it is a Sequence[str] of characters, and embedding each
    letter is never what the caller meant.
    """
    if isinstance(texts, str):
        raise InputError("embed() takes a sequence of texts, got a single str", hint="wrap it: embed([text])")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InputError(f"embed(): texts[{i}] is {type(t).__name__}, not str")
    return items


def l2_normalize(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length, as float32 (a zero row stays zero, as torch's F.normalize does)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
