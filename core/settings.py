"""Sherlog's one configuration object.

Sources, highest priority first: constructor arguments, environment variables
(`SHERLOG_` prefix, nested with `__`, e.g. `SHERLOG_GRAPH__URI`), a `.env` file,
`sherlog.toml` (path from `SHERLOG_CONFIG`, else `./sherlog.toml`), defaults.
Nothing else in Sherlog reads `os.environ`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_NEO4J_SCHEMES = {"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}
_FALKOR_SCHEMES = {"falkor", "falkors", "redis", "rediss"}


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "sherlog"


class GraphSettings(BaseModel):
    """Knowledge graph.

    No `uri`: the embedded FalkorDB that Sherlog starts and manages.
    `falkor://host:port` (or `redis://`): a FalkorDB server someone else runs.
    `neo4j://`, `neo4j+s://`, `bolt://`: a Neo4j 5 server.
    """

    uri: str | None = Field(None, description="neo4j://, bolt:// or falkor:// URI; unset = embedded FalkorDB")
    user: str = "neo4j"
    password: SecretStr = SecretStr("")
    database: str = Field("neo4j", description="Neo4j database name")
    graph_name: str = Field("sherlog", description="FalkorDB graph key")
    host: str = Field("127.0.0.1", description="loopback address the embedded FalkorDB binds")
    port: int = Field(6479, ge=0, le=65535, description="TCP port of the embedded FalkorDB")
    start_timeout_s: float = 20.0
    query_timeout_ms: int = 30_000

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, v: str) -> str:
        if v not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the embedded FalkorDB binds loopback only (127.0.0.1, localhost or ::1)")
        return v

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        scheme = v.split("://", 1)[0].lower()
        if scheme not in _NEO4J_SCHEMES | _FALKOR_SCHEMES:
            raise ValueError(f"unknown graph URI scheme '{scheme}': use neo4j://, bolt:// or falkor://host:port")
        return v

    @property
    def backend(self) -> Literal["falkordb", "neo4j"]:
        if self.uri and self.uri.split("://", 1)[0].lower() in _NEO4J_SCHEMES:
            return "neo4j"
        return "falkordb"

    @property
    def embedded(self) -> bool:
        """True when Sherlog runs the FalkorDB server itself."""
        return self.uri is None


class VectorSettings(BaseModel):
    """Vector index. No `url` means FalkorDB's vector + full-text indexes (embedded)."""

    url: str | None = Field(None, description="Weaviate HTTP URL, e.g. http://127.0.0.1:8080")
    grpc_port: int = 50051
    api_key: SecretStr | None = None
    collection: str = "SherlogDoc"

    @property
    def backend(self) -> Literal["embedded", "weaviate"]:
        return "weaviate" if self.url else "embedded"


class DbSettings(BaseModel):
    """Relational store. No `url` means SQLite under the data dir."""

    url: SecretStr | None = Field(None, description="SQLAlchemy URL, e.g. postgresql+psycopg://u:p@host/db")
    echo: bool = False


class EmbedderSettings(BaseModel):
    """Text embeddings. `local` runs all-MiniLM-L6-v2 from an installed package, offline."""

    backend: Literal["local", "litellm"] = "local"
    model: str = Field("all-MiniLM-L6-v2", description="LiteLLM model name when backend=litellm")
    api_base: str | None = None
    dim: int = 384
    batch_size: int = 32


class LLMModel(BaseModel):
    """One LiteLLM deployment, e.g. `ollama/llama3.1` or `openai/local` with an api_base."""

    name: str = Field(description="alias used for routing and fallbacks")
    model: str = Field(description="LiteLLM model string, e.g. ollama/llama3.1:8b")
    api_base: str | None = None
    api_key: SecretStr | None = None


class LLMSettings(BaseModel):
    """Optional local LLMs, used only to plan and narrate. Empty `models` = no LLM."""

    models: list[LLMModel] = Field(default_factory=list)
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    timeout_s: float = 30.0
    max_tokens: int = 600
    token_budget: int = Field(4000, description="max prompt tokens sent per question")
    temperature: float = 0.0
    retries: int = 1

    @property
    def enabled(self) -> bool:
        return bool(self.models)


class ServerSettings(BaseModel):
    """`sherlog serve` HTTP address and intake limits."""

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    ingest_token: SecretStr | None = Field(None, description="bearer token required on intake endpoints")
    max_body_bytes: int = 10 * 1024 * 1024


class IngestSettings(BaseModel):
    """Ingestion behaviour."""

    log_retention_days: int = Field(7, ge=1)
    max_template_samples: int = 5


class SlackSettings(BaseModel):
    """Slack app credentials; empty means the Slack adapter is off."""

    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = Field(None, description="xapp- token: enables Socket Mode")
    api_base_url: str = "https://slack.com/api/"
    allowed_channels: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = 10
    alerts_channel: str | None = Field(
        None, description="channel (id or #name) where answers to firing alerts are posted; unset = not posted"
    )


class DiscordSettings(BaseModel):
    """Discord bot credentials; empty means the Discord adapter is off."""

    token: SecretStr | None = None
    allowed_channels: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = 10
    alerts_channel: str | None = Field(
        None, description="channel id where answers to firing alerts are posted; unset = not posted"
    )


class SourcesSettings(BaseModel):
    """Pull sources."""

    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    loki_url: str | None = None


class SLO(BaseModel):
    """A service level objective evaluated over ingested metrics or a Prometheus query."""

    name: str
    service: str
    kind: Literal["availability", "latency"] = "availability"
    objective: float = Field(0.999, gt=0, lt=1)
    threshold_ms: float | None = None
    query: str | None = None


class ReportSettings(BaseModel):
    """Weekly reliability report."""

    cron: str = Field("0 9 * * mon", description="crontab: minute hour day month weekday")
    slack_channel: str | None = None
    discord_channel: str | None = None
    slos: list[SLO] = Field(default_factory=list)


class Settings(BaseSettings):
    """Every setting Sherlog has. See README 'Configuration' for the reference table."""

    model_config = SettingsConfigDict(
        env_prefix="SHERLOG_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        toml_file="sherlog.toml",
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    tenant: str = "default"
    timezone: str = "UTC"
    log_level: str = "INFO"
    graph: GraphSettings = Field(default_factory=GraphSettings)  # type: ignore[arg-type]
    vector: VectorSettings = Field(default_factory=VectorSettings)  # type: ignore[arg-type]
    db: DbSettings = Field(default_factory=DbSettings)  # type: ignore[arg-type]
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)  # type: ignore[arg-type]
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)  # type: ignore[arg-type]
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # type: ignore[arg-type]
    slack: SlackSettings = Field(default_factory=SlackSettings)  # type: ignore[arg-type]
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)  # type: ignore[arg-type]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # SHERLOG_CONFIG names the TOML file; this is the one place the env is read
        # outside pydantic-settings, and only to find the file.
        toml_path = os.environ.get("SHERLOG_CONFIG", "sherlog.toml")
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (init_settings, env_settings, dotenv_settings, toml, file_secret_settings)

    @property
    def db_url(self) -> str:
        """The relational URL in force (SQLite under the data dir by default)."""
        if self.db.url is not None:
            return self.db.url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'sherlog.db'}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from every source, with keyword overrides on top."""
    return Settings(**overrides)
