"""The one place Sherlog imports LiteLLM.

LiteLLM fetches its model cost map from the internet at import time unless
LITELLM_LOCAL_MODEL_COST_MAP is set *before* the import, and it can download
HuggingFace tokenizers to count tokens. Sherlog never needs the network for
either, so every use of litellm goes through `load_litellm()`, which sets the
switch, imports lazily (also keeping `import core...` fast) and turns off
logging callbacks and tokenizer downloads once.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

from core.errors import LLMUnavailable

_lock = threading.Lock()
_configured: ModuleType | None = None


def load_litellm() -> ModuleType:
    """Import litellm configured for offline use (idempotent, thread-safe)."""
    global _configured
    if _configured is not None:
        return _configured
    with _lock:
        if _configured is not None:
            return _configured
        # Product code reads no os.environ (settings do that), but this flag is read by
        # litellm itself at import: without it `import litellm` blocks on a download of
        # its price list. setdefault keeps an operator's explicit choice.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm
        except ImportError as e:
            raise LLMUnavailable("litellm is not installed", hint="run `make install`") from e
        # no success/failure loggers (they can ship prompts to hosted services), no debug banner
        litellm.success_callback = []
        litellm.failure_callback = []
        litellm.callbacks = []
        litellm.suppress_debug_info = True
        litellm.turn_off_message_logging = True
        # token counting falls back to the tiktoken files bundled with litellm instead of
        # fetching a model's tokenizer from the HuggingFace hub
        litellm.disable_hf_tokenizer_download = True
        litellm.drop_params = True  # local servers reject OpenAI-only params rather than ignore them
        _configured = litellm
        return litellm


PLACEHOLDER_API_KEY = "sherlog-no-key"


def api_key_for(api_base: str | None, api_key: str | None) -> str | None:
    """The key to send: the configured one, or a placeholder for a keyless local server.

    OpenAI-compatible servers on localhost (llama.cpp, vLLM) ignore the key, but the
    OpenAI client refuses to send a request without one.
    """
    if api_key:
        return api_key
    return PLACEHOLDER_API_KEY if api_base else None
