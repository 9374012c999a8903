"""Child processes for the local target: each in its own process group, its output in a
log file, readiness polled over HTTP (never a fixed sleep), stopped group-wide.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from core.errors import BackendTimeout, BackendUnavailable, ConfigError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def require_binary(path: str, apt_package: str) -> str:
    """The executable at `path` (or of that name on PATH), else a ConfigError naming the package."""
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(Path(path).name)
    if found:
        return found
    raise ConfigError(
        f"{path} not found: the local chaos target needs the Debian package `{apt_package}`",
        hint=f"sudo apt-get install {apt_package}",
    )


def poll(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2) -> None:
    """Call `check` until it returns True; BackendTimeout naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() >= deadline:
            raise BackendTimeout(f"{what}: not reached after {timeout:g}s", backend="chaos-local")
        time.sleep(interval)


class ManagedProcess:
    """A child process in its own session, so a stop reaches everything it spawned."""

    def __init__(self, name: str, argv: Sequence[str], *, log_file: Path, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        if self.alive:
            return self
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            try:
                self.proc = subprocess.Popen(
                    self.argv,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as e:
                raise BackendUnavailable(f"cannot start {self.name} ({self.argv[0]}): {e}", backend=self.name) from e
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def signal(self, sig: int) -> None:
        """Send `sig` to the whole process group."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the group, wait, then SIGKILL whatever is left; reaps the child."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        # children of a process that died first may linger in its group
        self.signal(signal.SIGKILL)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_http_ok(proc: ManagedProcess, url: str, *, timeout: float = 30.0) -> None:
    """Poll `url` until it answers 200; fail fast (with the log tail) if the process exits."""

    def ready() -> bool:
        if not proc.alive:
            raise BackendUnavailable(
                f"{proc.name} exited with code {proc.returncode} while starting; its log ends:\n{proc.log_tail()}",
                backend=proc.name,
            )
        try:
            return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        poll(ready, timeout=timeout, what=f"{proc.name} ready at {url}", interval=0.1)
    except BackendTimeout as e:
        raise BackendTimeout(f"{e.message}; its log ends:\n{proc.log_tail()}", backend=proc.name) from e
