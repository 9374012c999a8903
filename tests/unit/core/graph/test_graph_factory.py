"""build_graph_store picks the adapter the settings name. Connections are lazy, so no
server is needed here (the embedded path is covered in tests/integration/core/graph)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.graph import build_graph_store
from core.graph.falkordb_store import FalkorDBGraphStore
from core.graph.neo4j_store import Neo4jGraphStore
from core.ports import GraphStore
from core.settings import GraphSettings, Settings


def _settings(tmp_path: Path, **graph: object) -> Settings:
    return Settings(data_dir=tmp_path, graph=GraphSettings(**graph))  # type: ignore[arg-type]


@pytest.mark.parametrize("uri", ["neo4j://127.0.0.1:7687", "bolt://db.internal:7687", "neo4j+s://x.example:7687"])
def test_neo4j_uris_build_the_neo4j_store(tmp_path: Path, uri: str) -> None:
    store = build_graph_store(_settings(tmp_path, uri=uri, database="graphs", password="pw"))
    try:
        assert isinstance(store, Neo4jGraphStore)
        assert isinstance(store, GraphStore)
        assert store.database == "graphs"
        assert store.location == f"{uri}/graphs"
    finally:
        store.close()


def test_falkor_uri_builds_an_external_falkordb_store(tmp_path: Path) -> None:
    store = build_graph_store(_settings(tmp_path, uri="falkor://user:p%40ss@10.1.2.3:7000", graph_name="kg"))
    assert isinstance(store, FalkorDBGraphStore)
    assert isinstance(store, GraphStore)
    assert (store.host, store.port, store.graph_name, store.server) == ("10.1.2.3", 7000, "kg", None)
    assert store.location == "falkor://10.1.2.3:7000/kg"
    assert not (tmp_path / "falkordb").exists()  # nothing embedded was started


def test_falkor_uri_defaults_and_tls(tmp_path: Path) -> None:
    plain = build_graph_store(_settings(tmp_path, uri="redis://graph.internal"))
    assert isinstance(plain, FalkorDBGraphStore) and plain.port == 6379
    tls = build_graph_store(_settings(tmp_path, uri="falkors://graph.internal:6380"))
    assert isinstance(tls, FalkorDBGraphStore) and tls.location.startswith("falkors://")


@pytest.mark.parametrize("uri", ["falkor://:6379", "falkor://host:notaport"])
def test_bad_falkor_uris_are_config_errors(tmp_path: Path, uri: str) -> None:
    with pytest.raises(ConfigError, match="graph URI"):
        build_graph_store(_settings(tmp_path, uri=uri))
