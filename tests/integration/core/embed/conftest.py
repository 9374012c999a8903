"""Fixtures for the embedder integration tests: a real llama.cpp embeddings server."""

from tests.fixtures.llama_server import llama_embedding_server

__all__ = ["llama_embedding_server"]
