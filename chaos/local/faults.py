"""Real fault injectors for the demo app; each one is undone by ``heal()``.

| kind        | what really happens                                        | alert it trips   |
|-------------|------------------------------------------------------------|------------------|
| `kill`      | SIGKILL to the service's process group                     | ServiceDown      |
| `cpu_burn`  | a busy-loop thread inside the service                      | HighCPUUsage     |
| `latency`   | every request sleeps `ms` longer                           | HighLatencyP99   |
| `errors`    | a share `rate` of requests fail with HTTP 500              | HighErrorRate    |
| `disk_fill` | a file of `bytes` zeros in the service's sandbox directory | DiskAlmostFull   |

``heal()`` restarts a killed service on its port, and switches the others off
(the filler file is deleted). Disk fills are bounded and stay in the sandbox.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from chaos.local import sandbox
from chaos.local.app import DemoApp
from chaos.local.procs import poll
from core.errors import InputError


class LocalFaultKind(StrEnum):
    KILL = "kill"
    CPU_BURN = "cpu_burn"
    LATENCY = "latency"
    ERRORS = "errors"
    DISK_FILL = "disk_fill"


#: the alert each fault trips on its target (see chaos.local.stack.alert_rules)
EXPECTED_ALERT: dict[LocalFaultKind, str] = {
    LocalFaultKind.KILL: "ServiceDown",
    LocalFaultKind.CPU_BURN: "HighCPUUsage",
    LocalFaultKind.LATENCY: "HighLatencyP99",
    LocalFaultKind.ERRORS: "HighErrorRate",
    LocalFaultKind.DISK_FILL: "DiskAlmostFull",
}


def _num(params: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    v = params.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= float(v) <= hi:
        raise InputError(f"fault parameter '{key}' must be a number between {lo:g} and {hi:g}, got {v!r}")
    return float(v)


class Fault(ABC):
    """One injected fault on one demo service."""

    kind: ClassVar[LocalFaultKind]
    params_allowed: ClassVar[tuple[str, ...]] = ()

    def __init__(self, app: DemoApp, target: str, params: Mapping[str, Any] | None = None) -> None:
        params = dict(params or {})
        unknown = [k for k in params if k not in self.params_allowed]
        if unknown:
            allowed = ", ".join(self.params_allowed) or "none"
            raise InputError(
                f"fault '{self.kind}' has no parameter(s) {', '.join(map(repr, unknown))}; allowed: {allowed}"
            )
        if target not in app.names:
            raise InputError(f"fault target '{target}' is not a demo service; choose one of: {', '.join(app.names)}")
        self.app = app
        self.target = target
        self.params = params
        self.injected_at: datetime | None = None
        self.healed_at: datetime | None = None

    @property
    def alertname(self) -> str:
        return EXPECTED_ALERT[self.kind]

    def inject(self) -> None:
        self._inject()
        self.injected_at = datetime.now(UTC)

    def heal(self) -> None:
        """Undo the fault; a no-op when it was never injected or is already healed."""
        if self.injected_at is None or self.healed_at is not None:
            return
        self._heal()
        self.healed_at = datetime.now(UTC)

    @abstractmethod
    def _inject(self) -> None: ...

    @abstractmethod
    def _heal(self) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """One line saying what was done, for reports and logs."""


class KillProcess(Fault):
    """SIGKILL the service (its whole process group); heal starts it again on the same port."""

    kind = LocalFaultKind.KILL

    def __init__(self, app: DemoApp, target: str, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(app, target, params)
        self.pid: int | None = None

    def _inject(self) -> None:
        proc = self.app.process(self.target)
        self.pid = proc.pid
        proc.signal(signal.SIGKILL)
        poll(lambda: not proc.alive, timeout=10, what=f"{self.target} (pid {self.pid}) to die", interval=0.05)

    def _heal(self) -> None:
        self.app.restart(self.target)

    def describe(self) -> str:
        return f"killed {self.target} (pid {self.pid}) with SIGKILL"


class BurnCpu(Fault):
    """A busy-loop thread in the service, `duty` of one core."""

    kind = LocalFaultKind.CPU_BURN
    params_allowed = ("duty",)

    def _inject(self) -> None:
        self.app.set_fault(self.target, cpu_burn=True, cpu_duty=_num(self.params, "duty", 0.9, 0.05, 1))

    def _heal(self) -> None:
        self.app.set_fault(self.target, cpu_burn=False)

    def describe(self) -> str:
        return f"burning {_num(self.params, 'duty', 0.9, 0.05, 1):.0%} of a core in {self.target}"


class AddLatency(Fault):
    """Every request to the service takes `ms` milliseconds longer."""

    kind = LocalFaultKind.LATENCY
    params_allowed = ("ms",)

    def _inject(self) -> None:
        self.app.set_fault(self.target, latency_ms=_num(self.params, "ms", 800, 1, 30_000))

    def _heal(self) -> None:
        self.app.set_fault(self.target, latency_ms=0)

    def describe(self) -> str:
        return f"added {_num(self.params, 'ms', 800, 1, 30_000):g} ms to every request of {self.target}"


class ToggleErrors(Fault):
    """A share `rate` of the service's requests fail with HTTP 500 (and log `message`)."""

    kind = LocalFaultKind.ERRORS
    params_allowed = ("rate", "message")

    def _inject(self) -> None:
        body: dict[str, Any] = {"error_rate": _num(self.params, "rate", 0.6, 0.01, 1)}
        if "message" in self.params:
            body["error_message"] = self.params["message"]
        self.app.set_fault(self.target, **body)

    def _heal(self) -> None:
        self.app.set_fault(self.target, error_rate=0)

    def describe(self) -> str:
        return f"made {_num(self.params, 'rate', 0.6, 0.01, 1):.0%} of {self.target}'s requests fail with HTTP 500"


class FillDisk(Fault):
    """Write `bytes` (default: the whole quota) into the service's sandbox; heal deletes the file."""

    kind = LocalFaultKind.DISK_FILL
    params_allowed = ("bytes", "path")

    def __init__(self, app: DemoApp, target: str, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(app, target, params)
        nbytes = self.params.get("bytes", app.disk_quota_bytes)
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or not 0 < nbytes <= sandbox.MAX_FILL_BYTES:
            raise InputError(f"disk_fill 'bytes' must be an integer in 1..{sandbox.MAX_FILL_BYTES}, got {nbytes!r}")
        self.nbytes = nbytes
        self.relpath = str(self.params.get("path", "filler.bin"))
        root = app.sandbox(target)
        # both checks before anything is written: the sandbox is under the app's workdir,
        # and the file is inside the sandbox
        if not root.resolve().is_relative_to(app.workdir.resolve()):
            raise InputError(f"sandbox {root} is outside the demo app's workdir {app.workdir}")
        self.path = sandbox.inside(root, self.relpath)

    def _inject(self) -> None:
        self.app.set_fault(self.target, disk_fill={"path": self.relpath, "bytes": self.nbytes})

    def _heal(self) -> None:
        self.app.set_fault(self.target, disk_fill=None)

    def describe(self) -> str:
        return f"filled {self.target}'s data directory with {self.nbytes} bytes ({self.path})"


FAULTS: dict[LocalFaultKind, type[Fault]] = {
    f.kind: f for f in (KillProcess, BurnCpu, AddLatency, ToggleErrors, FillDisk)
}


def make_fault(app: DemoApp, kind: LocalFaultKind | str, target: str, params: Mapping[str, Any] | None = None) -> Fault:
    """The injector for `kind` on `target`; InputError naming what is wrong otherwise."""
    try:
        k = LocalFaultKind(kind)
    except ValueError as e:
        known = ", ".join(k.value for k in LocalFaultKind)
        raise InputError(f"unknown local fault kind '{kind}'; known: {known}") from e
    return FAULTS[k](app, target, params)
