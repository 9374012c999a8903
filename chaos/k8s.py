"""Fault injection on a Kubernetes cluster through ``kubectl``.

``K8sInjector(namespace="shop")`` builds and runs exact kubectl commands:

- ``delete_pod(name)`` / ``delete_pod(selector="app=payments")``: ``kubectl delete pod ...``
  (the controller recreates it: a crash);
- ``scale_to_zero("payments")``: remembers the replica count, then
  ``kubectl scale deployment/payments --replicas=0``;
- ``bad_image("payments", "payments")``: ``kubectl set image deployment/payments
  payments=nonexistent.invalid/none:0`` (pods fail to pull: a bad deploy).

``heal()`` undoes what can be undone, newest first (scale back, ``rollout undo``).
With ``dry_run=True`` nothing is executed (kubectl need not even be installed):
every method returns the command it would run. ``kubectl_dry_run=True`` runs
kubectl with its own ``--dry-run=client`` instead. Arguments are passed as an
argv list, never through a shell, and names are checked before use.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chaos.faults import FaultKind
from chaos.scenarios import Scenario
from core.errors import BackendError, BackendTimeout, ConfigError, InputError

BAD_IMAGE = "nonexistent.invalid/none:0"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def _label(value: str, what: str) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
        raise InputError(f"{what} {value!r} is not a valid Kubernetes name (lowercase letters, digits, '-', max 63)")
    return value


def _subdomain(value: str, what: str) -> str:
    if not isinstance(value, str) or len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise InputError(f"{what} {value!r} is not a valid Kubernetes name (lowercase letters, digits, '-', '.')")
    return value


@dataclass(frozen=True)
class KubectlResult:
    """One kubectl command: its argv, whether it ran, and what it printed."""

    argv: tuple[str, ...]
    executed: bool
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def command_line(self) -> str:
        """The command as a shell-quoted line, to print or paste."""
        return shlex.join(self.argv)


@dataclass
class _Undo:
    what: str
    run: Callable[[], KubectlResult]


@dataclass
class K8sInjector:
    """Builds and runs kubectl commands that break (and heal) workloads in one namespace."""

    namespace: str
    kubectl: str = "kubectl"
    context: str | None = None
    dry_run: bool = False
    kubectl_dry_run: bool = False
    timeout_s: float = 30.0
    history: list[KubectlResult] = field(default_factory=list)
    _undo: list[_Undo] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        _label(self.namespace, "namespace")
        if self.context is not None and (not self.context.strip() or any(c.isspace() for c in self.context)):
            raise InputError(f"kubectl context {self.context!r} must be a non-empty name without spaces")
        if self.timeout_s <= 0:
            raise InputError(f"kubectl timeout must be positive, got {self.timeout_s}")

    # ---- argv
    def base_argv(self) -> list[str]:
        argv = [self.kubectl]
        if self.context:
            argv += ["--context", self.context]
        return [*argv, "--namespace", self.namespace]

    def _mutating(self, *args: str) -> list[str]:
        argv = [*self.base_argv(), *args]
        return [*argv, "--dry-run=client"] if self.kubectl_dry_run else argv

    def delete_pod_argv(self, name: str | None = None, *, selector: str | None = None) -> list[str]:
        if (name is None) == (selector is None):
            raise InputError("delete_pod needs exactly one of a pod name or a label selector")
        if name is not None:
            target = [_subdomain(name, "pod name")]
        else:
            assert selector is not None
            if not selector.strip() or "\n" in selector:
                raise InputError(f"label selector {selector!r} is empty or spans lines")
            target = ["--selector", selector.strip()]
        return self._mutating("delete", "pod", *target, "--wait=false")

    def scale_argv(self, deployment: str, replicas: int) -> list[str]:
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise InputError(f"replicas must be a non-negative integer, got {replicas!r}")
        return self._mutating("scale", f"deployment/{_subdomain(deployment, 'deployment')}", f"--replicas={replicas}")

    def set_image_argv(self, deployment: str, container: str, image: str) -> list[str]:
        if not image or any(c.isspace() for c in image):
            raise InputError(f"image {image!r} must be a non-empty reference without spaces")
        dep = _subdomain(deployment, "deployment")
        return self._mutating("set", "image", f"deployment/{dep}", f"{_label(container, 'container')}={image}")

    def rollout_undo_argv(self, deployment: str) -> list[str]:
        return self._mutating("rollout", "undo", f"deployment/{_subdomain(deployment, 'deployment')}")

    def replicas_argv(self, deployment: str) -> list[str]:
        dep = _subdomain(deployment, "deployment")
        return [*self.base_argv(), "get", f"deployment/{dep}", "-o", "jsonpath={.spec.replicas}"]

    # ---- running
    def run(self, argv: Sequence[str], *, record: bool = True) -> KubectlResult:
        """Run one kubectl command (or, with dry_run, only record it). Raises on failure."""
        result = KubectlResult(tuple(argv), executed=False) if self.dry_run else self._execute(argv)
        if record:
            self.history.append(result)
        return result

    def _execute(self, argv: Sequence[str]) -> KubectlResult:
        exe = shutil.which(argv[0])
        if exe is None:
            raise ConfigError(
                f"kubectl not found (looked for {argv[0]!r})",
                hint="install kubectl, pass --kubectl PATH, or use --dry-run to print the commands",
            )
        verb = " ".join(a for a in argv[1:4] if not a.startswith("-"))
        try:
            proc = subprocess.run(
                [exe, *argv[1:]], capture_output=True, text=True, timeout=self.timeout_s, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as e:
            raise BackendTimeout(
                f"kubectl {verb} did not finish within {self.timeout_s:g}s: {shlex.join(argv)}",
                backend="kubectl",
                hint="is the cluster reachable? check `kubectl cluster-info`",
            ) from e
        except OSError as e:
            raise ConfigError(f"cannot run kubectl ({exe}): {e}") from e
        result = KubectlResult(tuple(argv), True, proc.returncode, proc.stdout, proc.stderr)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise BackendError(
                f"kubectl failed (exit {proc.returncode}): {shlex.join(argv)}: {detail[-1] if detail else 'no output'}",
                backend="kubectl",
            )
        return result

    # ---- faults
    def delete_pod(self, name: str | None = None, *, selector: str | None = None) -> KubectlResult:
        """Delete a pod by name or every pod matching a label selector; its controller starts new ones."""
        return self.run(self.delete_pod_argv(name, selector=selector))

    def scale_to_zero(self, deployment: str, *, restore_replicas: int | None = None) -> KubectlResult:
        """Scale a deployment to 0 replicas; `heal()` scales it back to `restore_replicas`, or to the
        count read from the cluster first (1 in a dry run, where nothing is read)."""
        scale = self.scale_argv(deployment, 0)
        previous = 1 if restore_replicas is None else restore_replicas
        if restore_replicas is None and not self.dry_run:
            out = self.run(self.replicas_argv(deployment), record=False).stdout.strip()
            if not out.isdigit():
                raise BackendError(f"kubectl: deployment/{deployment} replicas unreadable: {out!r}", backend="kubectl")
            previous = int(out)
        result = self.run(scale)
        back = self.scale_argv(deployment, previous)
        self._undo.append(_Undo(f"scale deployment/{deployment} back to {previous}", lambda: self.run(back)))
        return result

    def bad_image(self, deployment: str, container: str, image: str = BAD_IMAGE) -> KubectlResult:
        """Point a deployment's container at an image that cannot be pulled; `heal()` rolls back."""
        result = self.run(self.set_image_argv(deployment, container, image))
        undo = self.rollout_undo_argv(deployment)
        self._undo.append(_Undo(f"rollout undo deployment/{deployment}", lambda: self.run(undo)))
        return result

    def heal(self) -> list[KubectlResult]:
        """Undo every fault that can be undone, newest first (a deleted pod is replaced by its controller)."""
        results = []
        while self._undo:
            results.append(self._undo.pop().run())
        return results


#: scenario fault kinds that have a kubectl equivalent
K8S_FAULTS = (FaultKind.CRASH_LOOP, FaultKind.DEPENDENCY_DOWN, FaultKind.BAD_DEPLOY)


def inject_scenario(
    injector: K8sInjector, scenario: Scenario, *, target: str | None = None, app_label: str = "app"
) -> KubectlResult:
    """Do a scenario's fault on the cluster: crash_loop → delete its pods, dependency_down →
    scale to zero, bad_deploy → unpullable image. The deployment (and container) is named
    like the scenario's target unless `target` says otherwise."""
    name = target or scenario.fault.target
    kind = scenario.fault.kind
    if kind == FaultKind.CRASH_LOOP:
        return injector.delete_pod(selector=f"{app_label}={_label(name, 'target')}")
    if kind == FaultKind.DEPENDENCY_DOWN:
        return injector.scale_to_zero(name)
    if kind == FaultKind.BAD_DEPLOY:
        return injector.bad_image(name, _label(name, "container"))
    raise InputError(
        f"scenario '{scenario.name}': fault kind '{kind}' cannot be injected through kubectl",
        hint=f"kubectl faults exist for: {', '.join(k.value for k in K8S_FAULTS)}",
    )
