"""Settings: env prefix, nesting, TOML file, secrets, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_defaults_are_embedded_and_loopback(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.graph.backend == "falkordb" and s.graph.embedded
    assert s.vector.backend == "embedded"
    assert s.db_url == f"sqlite:///{tmp_path / 'sherlog.db'}"
    assert s.server.host == "127.0.0.1"
    assert not s.llm.enabled


def test_env_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHERLOG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHERLOG_GRAPH__URI", "neo4j://db.internal:7687")
    monkeypatch.setenv("SHERLOG_GRAPH__PASSWORD", "hunter2")
    monkeypatch.setenv("SHERLOG_VECTOR__URL", "http://127.0.0.1:8080")
    monkeypatch.setenv("SHERLOG_DB__URL", "postgresql+psycopg://u:pw@127.0.0.1/sherlog")
    s = Settings()
    assert s.data_dir == tmp_path
    assert s.graph.backend == "neo4j" and not s.graph.embedded
    assert s.vector.backend == "weaviate"
    assert s.db_url.startswith("postgresql+psycopg://")
    # secrets never show in reprs or dumps
    assert "hunter2" not in repr(s) and "hunter2" not in s.model_dump_json()
    assert s.graph.password.get_secret_value() == "hunter2"


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "sherlog.toml"
    cfg.write_text(
        'timezone = "Europe/Paris"\n[server]\nport = 9999\n[llm]\n'
        '[[llm.models]]\nname = "local"\nmodel = "ollama/llama3.1"\napi_base = "http://127.0.0.1:11434"\n'
        '[[report.slos]]\nname = "checkout-availability"\nservice = "checkout"\nobjective = 0.995\n'
    )
    monkeypatch.setenv("SHERLOG_CONFIG", str(cfg))
    monkeypatch.setenv("SHERLOG_SERVER__PORT", "8111")
    s = Settings()
    assert s.timezone == "Europe/Paris"
    assert s.server.port == 8111
    assert s.llm.enabled and s.llm.models[0].model == "ollama/llama3.1"
    assert s.report.slos[0].objective == 0.995


def test_falkor_uri_means_external_falkordb() -> None:
    s = Settings(graph={"uri": "falkor://127.0.0.1:6379"})
    assert s.graph.backend == "falkordb" and not s.graph.embedded


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"graph": {"uri": "mysql://x"}}, "unknown graph URI scheme"),
        ({"graph": {"host": "0.0.0.0"}}, "loopback"),
        ({"server": {"port": 70000}}, "port"),
        ({"report": {"slos": [{"name": "x", "service": "y", "objective": 1.5}]}}, "objective"),
    ],
)
def test_bad_settings_name_the_problem(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValidationError) as ei:
        Settings(**kwargs)
    assert needle in str(ei.value)
