"""The local target's Prometheus rules and configs, checked by the real promtool/amtool.

`promtool test rules` evaluates the alert rules over synthetic series exactly as
Prometheus would: each rule must fire on its symptom (with the service label and
annotations Sherlog reads) and stay quiet on a healthy service.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.local.stack import (
    ALERT_NAMES,
    CPU_THRESHOLD,
    LocalTarget,
    alert_rules,
    alertmanager_config,
    parse_exposition,
    prometheus_config,
)
from core.errors import BackendError, ConfigError
from tests.fixtures.procs import require_binary

SVC = 'job="demo",service="{svc}",namespace="demo",cluster="local"'


def _series(svc: str, name: str, extra: str, values: str) -> dict[str, str]:
    labels = SVC.format(svc=svc) + (f",{extra}" if extra else "")
    return {"series": f"{name}{{{labels}}}", "values": values}


def _labels(svc: str, severity: str, **extra: str) -> dict[str, str]:
    return {"service": svc, "namespace": "demo", "cluster": "local", "severity": severity, **extra}


def _annotations(summary: str, runbook: str) -> dict[str, str]:
    return {"summary": summary, "runbook_url": f"https://runbooks.sherlog.local/{runbook}"}


def _promtool(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    promtool = require_binary("/usr/bin/promtool", "prometheus")
    return subprocess.run([promtool, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_alert_rules_fire_on_their_symptoms_and_not_on_health(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(alert_rules()))
    healthy: list[dict[str, str]] = [
        _series("catalog", "http_requests_total", 'code="200",method="GET"', "0+10x40"),
        _series("catalog", "http_request_duration_seconds_bucket", 'le="0.05",method="GET"', "0+10x40"),
        _series("catalog", "http_request_duration_seconds_bucket", 'le="+Inf",method="GET"', "0+10x40"),
        _series("catalog", "up", 'instance="127.0.0.1:1"', "1x40"),
        _series("catalog", "process_cpu_usage", 'instance="127.0.0.1:1"', "0.02x40"),
        _series("catalog", "sandbox_disk_used_bytes", 'instance="127.0.0.1:1"', "1000x40"),
        _series("catalog", "sandbox_disk_quota_bytes", 'instance="127.0.0.1:1"', "16000000x40"),
    ]
    sick: list[dict[str, str]] = [
        # payments: half of the requests fail
        _series("payments", "http_requests_total", 'code="200",method="GET"', "0+5x40"),
        _series("payments", "http_requests_total", 'code="500",method="GET"', "0+5x40"),
        # checkout: every request lands between 0.5 s and 1 s
        _series("checkout", "http_request_duration_seconds_bucket", 'le="0.5",method="GET"', "0x40"),
        _series("checkout", "http_request_duration_seconds_bucket", 'le="1",method="GET"', "0+10x40"),
        _series("checkout", "http_request_duration_seconds_bucket", 'le="+Inf",method="GET"', "0+10x40"),
        # orders-db: scraped fine, then gone
        _series("orders-db", "up", 'instance="127.0.0.1:2"', "1x5 0x35"),
        # frontend: burning CPU; its sandbox nearly full
        _series("frontend", "process_cpu_usage", 'instance="127.0.0.1:3"', "0.9x40"),
        _series("frontend", "sandbox_disk_used_bytes", 'instance="127.0.0.1:3"', "15000000x40"),
        _series("frontend", "sandbox_disk_quota_bytes", 'instance="127.0.0.1:3"', "16000000x40"),
    ]
    inst = {"job": "demo"}
    expected: dict[str, list[dict[str, Any]]] = {
        "HighErrorRate": [
            {
                "exp_labels": _labels("payments", "critical"),
                "exp_annotations": _annotations("payments is failing 50% of requests", "HighErrorRate"),
            }
        ],
        "HighLatencyP99": [
            {
                "exp_labels": _labels("checkout", "warning"),
                "exp_annotations": _annotations("checkout p99 latency is 995ms", "HighLatencyP99"),
            }
        ],
        "ServiceDown": [
            {
                "exp_labels": _labels("orders-db", "critical", instance="127.0.0.1:2", **inst),
                "exp_annotations": _annotations(
                    "orders-db is down: Prometheus cannot scrape 127.0.0.1:2", "ServiceDown"
                ),
            }
        ],
        "HighCPUUsage": [
            {
                "exp_labels": _labels("frontend", "warning", instance="127.0.0.1:3", **inst),
                "exp_annotations": _annotations("frontend is using 0.90 CPU cores", "NodeCPUHighUsage"),
            }
        ],
        "DiskAlmostFull": [
            {
                "exp_labels": _labels("frontend", "critical", instance="127.0.0.1:3", **inst),
                "exp_annotations": _annotations("frontend data directory is 93.75% full", "DiskAlmostFull"),
            }
        ],
    }
    assert set(expected) == set(ALERT_NAMES)
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1s",
        "tests": [
            {
                "interval": "1s",
                "input_series": healthy + sick,
                "alert_rule_test": [
                    # early on nothing has lasted its `for:` yet
                    *({"eval_time": "2s", "alertname": name, "exp_alerts": []} for name in ALERT_NAMES),
                    *({"eval_time": "30s", "alertname": name, "exp_alerts": exp} for name, exp in expected.items()),
                ],
            }
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    out = _promtool(tmp_path, "test", "rules", "tests.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(alert_rules()))
    cfg = prometheus_config(
        {"frontend": "127.0.0.1:8100", "payments": "127.0.0.1:8101"},
        alertmanager="127.0.0.1:9093",
        rules_file=str(tmp_path / "rules.yml"),
        prometheus="127.0.0.1:9090",
    )
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    out = _promtool(tmp_path, "check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    demo = next(j for j in cfg["scrape_configs"] if j["job_name"] == "demo")
    assert demo["static_configs"][1] == {
        "targets": ["127.0.0.1:8101"],
        "labels": {"service": "payments", "namespace": "demo", "cluster": "local"},
    }
    assert cfg["global"]["scrape_interval"] == cfg["global"]["evaluation_interval"] == "1s"


def test_alertmanager_config_is_valid_and_sends_to_both_hooks(tmp_path: Path) -> None:
    amtool = require_binary("/usr/bin/amtool", "prometheus-alertmanager")
    cfg = alertmanager_config("http://127.0.0.1:8765/hooks/alertmanager", witness_url="http://127.0.0.1:9999/")
    (tmp_path / "am.yml").write_text(yaml.safe_dump(cfg))
    out = subprocess.run([amtool, "check-config", "am.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    hooks = cfg["receivers"][0]["webhook_configs"]
    assert [h["url"] for h in hooks] == ["http://127.0.0.1:8765/hooks/alertmanager", "http://127.0.0.1:9999/"]
    assert cfg["route"]["group_wait"] == cfg["route"]["group_interval"] == "1s"
    assert cfg["route"]["repeat_interval"] == "1h"


def test_cpu_threshold_sits_between_idle_and_burning() -> None:
    assert 0.05 < CPU_THRESHOLD < 0.5


def test_parse_exposition() -> None:
    text = (
        "# HELP x y\n# TYPE x counter\n"
        'alertmanager_notification_requests_total{integration="webhook"} 4\n'
        "up 1\nbad line\nnan_metric NaN\n"
    )
    got = parse_exposition(text)
    assert got['alertmanager_notification_requests_total{integration="webhook"}'] == 4
    assert got["up"] == 1
    assert "bad" not in got


def test_missing_binary_names_the_package_and_starts_nothing(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path, "http://127.0.0.1:1/hook", prometheus_bin="/nonexistent/prometheus-xyz")
    with pytest.raises(ConfigError, match="Debian package `prometheus`") as e:
        target.start()
    assert "apt-get install prometheus" in str(e.value)
    assert not (tmp_path / "app").exists()  # checked before any process started
    target = LocalTarget(tmp_path, "http://127.0.0.1:1/hook", alertmanager_bin="/nonexistent/am-xyz")
    with pytest.raises(ConfigError, match="prometheus-alertmanager"):
        target.start()


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(BackendError, match="webhook URL"):
        LocalTarget(Path("/tmp/x"), "127.0.0.1:8765/hooks")
