"""Fixtures for the LLM integration tests: a real llama.cpp chat server with a tiny model."""

from tests.fixtures.llama_server import llama_server

__all__ = ["llama_server"]
