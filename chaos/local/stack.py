"""The local chaos target: the demo app, a real Prometheus and a real Alertmanager.

``LocalTarget(workdir, sherlog_webhook_url)`` starts, all on 127.0.0.1 free ports:

1. the demo services (:mod:`chaos.local.app`);
2. Alertmanager (Debian ``prometheus-alertmanager``) with clustering off and one
   webhook receiver, grouped by alert and service, ``group_wait``/``group_interval`` 1s;
3. Prometheus (Debian ``prometheus``) scraping every service each second, with the
   alert rules below evaluated each second and sent to that Alertmanager;
4. a load generator at a modest rate to the entry service.

Readiness is polled (``/-/ready``, ``/healthz``, then the first scrapes), never slept.
``stop()`` ends every process group it started, also after a failed start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from chaos.local.app import CLUSTER, DEMO_SERVICES, ENTRY_SERVICE, HOST, NAMESPACE, DemoApp, LoadGenerator, ServiceSpec
from chaos.local.procs import ManagedProcess, free_port, poll, require_binary, wait_http_ok
from chaos.local.witness import WebhookWitness
from core.errors import BackendError

PROMETHEUS_BIN = "/usr/bin/prometheus"
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
JOB = "demo"
RUNBOOK_BASE = "https://runbooks.sherlog.local"
#: Rate window for the alert rules: several 1 s scrapes, short enough to fire within seconds.
RATE_WINDOW = "10s"
#: CPU cores a demo service must use for HighCPUUsage: ~20x its share at 10 req/s, and reachable
#: by the burner even on a busy two-core machine where it gets a third of a core.
CPU_THRESHOLD = 0.25


def _rule(alert: str, expr: str, for_: str, severity: str, summary: str, runbook: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "runbook_url": f"{RUNBOOK_BASE}/{runbook}"},
    }


def alert_rules(*, window: str = RATE_WINDOW, job: str = JOB) -> dict[str, Any]:
    """The Prometheus rule file: real PromQL over the demo services' metrics, labelled by service."""
    sel = f'job="{job}"'
    by = "sum by (cluster, namespace, service)"
    return {
        "groups": [
            {
                "name": "sherlog-demo",
                "interval": "1s",
                "rules": [
                    _rule(
                        "ServiceDown",
                        f"up{{{sel}}} == 0",
                        "3s",
                        "critical",
                        "{{ $labels.service }} is down: Prometheus cannot scrape {{ $labels.instance }}",
                        "ServiceDown",
                    ),
                    _rule(
                        "HighErrorRate",
                        f'{by} (rate(http_requests_total{{{sel},code=~"5.."}}[{window}]))'
                        f" / {by} (rate(http_requests_total{{{sel}}}[{window}])) > 0.2",
                        "5s",
                        "critical",
                        "{{ $labels.service }} is failing {{ $value | humanizePercentage }} of requests",
                        "HighErrorRate",
                    ),
                    _rule(
                        "HighLatencyP99",
                        "histogram_quantile(0.99, sum by (cluster, namespace, service, le) "
                        f"(rate(http_request_duration_seconds_bucket{{{sel}}}[{window}]))) > 0.5",
                        "5s",
                        "warning",
                        "{{ $labels.service }} p99 latency is {{ $value | humanizeDuration }}",
                        "HighLatencyP99",
                    ),
                    _rule(
                        "HighCPUUsage",
                        f"process_cpu_usage{{{sel}}} > {CPU_THRESHOLD}",
                        "5s",
                        "warning",
                        '{{ $labels.service }} is using {{ $value | printf "%.2f" }} CPU cores',
                        "NodeCPUHighUsage",
                    ),
                    _rule(
                        "DiskAlmostFull",
                        f"sandbox_disk_used_bytes{{{sel}}} / sandbox_disk_quota_bytes{{{sel}}} > 0.9",
                        "3s",
                        "critical",
                        "{{ $labels.service }} data directory is {{ $value | humanizePercentage }} full",
                        "DiskAlmostFull",
                    ),
                ],
            }
        ]
    }


#: alertname each rule fires, for callers that wait for a specific one
ALERT_NAMES = tuple(r["alert"] for r in alert_rules()["groups"][0]["rules"])


def prometheus_config(
    targets: dict[str, str], *, alertmanager: str, rules_file: str, prometheus: str, job: str = JOB
) -> dict[str, Any]:
    """Scrape each service (labelled with its name, namespace and cluster) every second; alert to `alertmanager`."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
        "rule_files": [rules_file],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [prometheus]}]},
            {
                "job_name": job,
                "static_configs": [
                    {"targets": [addr], "labels": {"service": name, "namespace": NAMESPACE, "cluster": CLUSTER}}
                    for name, addr in targets.items()
                ],
            },
        ],
    }


def alertmanager_config(webhook_url: str, *, witness_url: str | None = None) -> dict[str, Any]:
    """One route to a webhook receiver (Sherlog, plus the witness when given); short waits so a
    firing alert is delivered within ~1 s."""
    hooks = [{"url": webhook_url, "send_resolved": True}]
    if witness_url:
        hooks.append({"url": witness_url, "send_resolved": True})
    return {
        "route": {
            "receiver": "sherlog",
            "group_by": ["alertname", "service"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "sherlog", "webhook_configs": hooks}],
    }


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_exposition(text: str) -> dict[str, float]:
    """`name{labels}` → value for every sample in a Prometheus text exposition (comments skipped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                continue
    return out


class LocalTarget:
    """The demo app with its Prometheus and Alertmanager; a context manager that always cleans up."""

    def __init__(
        self,
        workdir: Path,
        sherlog_webhook_url: str,
        *,
        services: tuple[ServiceSpec, ...] = DEMO_SERVICES,
        rps: float = 10.0,
        prometheus_bin: str = PROMETHEUS_BIN,
        alertmanager_bin: str = ALERTMANAGER_BIN,
    ) -> None:
        if not sherlog_webhook_url.startswith(("http://", "https://")):
            raise BackendError(f"webhook URL must be http(s)://..., got {sherlog_webhook_url!r}", backend="chaos-local")
        self.workdir = workdir
        self.webhook_url = sherlog_webhook_url
        self.rps = rps
        self._prometheus_bin = prometheus_bin
        self._alertmanager_bin = alertmanager_bin
        self.app = DemoApp(workdir / "app", services)
        self.prometheus_port = free_port()
        self.alertmanager_port = free_port()
        self.prometheus: ManagedProcess | None = None
        self.alertmanager: ManagedProcess | None = None
        self.load: LoadGenerator | None = None
        self.witness = WebhookWitness(HOST)
        # one client for the many polls; loopback only, so no proxy from the environment
        self._http = httpx.Client(timeout=3.0, trust_env=False)

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{HOST}:{self.alertmanager_port}"

    # ---- lifecycle
    def start(self, *, timeout: float = 60.0) -> LocalTarget:
        """Start everything and wait for a baseline; on any failure stop what was started and re-raise."""
        # check both binaries before starting anything, so a missing package fails in a blink
        prom_bin = require_binary(self._prometheus_bin, "prometheus")
        am_bin = require_binary(self._alertmanager_bin, "prometheus-alertmanager")
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.witness.start()
            self.app.start(timeout=timeout)
            self.alertmanager = self._start_alertmanager(am_bin, timeout)
            self.prometheus = self._start_prometheus(prom_bin, timeout)
            self.load = LoadGenerator(self.app.url(ENTRY_SERVICE), rps=self.rps).start()
            self.wait_baseline(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_alertmanager(self, binary: str, timeout: float) -> ManagedProcess:
        d = self.workdir / "alertmanager"
        d.mkdir(parents=True, exist_ok=True)
        (d / "alertmanager.yml").write_text(
            yaml.safe_dump(alertmanager_config(self.webhook_url, witness_url=self.witness.url))
        )
        argv = [
            binary,
            f"--config.file={d / 'alertmanager.yml'}",
            f"--storage.path={d / 'data'}",
            f"--web.listen-address={HOST}:{self.alertmanager_port}",
            # without this Alertmanager opens its gossip port on 0.0.0.0:9094
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        proc = ManagedProcess("alertmanager", argv, log_file=d / "alertmanager.log", cwd=d).start()
        wait_http_ok(proc, f"{self.alertmanager_url}/-/ready", timeout=timeout)
        return proc

    def _start_prometheus(self, binary: str, timeout: float) -> ManagedProcess:
        d = self.workdir / "prometheus"
        d.mkdir(parents=True, exist_ok=True)
        (d / "rules.yml").write_text(yaml.safe_dump(alert_rules(), sort_keys=False))
        config = prometheus_config(
            self.app.targets(),
            alertmanager=f"{HOST}:{self.alertmanager_port}",
            rules_file=str(d / "rules.yml"),
            prometheus=f"{HOST}:{self.prometheus_port}",
        )
        (d / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        argv = [
            binary,
            f"--config.file={d / 'prometheus.yml'}",
            f"--storage.tsdb.path={d / 'data'}",
            f"--web.listen-address={HOST}:{self.prometheus_port}",
            "--log.level=warn",
        ]
        proc = ManagedProcess("prometheus", argv, log_file=d / "prometheus.log", cwd=d).start()
        wait_http_ok(proc, f"{self.prometheus_url}/-/ready", timeout=timeout)
        return proc

    def stop(self) -> None:
        """Stop the load, Prometheus, Alertmanager and every service; safe to call twice."""
        if self.load is not None:
            self.load.stop()
            self.load = None
        for proc in (self.prometheus, self.alertmanager):
            if proc is not None:
                proc.stop()
        self.app.close()
        self.witness.stop()
        self._http.close()

    def __enter__(self) -> LocalTarget:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- queries
    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query against our Prometheus; the raw result vector."""
        try:
            body = self._http.get(f"{self.prometheus_url}/api/v1/query", params={"query": promql}).json()
        except (httpx.HTTPError, ValueError) as e:
            raise BackendError(f"prometheus query {promql!r} failed: {e}", backend="prometheus") from e
        if body.get("status") != "success":
            raise BackendError(f"prometheus query {promql!r} failed: {body.get('error')}", backend="prometheus")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_baseline(self, *, timeout: float = 60.0) -> None:
        """Until every service has been scraped up and the entry service's request rate shows in Prometheus."""
        n = len(self.app.services)

        def ready() -> bool:
            up = self.query(f'up{{job="{JOB}"}} == 1')
            if len(up) < n:
                return False
            return bool(
                self.query(f'rate(http_requests_total{{job="{JOB}",service="{ENTRY_SERVICE}"}}[{RATE_WINDOW}]) > 0')
            )

        poll(ready, timeout=timeout, what=f"baseline: all {n} demo services scraped with traffic", interval=0.5)

    def active_alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds right now (v2 API), narrowed to those whose labels match `labels`."""
        params: list[tuple[str, str | int | float | bool | None]] = [("active", "true")]
        params += [("filter", f'{k}="{v}"') for k, v in labels.items()]
        try:
            resp = self._http.get(f"{self.alertmanager_url}/api/v2/alerts", params=params)
            resp.raise_for_status()
        except httpx.HTTPError as e:
            raise BackendError(f"alertmanager /api/v2/alerts failed: {e}", backend="alertmanager") from e
        alerts: list[dict[str, Any]] = resp.json()
        return alerts

    def webhook_requests(self) -> tuple[int, int]:
        """(succeeded, failed) webhook requests of Alertmanager so far (all webhooks), from its /metrics.

        Both counters move when an attempt completes, so a request still in flight is in neither.
        """
        try:
            text = self._http.get(f"{self.alertmanager_url}/metrics").text
        except httpx.HTTPError as e:
            raise BackendError(f"alertmanager /metrics failed: {e}", backend="alertmanager") from e
        samples = parse_exposition(text)
        key = '{integration="webhook"}'
        total = samples.get(f"alertmanager_notification_requests_total{key}")
        failed = samples.get(f"alertmanager_notification_requests_failed_total{key}")
        if total is None or failed is None:
            raise BackendError(
                "alertmanager /metrics has no alertmanager_notification_requests_total for webhooks",
                backend="alertmanager",
                hint="the local target needs Alertmanager >= 0.23",
            )
        return int(total - failed), int(failed)
