"""The question-answering engine (GraphRAG): understand, plan, gather evidence, rank root causes,
answer, narrate. Entry point: `Engine(stack, settings).ask(question)`."""

from core.engine.config import EngineConfig
from core.engine.engine import Engine

__all__ = ["Engine", "EngineConfig"]
