"""Post a finished weekly report to chat, at most once per (week, destination).

Publishers
----------
`Publisher` is the small protocol a destination implements: a `destination` string
("slack:#sre", "discord:1234") and `publish(report, files)`. Two implementations use the
chat SDKs / REST APIs directly (the bot package may wrap its own adapters the same way):

- `SlackPublisher`: `chat.postMessage` with a Block Kit summary, then the three charts
  through `files_upload_v2` (getUploadURLExternal → upload → completeUploadExternal)
  into the summary's thread, so the summary and its charts stay together;
- `DiscordPublisher`: one `POST /channels/{id}/messages` carrying an embed (the
  incidents chart as its image) and the three PNGs as attachments.

`publish` raises a Sherlog error only when *nothing* reached the channel; when the
summary went out but the charts did not, it returns normally with a warning, because
posting the summary again would duplicate it.

No double post: claim, then post
--------------------------------
`post_report` claims each destination with `RelationalStore.record_report("weekly",
week, destination)` *before* posting: the unique (kind, period, posted_to) row is an
atomic claim, so two schedulers (or a restarted one, or a scheduler racing the CLI)
cannot both post. The crash windows are:

1. after the claim, before the chat API accepted the post: the report is *not* posted
   (at most once). The claim row stays without a `path` ("unconfirmed"); the next attempt
   says so and `sherlog report weekly --week W --post --force` posts it.
2. after the API accepted, before the claim was confirmed: posted once, never again.

A publisher error (the API refused, the network is down) releases the claim, so the
next scheduled run or a manual `--post` retries. Claim-first was chosen over
post-then-record because a duplicate in a team channel is noise we cannot take back,
while a missed post is visible (an unconfirmed claim) and fixable with one command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlmodel import select

from core.db.store import RelationalStore
from core.db.tables import ReportRecord
from core.errors import BackendError, BackendUnavailable, ConfigError, SherlogError
from core.settings import Settings
from reports.markdown import (
    ReportFiles,
    fmt_delta_count,
    fmt_delta_duration,
    fmt_duration,
    fmt_pct,
)
from reports.report import WeeklyReport

log = logging.getLogger(__name__)

REPORT_KIND = "weekly"
DISCORD_API = "https://discord.com/api/v10"
_CHART_TITLES = {
    "incidents_per_day": "Incidents per day by severity",
    "mttr_trend": "MTTR trend (8 weeks)",
    "slo_budget": "SLO error budget remaining",
}


@dataclass(frozen=True)
class PublishResult:
    """Where the report landed (message ts / id) and anything that went only partly well."""

    ref: str
    warnings: tuple[str, ...] = ()


class Publisher(Protocol):
    """A chat destination for a finished weekly report."""

    @property
    def destination(self) -> str:
        """Stable name of the destination, used as the no-double-post key, e.g. "slack:#sre"."""
        ...

    def publish(self, report: WeeklyReport, files: ReportFiles) -> PublishResult:
        """Post it; raise a SherlogError only when nothing was posted."""
        ...


# ---------------------------------------------------------------------------- shared text


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline_fields(report: WeeklyReport) -> list[tuple[str, str]]:
    """(label, value) pairs both chat renderings show."""
    cur, dl, prev = report.current, report.deltas, report.previous.week.label
    ch = cur.changes
    return [
        ("Incidents", f"{cur.total} ({fmt_delta_count(dl.incidents)} vs {prev})"),
        ("MTTA median", f"{fmt_duration(cur.mtta.median)} ({fmt_delta_duration(dl.mtta_median_s)})"),
        (
            "MTTR median / p90",
            f"{fmt_duration(cur.mttr.median)} / {fmt_duration(cur.mttr.p90)} ({fmt_delta_duration(dl.mttr_median_s)})",
        ),
        ("Open at week end", f"{len(cur.open_at_end)} ({fmt_delta_count(dl.open_at_end)})"),
        ("Firing alerts", f"{cur.alerts.total} ({fmt_delta_count(dl.alerts)})"),
        ("Change-failure rate", f"{ch.failed} of {ch.changes} changes ({fmt_pct(ch.failure_rate)})"),
    ]


def severity_line(report: WeeklyReport) -> str:
    return " · ".join(f"SEV{s} {n}" for s, n in report.current.by_severity.items())


def alert_lines(report: WeeklyReport, n: int = 5) -> list[str]:
    return [f"{k}. {name} ×{count}" for k, (name, count) in enumerate(report.current.alerts.top[:n], 1)]


def slo_lines(report: WeeklyReport) -> list[str]:
    out = []
    for s in report.slos:
        if s.achieved is None:
            out.append(f"• {s.name}: no data")
            continue
        mark = "✅" if s.budget.met else "🔥"
        out.append(
            f"{mark} {s.name}: {fmt_pct(s.achieved, 3)} (objective {fmt_pct(s.objective, 2)}), "
            f"budget remaining {fmt_pct(s.budget.remaining, 0)}"
        )
    return out


def fallback_text(report: WeeklyReport) -> str:
    cur = report.current
    return (
        f"Weekly reliability report {report.week.label}: {cur.total} incidents, "
        f"MTTR median {fmt_duration(cur.mttr.median)}, {len(cur.open_at_end)} open, {cur.alerts.total} firing alerts"
    )


# ---------------------------------------------------------------------------- Slack


def slack_blocks(report: WeeklyReport) -> list[dict[str, Any]]:
    """The Block Kit summary (headline fields, severities, noisiest alerts, SLOs, caveats)."""

    def md(text: str) -> dict[str, Any]:
        return {"type": "mrkdwn", "text": _truncate(text, 2000)}

    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _truncate(f"Weekly reliability report — {report.week.label}", 150)},
        },
        {"type": "context", "elements": [md(report.week.describe())]},
        {"type": "section", "fields": [md(f"*{k}*\n{v}") for k, v in headline_fields(report)]},
        {"type": "section", "text": md(f"*By severity:* {severity_line(report)}")},
    ]
    if report.current.alerts.top:
        blocks.append({"type": "section", "text": md("*Noisiest alerts*\n" + "\n".join(alert_lines(report)))})
    if report.slos:
        blocks.append({"type": "section", "text": md("*SLOs*\n" + "\n".join(slo_lines(report)))})
    if report.caveats:
        blocks.append({"type": "context", "elements": [md("⚠ " + c) for c in report.caveats[:10]]})
    blocks.append({"type": "context", "elements": [md("Charts in the thread ↓")]})
    return blocks


class SlackPublisher:
    """Posts the summary with chat.postMessage and uploads the charts into its thread."""

    def __init__(self, token: str, channel: str, *, base_url: str = "https://slack.com/api/", timeout: int = 30):
        self.channel = channel
        self.client = WebClient(token=token, base_url=base_url, timeout=timeout)

    @property
    def destination(self) -> str:
        return f"slack:{self.channel}"

    def publish(self, report: WeeklyReport, files: ReportFiles) -> PublishResult:
        try:
            resp = self.client.chat_postMessage(
                channel=self.channel, text=fallback_text(report), blocks=slack_blocks(report), unfurl_links=False
            )
        except SlackApiError as e:
            err = e.response.get("error", "unknown_error") if e.response is not None else "unknown_error"
            raise BackendError(
                f"Slack refused chat.postMessage to {self.channel}: {err}",
                backend="slack",
                hint="check slack.bot_token, that the bot is in the channel and has chat:write and files:write",
            ) from e
        except (SlackClientError, OSError) as e:
            raise BackendUnavailable(f"cannot reach the Slack API: {e}", backend="slack") from e
        # chat.postMessage answers with the channel *id*, which file uploads require (a #name is refused there)
        channel_id, ts = str(resp["channel"]), str(resp["ts"])
        uploads = [
            {"file": str(p), "filename": p.name, "title": _CHART_TITLES[key], "alt_txt": _CHART_TITLES[key]}
            for key, p in zip(_CHART_TITLES, files.charts.all(), strict=True)
        ]
        try:
            self.client.files_upload_v2(
                file_uploads=uploads,
                channel=channel_id,
                thread_ts=ts,
                initial_comment=f"Charts for {report.week.label}",
            )
        except (SlackClientError, OSError) as e:
            # the summary is already in the channel: report the missing charts, do not fail (a retry would repost)
            log.warning("weekly report %s: summary posted to %s but the chart upload failed: %s", report.week, self, e)
            return PublishResult(ts, (f"chart upload failed: {e}",))
        return PublishResult(ts)

    def __str__(self) -> str:
        return self.destination


# ---------------------------------------------------------------------------- Discord


def discord_payload(report: WeeklyReport, charts: Sequence[Path]) -> dict[str, Any]:
    """The message JSON: one embed (incidents chart as its image) and the attachment list."""
    fields = [{"name": k, "value": _truncate(v, 1024), "inline": True} for k, v in headline_fields(report)]
    fields.append({"name": "By severity", "value": severity_line(report), "inline": False})
    if report.current.alerts.top:
        fields.append({"name": "Noisiest alerts", "value": _truncate("\n".join(alert_lines(report)), 1024)})
    if report.slos:
        fields.append({"name": "SLOs", "value": _truncate("\n".join(slo_lines(report)), 1024)})
    if report.caveats:
        fields.append({"name": "Caveats", "value": _truncate("\n".join(f"⚠ {c}" for c in report.caveats), 1024)})
    embed: dict[str, Any] = {
        "title": _truncate(f"Weekly reliability report — {report.week.label}", 256),
        "description": report.week.describe(),
        "color": 0xB71C1C if any(s.budget.met is False for s in report.slos) else 0x1E88E5,
        "fields": fields[:25],
        "timestamp": report.generated_at.isoformat(),
        "footer": {"text": "Sherlog weekly report · all three charts attached"},
    }
    if charts:
        embed["image"] = {"url": f"attachment://{charts[0].name}"}
    return {
        "content": fallback_text(report),
        "embeds": [embed],
        "attachments": [{"id": i, "filename": p.name} for i, p in enumerate(charts)],
        "allowed_mentions": {"parse": []},
    }


class DiscordPublisher:
    """Posts an embed plus the chart PNGs to a Discord channel through the REST API."""

    def __init__(self, token: str, channel_id: str, *, api_base: str = DISCORD_API, timeout_s: float = 30.0):
        if not channel_id.strip().isdigit():
            raise ConfigError(
                f"report.discord_channel must be a numeric Discord channel id, got {channel_id!r}",
                hint="in Discord: Settings → Advanced → Developer Mode, then right-click the channel → Copy ID",
            )
        self.channel_id = channel_id.strip()
        self.api_base = api_base.rstrip("/")
        self._token = token
        self._timeout = timeout_s

    @property
    def destination(self) -> str:
        return f"discord:{self.channel_id}"

    def publish(self, report: WeeklyReport, files: ReportFiles) -> PublishResult:
        charts = files.charts.all()
        payload = discord_payload(report, charts)
        url = f"{self.api_base}/channels/{self.channel_id}/messages"
        multipart = [(f"files[{i}]", (p.name, p.read_bytes(), "image/png")) for i, p in enumerate(charts)]
        try:
            resp = httpx.post(
                url,
                headers={"Authorization": f"Bot {self._token}", "User-Agent": "DiscordBot (sherlog, 0.1)"},
                data={"payload_json": json.dumps(payload)},
                files=multipart,
                timeout=self._timeout,
            )
        except httpx.HTTPError as e:
            raise BackendUnavailable(f"cannot reach the Discord API at {self.api_base}: {e}", backend="discord") from e
        if resp.status_code >= 300:
            try:
                detail = resp.json().get("message", resp.text[:200])
            except ValueError:
                detail = resp.text[:200]
            raise BackendError(
                f"Discord refused the report for channel {self.channel_id} (HTTP {resp.status_code}): {detail}",
                backend="discord",
                hint="check discord.token and that the bot may Send Messages, Embed Links and Attach Files there",
            )
        return PublishResult(str(resp.json().get("id", "")))

    def __str__(self) -> str:
        return self.destination


# ---------------------------------------------------------------------------- building and posting


def build_publishers(settings: Settings, *, discord_api_base: str = DISCORD_API) -> list[Publisher]:
    """The destinations configured in `[report]`; ConfigError when a channel has no token."""
    out: list[Publisher] = []
    rep = settings.report
    if rep.slack_channel:
        if settings.slack.bot_token is None:
            raise ConfigError(
                "report.slack_channel is set but slack.bot_token is not", hint="set SHERLOG_SLACK__BOT_TOKEN"
            )
        out.append(
            SlackPublisher(
                settings.slack.bot_token.get_secret_value(), rep.slack_channel, base_url=settings.slack.api_base_url
            )
        )
    if rep.discord_channel:
        if settings.discord.token is None:
            raise ConfigError(
                "report.discord_channel is set but discord.token is not", hint="set SHERLOG_DISCORD__TOKEN"
            )
        out.append(
            DiscordPublisher(settings.discord.token.get_secret_value(), rep.discord_channel, api_base=discord_api_base)
        )
    return out


@dataclass(frozen=True)
class PostOutcome:
    """What happened for one destination: posted, skipped (already posted) or failed."""

    destination: str
    status: str
    detail: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _claim_row(db: RelationalStore, period: str, destination: str) -> ReportRecord | None:
    stmt = select(ReportRecord).where(
        ReportRecord.kind == REPORT_KIND, ReportRecord.period == period, ReportRecord.posted_to == destination
    )
    with db.session() as s:
        return s.exec(stmt).first()


def _set_path(db: RelationalStore, period: str, destination: str, path: str) -> None:
    table = ReportRecord.__table__  # type: ignore[attr-defined]
    with db.session() as s:
        s.execute(
            sa.update(table)
            .where(table.c.kind == REPORT_KIND, table.c.period == period, table.c.posted_to == destination)
            .values(path=path)
        )


def release_claim(db: RelationalStore, period: str, destination: str) -> bool:
    """Forget that `period` went to `destination` (a failed post, or `--force`); True if a claim existed."""
    table = ReportRecord.__table__  # type: ignore[attr-defined]
    with db.session() as s:
        result = s.execute(
            sa.delete(table).where(
                table.c.kind == REPORT_KIND, table.c.period == period, table.c.posted_to == destination
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def post_report(
    db: RelationalStore,
    report: WeeklyReport,
    files: ReportFiles,
    publishers: Sequence[Publisher],
    *,
    force: bool = False,
) -> list[PostOutcome]:
    """Post to every publisher that has not had this week yet (see the module doc for the guarantees).

    Without publishers the report is still recorded once under the empty destination, so a
    scheduler with no chat configured writes each week's files once.
    """
    period = report.week.label
    path = str(files.markdown)
    if not publishers:
        fresh = db.record_report(REPORT_KIND, period, "", path)
        return [PostOutcome("", "recorded" if fresh else "skipped", "no chat destination configured")]
    outcomes: list[PostOutcome] = []
    for pub in publishers:
        dest = pub.destination
        if force:
            release_claim(db, period, dest)
        # claim without a path; the path is written once the post is confirmed
        if not db.record_report(REPORT_KIND, period, dest, None):
            row = _claim_row(db, period, dest)
            if row is not None and row.path is None:
                detail = (
                    f"claimed at {row.created_at:%Y-%m-%d %H:%M}Z but never confirmed (a crash while posting?); "
                    "re-run with --force to post it"
                )
            else:
                detail = "already posted"
            outcomes.append(PostOutcome(dest, "skipped", detail))
            continue
        try:
            result = pub.publish(report, files)
        except SherlogError as e:
            release_claim(db, period, dest)
            log.error("weekly report %s to %s failed: %s", period, dest, e)
            outcomes.append(PostOutcome(dest, "failed", str(e)))
            continue
        _set_path(db, period, dest, path)
        outcomes.append(PostOutcome(dest, "posted", result.ref, result.warnings))
    return outcomes
