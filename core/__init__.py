"""Sherlog's engine: model, ingestion, stores, retrieval, RCA, answers, LLM, settings.

`core` imports no chat SDK and none of `bot`, `chaos`, `eval`, `reports`
(tests/unit/test_import_boundaries.py enforces it).
"""

__version__ = "0.1.0"
