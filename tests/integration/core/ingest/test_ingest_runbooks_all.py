"""Every runbook under ../shared/data/runbooks ingests; ingesting again changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CountingEmbedder
from ingest_helpers import store_counts

from core.ingest import Ingestor
from core.sources.runbooks import load_runbook_dir
from core.wiring import Stack

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_all_prometheus_operator_runbooks(
    shared_data: Path, ingestor: Ingestor, stack: Stack, embedder: CountingEmbedder
) -> None:
    root = shared_data / "runbooks" / "prometheus-operator-runbooks" / "content" / "runbooks"
    expected = load_runbook_dir(root)
    chunks = sum(len(rb.chunks) for rb in expected)
    assert len(expected) >= 100

    report = ingestor.ingest_runbooks(root, base_url="https://runbooks.prometheus-operator.dev/runbooks")
    assert report.rejected == []
    assert report.accepted == len(expected) and report.duplicates == 0
    assert report.embedded == chunks == embedder.texts
    assert stack.graph.count_nodes("Runbook") == len(expected)
    assert stack.graph.count_nodes("RunbookChunk") == chunks
    assert stack.graph.count_edges("PART_OF") == chunks
    assert stack.vectors.count() == chunks

    crash = stack.graph.query(
        "MATCH (r:Runbook {id: 'runbook:kubernetes/kubepodcrashlooping'}) RETURN r.aliases AS a, r.url AS u"
    )
    assert crash[0]["a"][0] == "kubepodcrashlooping"
    assert crash[0]["u"] == "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"
    hits = stack.vectors.search(
        "pod keeps restarting crash loop back-off",
        stack.embedder.embed(["pod keeps restarting crash loop back-off"])[0].tolist(),
        k=5,
        filters={"kind": "runbook_chunk"},
    )
    assert "runbook:kubernetes/kubepodcrashlooping" in {e for h in hits for e in h.entity_ids}

    before = store_counts(stack)
    again = ingestor.ingest_runbooks(root, base_url="https://runbooks.prometheus-operator.dev/runbooks")
    assert again.duplicates == len(expected) and again.embedded == 0
    assert store_counts(stack) == before
