"""Prometheus metrics of one `sherlog serve` process.

Each app gets its own `CollectorRegistry`, so building several apps in one process (tests,
reloads) never trips prometheus_client's duplicate-registration error.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

# Engine answers are sub-second when healthy; the tail buckets show a degraded store or LLM.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class BotMetrics:
    """Request counts, answer latency, incident verbs and ingest counters."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.http_requests = Counter(
            "sherlog_http_requests",
            "HTTP requests served, by route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.ingest_requests = Counter(
            "sherlog_ingest_requests",
            "Requests to the intake endpoints, by endpoint and status code",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.ingest_bytes = Counter(
            "sherlog_ingest_bytes",
            "Bytes received on the intake endpoints",
            ["endpoint"],
            registry=self.registry,
        )
        self.questions = Counter(
            "sherlog_questions",
            "Questions asked in chat, by platform and outcome (answered, error, refused)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.answer_latency = Histogram(
            "sherlog_answer_latency_seconds",
            "Time the engine took to answer one question",
            ["platform"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.incident_commands = Counter(
            "sherlog_incident_commands",
            "/incident verbs run, by platform, verb and outcome (ok, error)",
            ["platform", "verb", "outcome"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "sherlog_feedback",
            "Helpful / not helpful clicks on answers",
            ["platform", "helpful"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format for GET /metrics."""
        return generate_latest(self.registry)
