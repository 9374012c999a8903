"""Source adapters: parse and map external formats (Alertmanager, Grafana, Loki
push, Prometheus, Kubernetes, docker-compose, change webhooks, runbooks) into
Sherlog's model (`core.model.Event`, `Entity`, `Relation`).

Adapters never write to a store; the ingestion pipeline calls them and writes
what they return. Batch parsers return a `ParsedBatch` so one bad item is
reported (with its index and field) without losing the good ones.
"""
