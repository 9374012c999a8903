"""build_vector_store picks the backend from Settings (no server needed: FalkorDB connects lazily)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import BackendUnavailable, ConfigError
from core.settings import GraphSettings, Settings, VectorSettings
from core.vector import build_vector_store, vector_graph_name
from core.vector.falkordb_vector import FalkorDBVectorStore
from tests.fixtures.net import free_port


def test_embedded_store_uses_the_given_server_and_its_own_graph(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, graph=GraphSettings(graph_name="kg"))
    store = build_vector_store(s, falkor_host="127.0.0.1", falkor_port=7001)
    assert isinstance(store, FalkorDBVectorStore)
    assert store.backend == "falkordb"
    assert (store.host, store.port, store.graph_name) == ("127.0.0.1", 7001, "kg_vectors")
    assert vector_graph_name(s) == "kg_vectors"


def test_embedded_store_defaults_to_graph_settings_address(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, graph=GraphSettings(port=6999))
    store = build_vector_store(s)
    assert isinstance(store, FalkorDBVectorStore)
    assert (store.host, store.port) == ("127.0.0.1", 6999)


def test_external_falkordb_uri_is_followed(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, graph=GraphSettings(uri="falkor://127.0.0.1:7100", graph_name="g"))
    store = build_vector_store(s)
    assert isinstance(store, FalkorDBVectorStore)
    assert (store.host, store.port, store.graph_name) == ("127.0.0.1", 7100, "g_vectors")


def test_unreachable_embedded_server_raises_backend_unavailable_on_use(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    store = build_vector_store(s, falkor_host="127.0.0.1", falkor_port=free_port())
    with pytest.raises(BackendUnavailable, match="unreachable"):
        store.count()
    assert store.status().running is False


def test_weaviate_url_selects_weaviate_and_reports_it_unreachable(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, vector=VectorSettings(url=f"http://127.0.0.1:{free_port()}", grpc_port=free_port()))
    with pytest.raises(BackendUnavailable, match="Weaviate"):
        build_vector_store(s)


def test_bad_weaviate_url_is_a_config_error(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, vector=VectorSettings(url="ftp://somewhere"))
    with pytest.raises(ConfigError, match="Weaviate URL"):
        build_vector_store(s)
