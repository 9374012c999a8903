"""Ingestion: every source becomes canonical Events, then entities, relations and evidence in
the graph, the vector index and the relational store.

* :class:`core.ingest.pipeline.Ingestor`   the one write API (events, topology, runbooks, incidents, purge)
* :class:`core.ingest.report.IngestReport` what a call accepted, skipped as duplicate and rejected
* :func:`core.ingest.signals.log_signals`  template bursts, first-seen templates and error-rate jumps
"""

from core.ingest.pipeline import Ingestor
from core.ingest.report import IngestReport, ItemError
from core.ingest.signals import LogSignal, log_signals

__all__ = ["IngestReport", "Ingestor", "ItemError", "LogSignal", "log_signals"]
