"""Real fault injection on this machine: a demo app of real HTTP services, a real
Prometheus and Alertmanager (Debian packages), and injectors that really break things.

- ``service``: one demo service process (``python -m chaos.local.service``): ``/``,
  ``/metrics``, ``/fault``, ``/healthz``, JSON-lines logs, a journal in its sandbox.
- ``sandbox``: bounded, path-checked disk writes under a sandbox directory.
- ``procs``: child processes in their own process groups, free ports, readiness polling.
- ``app``: the demo topology, ``DemoApp`` (starts/restarts the services) and the load generator.
- ``stack``: ``LocalTarget``: the app + Prometheus (scrape config, alert rules) + Alertmanager.
- ``faults``: kill, CPU burn, latency, errors, disk fill; each reversible with ``heal()``.
- ``witness``: a second webhook beside Sherlog's, so a run knows which alerts were notified.
- ``feed``: pushes the app's logs, Prometheus metrics and topology to Sherlog's intake.
- ``run``: ``run_local(scenario or fault spec, ...)``: start, baseline, inject, wait for the
  alert to reach the webhook, heal, stop.
- ``cli``: the bodies of ``sherlog chaos run ... --target local|k8s`` (k8s: :mod:`chaos.k8s`).
"""
