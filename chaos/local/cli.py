"""The bodies of `sherlog chaos run ... --target local|k8s`, kept here so `chaos/cli.py` only
parses options and dispatches.

- ``run_local_command``: runs :func:`chaos.local.run.run_local` against a running Sherlog
  (``sherlog serve``; URL and ingest token from Settings unless given), shows progress,
  then what was injected, when the alert was delivered, and Sherlog's answer when its
  auto-investigation record (``GET /investigations``) has one.
- ``run_k8s_command``: does a scenario's fault through kubectl (or prints the commands
  with ``dry_run``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from chaos.k8s import K8sInjector, KubectlResult, inject_scenario
from chaos.local.run import LocalRunResult, resolve_fault, run_local
from chaos.scenarios import load_scenario
from core.settings import Settings

INVESTIGATIONS = "/investigations"


def sherlog_url_from(settings: Settings) -> str:
    """Where `sherlog serve` listens, from Settings (0.0.0.0 / :: are reached on loopback)."""
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{settings.server.port}"


class AnswerWatch:
    """A `wait_for` for run_local: true once Sherlog recorded an investigation about `service`.

    Sherlog without an auto-investigation record (404) has nothing to wait for: the run ends
    at delivery and `supported` says so.
    """

    def __init__(self, sherlog_url: str, service: str, token: str | None = None) -> None:
        self.url = sherlog_url.rstrip("/") + INVESTIGATIONS
        self.service = service
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.supported: bool | None = None
        self.found: dict[str, Any] | None = None

    def __call__(self, _: LocalRunResult) -> bool:
        try:
            r = httpx.get(self.url, headers=self.headers, timeout=5.0)
        except httpx.HTTPError:
            return False  # Sherlog busy or restarting: ask again
        if r.status_code == 404:
            self.supported = False
            return True
        if r.status_code != 200:
            return False
        self.supported = True
        for item in r.json().get("investigations") or []:
            labels = (item.get("trigger") or {}).get("labels") or {}
            if labels.get("service") == self.service and item.get("answer"):
                self.found = item
                return True
        return False


def run_local_command(
    what: str,
    *,
    settings: Settings,
    sherlog_url: str | None = None,
    workdir: Path | None = None,
    service: str | None = None,
    console: Console | None = None,
    answer_timeout_s: float = 90.0,
) -> LocalRunResult:
    """`sherlog chaos run WHAT --target local [--service S] [--sherlog-url U] [--workdir D]`."""
    out = console or Console()
    url = sherlog_url or sherlog_url_from(settings)
    token = settings.server.ingest_token.get_secret_value() if settings.server.ingest_token else None
    spec = resolve_fault(what, target=service)
    if workdir is None:
        workdir = settings.data_dir / "chaos" / f"local-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    watch = AnswerWatch(url, spec.target, token)
    say: Callable[[str], None] = lambda msg: out.print(f"[dim]{datetime.now():%H:%M:%S}[/] {msg}")  # noqa: E731
    result = run_local(
        spec,
        sherlog_url=url,
        workdir=workdir,
        token=token,
        wait_for=watch,
        wait_for_timeout_s=answer_timeout_s,
        progress=say,
    )
    t = Table(title=f"chaos run --target local: {spec.scenario or what}")
    t.add_column("what")
    t.add_column("value")
    t.add_row("injected", result.description)
    t.add_row("alert", f"{spec.alertname} on {spec.target}")
    t.add_row("delivered after", f"{result.seconds_to_delivery:.1f}s" if result.seconds_to_delivery else "-")
    t.add_row("webhook", result.webhook_url)
    if result.feed:
        f = result.feed
        t.add_row("fed to Sherlog", f"{f.log_events} log and {f.metric_events} metric events, {f.rejected} rejected")
    t.add_row("workdir", str(result.workdir))
    out.print(t)
    if result.feed and result.feed.problems:
        for p in result.feed.problems[:5]:
            out.print(f"[yellow]feed problem:[/] {p}")
    if watch.found is not None:
        answer = watch.found["answer"]
        out.print(f"[bold]Sherlog:[/] {answer.get('summary', '')}")
    elif watch.supported is False:
        out.print("[yellow]this Sherlog server records no auto-investigations; ask it in chat[/]")
    else:
        out.print(f"[yellow]no answer about {spec.target} from Sherlog within {answer_timeout_s:g}s[/]")
    return result


def run_k8s_command(
    scenario: str,
    *,
    namespace: str,
    context: str | None = None,
    service: str | None = None,
    dry_run: bool = False,
    kubectl_dry_run: bool = False,
    kubectl: str = "kubectl",
    console: Console | None = None,
) -> list[KubectlResult]:
    """`sherlog chaos run SCENARIO --target k8s --namespace NS [--context C] [--dry-run] [--kubectl-dry-run]`."""
    out = console or Console()
    injector = K8sInjector(
        namespace=namespace, kubectl=kubectl, context=context, dry_run=dry_run, kubectl_dry_run=kubectl_dry_run
    )
    inject_scenario(injector, load_scenario(scenario), target=service)
    for r in injector.history:
        prefix = "would run" if not r.executed else "ran"
        out.print(f"{prefix}: [bold]{r.command_line}[/]")
        if r.stdout.strip():
            out.print(r.stdout.rstrip())
    return injector.history
