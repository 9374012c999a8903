"""Sherlog chaos package: simulated environments, a fault library, scenarios and history.

- ``spec``: the environment as YAML (services, dependencies, nodes) and its static topology.
- ``traffic``: the daily traffic shape.
- ``faults``: fourteen fault kinds, each with its target, symptoms, alerts, runbook and facts.
- ``simulate``: ``simulate(env, scenario, seed)`` → topology, Events (logs, metrics, alerts,
  Kubernetes events, changes) and the ground truth. Internals: ``state`` (what faults edit),
  ``propagation`` (golden signals along dependencies), ``series`` (metrics), ``logbuild``
  and ``logtemplates`` (log lines), ``alerts`` (rules), ``herrings`` (red herrings),
  ``events`` (to core Events).
- ``scenarios``: scenario files with ground truth; ``cases``: evaluation cases.
- ``history``: thirty days of past incidents, deploys and alerts.
- ``cli``: ``sherlog chaos list | run | history``.

Chaos produces data only; it never writes into a store (feeding the ingestion API is the
caller's job).
"""
