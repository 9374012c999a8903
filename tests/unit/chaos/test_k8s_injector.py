"""K8sInjector: the exact kubectl argv, dry runs that execute nothing, undo, and clear errors.

A stand-in `kubectl` (a script in tmp_path) records every invocation, so a test can
tell precisely what ran; the real cluster is a third-party system we do not have.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chaos.k8s import BAD_IMAGE, K8sInjector, inject_scenario
from chaos.scenarios import load_scenario
from core.errors import BackendError, BackendTimeout, ConfigError, InputError


def _fake_kubectl(
    tmp_path: Path, *, replicas: str = "3", exit_code: int = 0, stderr: str = "", sleep: float = 0
) -> Path:
    """A kubectl that appends its argv (JSON) to calls.jsonl, prints `replicas` for `get`, exits `exit_code`."""
    script = tmp_path / "kubectl"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        f"with open({str(tmp_path / 'calls.jsonl')!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"time.sleep({sleep})\n"
        f"if 'get' in sys.argv: print({replicas!r})\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return script


def _calls(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_argv_for_each_fault_is_exact() -> None:
    k = K8sInjector(namespace="shop", context="prod-eu")
    base = ["kubectl", "--context", "prod-eu", "--namespace", "shop"]
    assert k.delete_pod_argv("payments-7d9f-abcde") == [*base, "delete", "pod", "payments-7d9f-abcde", "--wait=false"]
    assert k.delete_pod_argv(selector="app=payments") == [
        *base,
        "delete",
        "pod",
        "--selector",
        "app=payments",
        "--wait=false",
    ]
    assert k.scale_argv("payments", 0) == [*base, "scale", "deployment/payments", "--replicas=0"]
    assert k.set_image_argv("payments", "server", BAD_IMAGE) == [
        *base,
        "set",
        "image",
        "deployment/payments",
        f"server={BAD_IMAGE}",
    ]
    assert k.rollout_undo_argv("payments") == [*base, "rollout", "undo", "deployment/payments"]
    assert k.replicas_argv("payments") == [*base, "get", "deployment/payments", "-o", "jsonpath={.spec.replicas}"]


def test_kubectl_dry_run_flag_goes_on_mutating_commands_only() -> None:
    k = K8sInjector(namespace="shop", kubectl_dry_run=True)
    assert k.scale_argv("payments", 0)[-1] == "--dry-run=client"
    assert k.delete_pod_argv("p-1")[-1] == "--dry-run=client"
    assert k.set_image_argv("payments", "payments", BAD_IMAGE)[-1] == "--dry-run=client"
    assert "--dry-run=client" not in k.replicas_argv("payments")  # a read stays a read
    assert "--context" not in k.base_argv()


def test_dry_run_executes_nothing(tmp_path: Path) -> None:
    script = _fake_kubectl(tmp_path)
    k = K8sInjector(namespace="shop", kubectl=str(script), dry_run=True)
    results = [
        k.delete_pod(selector="app=currency"),
        k.scale_to_zero("redis-cart"),
        k.bad_image("payments", "payments"),
    ]
    healed = k.heal()
    assert _calls(tmp_path) == []  # the stand-in kubectl was never started
    assert all(not r.executed and r.returncode is None for r in results + healed)
    assert [r.argv[3:5] for r in results] == [("delete", "pod"), ("scale", "deployment/redis-cart"), ("set", "image")]
    # heal runs newest first: roll back the image, then scale back up
    assert [r.argv[3:6] for r in healed] == [
        ("rollout", "undo", "deployment/payments"),
        ("scale", "deployment/redis-cart", "--replicas=1"),
    ]
    assert results[2].command_line == f"{script} --namespace shop set image deployment/payments payments={BAD_IMAGE}"
    assert len(k.history) == 5


def test_dry_run_needs_no_kubectl_installed() -> None:
    k = K8sInjector(namespace="shop", kubectl="/nonexistent/kubectl", dry_run=True)
    assert k.delete_pod("p-1").argv[0] == "/nonexistent/kubectl"


def test_real_run_reads_replicas_and_heal_restores_them(tmp_path: Path) -> None:
    script = _fake_kubectl(tmp_path, replicas="3")
    k = K8sInjector(namespace="shop", kubectl=str(script))
    r = k.scale_to_zero("payments")
    assert r.executed and r.returncode == 0
    k.bad_image("payments", "payments")
    k.heal()
    assert _calls(tmp_path) == [
        ["--namespace", "shop", "get", "deployment/payments", "-o", "jsonpath={.spec.replicas}"],
        ["--namespace", "shop", "scale", "deployment/payments", "--replicas=0"],
        ["--namespace", "shop", "set", "image", "deployment/payments", f"payments={BAD_IMAGE}"],
        ["--namespace", "shop", "rollout", "undo", "deployment/payments"],
        ["--namespace", "shop", "scale", "deployment/payments", "--replicas=3"],
    ]
    assert k.heal() == []  # nothing left to undo


def test_kubectl_dry_run_reaches_kubectl(tmp_path: Path) -> None:
    script = _fake_kubectl(tmp_path)
    K8sInjector(namespace="shop", kubectl=str(script), kubectl_dry_run=True).delete_pod("p-1")
    assert _calls(tmp_path) == [["--namespace", "shop", "delete", "pod", "p-1", "--wait=false", "--dry-run=client"]]


def test_missing_kubectl_is_a_config_error() -> None:
    k = K8sInjector(namespace="shop", kubectl="/nonexistent/kubectl")
    with pytest.raises(ConfigError, match="kubectl not found"):
        k.delete_pod("p-1")


def test_kubectl_failure_names_the_command_and_its_error(tmp_path: Path) -> None:
    script = _fake_kubectl(
        tmp_path, exit_code=1, stderr='Error from server (NotFound): deployments.apps "nope" not found\n'
    )
    k = K8sInjector(namespace="shop", kubectl=str(script))
    with pytest.raises(BackendError, match=r'exit 1\).*set image deployment/nope.*"nope" not found'):
        k.bad_image("nope", "nope")
    assert k.heal() == []  # a failed injection leaves nothing to undo


def test_unreadable_replica_count_is_an_error(tmp_path: Path) -> None:
    script = _fake_kubectl(tmp_path, replicas="")
    with pytest.raises(BackendError, match="replicas unreadable"):
        K8sInjector(namespace="shop", kubectl=str(script)).scale_to_zero("payments")
    assert all("scale" not in c for c in _calls(tmp_path))  # never scaled blind


def test_timeout_is_reported(tmp_path: Path) -> None:
    script = _fake_kubectl(tmp_path, sleep=5)
    with pytest.raises(BackendTimeout, match=r"did not finish within 0\.5s"):
        K8sInjector(namespace="shop", kubectl=str(script), timeout_s=0.5).delete_pod("p-1")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda k: k.delete_pod("Payments"), "pod name 'Payments'"),
        (lambda k: k.delete_pod(), "exactly one"),
        (lambda k: k.delete_pod("p", selector="app=p"), "exactly one"),
        (lambda k: k.delete_pod(selector="  "), "selector"),
        (lambda k: k.scale_to_zero("../etc"), "deployment '../etc'"),
        (lambda k: k.scale_argv("payments", -1), "non-negative"),
        (lambda k: k.bad_image("payments", "a b"), "container 'a b'"),
        (lambda k: k.bad_image("payments", "payments", image=""), "image ''"),
    ],
)
def test_bad_names_are_refused_before_running(tmp_path: Path, call, message: str) -> None:
    script = _fake_kubectl(tmp_path)
    with pytest.raises(InputError, match=message):
        call(K8sInjector(namespace="shop", kubectl=str(script)))
    assert _calls(tmp_path) == []


def test_bad_namespace_or_context() -> None:
    with pytest.raises(InputError, match="namespace 'Shop'"):
        K8sInjector(namespace="Shop")
    with pytest.raises(InputError, match="context"):
        K8sInjector(namespace="shop", context="a b")


def test_scenarios_map_to_kubectl_faults() -> None:
    k = K8sInjector(namespace="boutique", dry_run=True)
    crash = inject_scenario(k, load_scenario("currency-crashloop"))
    assert crash.argv[3:] == ("delete", "pod", "--selector", "app=currency", "--wait=false")
    down = inject_scenario(k, load_scenario("cart-redis-down"))
    assert down.argv[3:] == ("scale", "deployment/redis-cart", "--replicas=0")
    deploy = inject_scenario(k, load_scenario("payments-bad-deploy"), target="payments-v2")
    assert deploy.argv[3:] == ("set", "image", "deployment/payments-v2", f"payments-v2={BAD_IMAGE}")
    with pytest.raises(InputError, match="cannot be injected through kubectl"):
        inject_scenario(k, load_scenario("catalog-cpu-hog"))
