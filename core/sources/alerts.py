"""Alerts: Alertmanager webhook (payload version 4), Alertmanager `GET
/api/v2/alerts`, and Grafana unified-alerting webhooks → Events kind=alert.

Every alert becomes one Event whose `ingest_id` is fingerprint + status +
startsAt: a resend of the same notification is a duplicate, while the
firing → resolved transition (same fingerprint, new status) is a new event.
Labels place the alert on an entity (service/pod/node/namespace/cluster).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from core.errors import InvalidPayload
from core.model import EntityRef, Event, EventKind, Severity
from core.sources.common import (
    ItemError,
    ItemProblem,
    ParsedBatch,
    entity_from_labels,
    load_payload,
    make_event,
    opt_str,
    parse_time,
    str_map,
    type_name,
    unknown_keys,
)
from core.sources.httpjson import DEFAULT_TIMEOUT_S, get_json

_AM_WEBHOOK_FIELDS = frozenset(
    {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
)
_GRAFANA_WEBHOOK_FIELDS = _AM_WEBHOOK_FIELDS | {"orgId", "title", "state", "message"}
_AM_ALERT_FIELDS = frozenset({"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"})
_AM_V2_ALERT_FIELDS = _AM_ALERT_FIELDS | {"receivers", "updatedAt"}
_GRAFANA_ALERT_FIELDS = _AM_ALERT_FIELDS | {
    "silenceURL",
    "dashboardURL",
    "panelURL",
    "values",
    "valueString",
    "imageURL",
    "orgId",
}
_STATUSES = ("firing", "resolved")
_V2_STATES = ("active", "suppressed", "unprocessed")


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex id for a label set, used when a sender gives no fingerprint."""
    canon = "\x00".join(f"{k}\xff{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _warn_unknown(
    obj: Mapping[str, Any], known: frozenset[str], where: str, index: int | None, batch: ParsedBatch
) -> None:
    # Senders add fields over time; an unknown field is reported, never fatal.
    for key in unknown_keys(obj, known):
        batch.warnings.append(ItemError(index, f"{where}.{key}" if where else key, "unknown field ignored"))


def _alert_event(
    item: Any,
    here: str,
    *,
    source: str,
    status: str | None,
    extra: Mapping[str, Any],
    defaults: EntityRef | None,
) -> Event:
    """One alert object → Event. `status` overrides the item's own (v2 alerts have none)."""
    if not isinstance(item, Mapping):
        raise ItemProblem(here, f"expected an alert object, got {type_name(item)}")
    labels = str_map(item.get("labels"), f"{here}.labels", required=True)
    alertname = labels.get("alertname", "").strip()
    if not alertname:
        raise ItemProblem(f"{here}.labels.alertname", "is required")
    annotations = str_map(item.get("annotations"), f"{here}.annotations")
    if status is None:
        raw_status = item.get("status")
        if raw_status not in _STATUSES:
            raise ItemProblem(f"{here}.status", f"must be 'firing' or 'resolved', got {raw_status!r}")
        status = str(raw_status)
    starts = parse_time(item.get("startsAt"), f"{here}.startsAt")
    assert starts is not None  # allow_zero=False never returns None
    ends = parse_time(item["endsAt"], f"{here}.endsAt", allow_zero=True) if item.get("endsAt") else None
    if status == "resolved" and ends is None:
        raise ItemProblem(f"{here}.endsAt", "a resolved alert needs the time it ended")
    fingerprint = opt_str(item, "fingerprint", here) or label_fingerprint(labels)
    generator_url = opt_str(item, "generatorURL", here)
    runbook_url = annotations.get("runbook_url") or annotations.get("runbook") or annotations.get("runbookURL")
    summary = annotations.get("summary") or annotations.get("description") or annotations.get("message") or ""
    attributes: dict[str, Any] = {
        "alertname": alertname,
        "status": status,
        "fingerprint": fingerprint,
        "labels": labels,
        "annotations": annotations,
        "runbook_url": runbook_url,
        "summary": summary,
        "starts_at": starts.timestamp(),
        "ends_at": ends.timestamp() if ends else None,
        "generator_url": generator_url,
        **extra,
    }
    body = f"[{status}] {alertname}" + (f": {summary}" if summary else "")
    return make_event(
        {
            "source": source,
            "kind": EventKind.ALERT,
            # a resolution is an event at the moment the alert ended
            "ts": ends if status == "resolved" and ends else starts,
            "entity": entity_from_labels(labels, defaults),
            "severity": Severity.parse(labels.get("severity")),
            "body": body,
            "attributes": attributes,
            "ingest_id": f"{fingerprint}:{status}:{starts.isoformat()}",
        },
        here,
    )


def _webhook(
    payload: Any,
    *,
    what: str,
    source: str,
    known_top: frozenset[str],
    known_alert: frozenset[str],
    extra_fields: Mapping[str, str],
    defaults: EntityRef | None,
) -> tuple[ParsedBatch, Mapping[str, Any]]:
    doc = load_payload(payload, what)
    if not isinstance(doc, Mapping):
        raise InvalidPayload(f"{what}: expected a JSON object, got {type_name(doc)}")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidPayload(
            f"{what}: 'alerts' must be an array, got {type_name(alerts)}",
            hint="is this really a webhook notification body?",
        )
    batch = ParsedBatch()
    _warn_unknown(doc, known_top, "", None, batch)
    truncated = doc.get("truncatedAlerts")
    if isinstance(truncated, int) and truncated > 0:
        batch.warnings.append(
            ItemError(None, "truncatedAlerts", f"the sender left out {truncated} alert(s) (max_alerts)")
        )
    receiver = doc.get("receiver") if isinstance(doc.get("receiver"), str) else None
    group_key = doc.get("groupKey") if isinstance(doc.get("groupKey"), str) else None
    for i, item in enumerate(alerts):
        here = f"alerts[{i}]"
        try:
            extra: dict[str, Any] = {"receiver": receiver, "group_key": group_key}
            if isinstance(item, Mapping):
                _warn_unknown(item, known_alert, here, i, batch)
                for src_key, attr in extra_fields.items():
                    extra[attr] = item.get(src_key)
            batch.events.append(_alert_event(item, here, source=source, status=None, extra=extra, defaults=defaults))
        except ItemProblem as e:
            batch.errors.append(ItemError(i, e.field, e.message))
    return batch, doc


def parse_alertmanager_webhook(payload: Any, *, defaults: EntityRef | None = None) -> ParsedBatch:
    """An Alertmanager webhook notification (JSON object or raw bytes/text, version "4")."""
    doc = load_payload(payload, "alertmanager webhook")
    if isinstance(doc, Mapping) and "version" in doc and doc["version"] != "4":
        raise InvalidPayload(
            f"alertmanager webhook: unsupported payload version {doc['version']!r}; expected '4'",
            hint="Alertmanager 0.x sends version 4; Grafana webhooks go to the Grafana endpoint",
        )
    batch, _ = _webhook(
        doc,
        what="alertmanager webhook",
        source="alertmanager",
        known_top=_AM_WEBHOOK_FIELDS,
        known_alert=_AM_ALERT_FIELDS,
        extra_fields={},
        defaults=defaults,
    )
    return batch


def parse_grafana_webhook(payload: Any, *, defaults: EntityRef | None = None) -> ParsedBatch:
    """A Grafana unified-alerting webhook notification (JSON object or raw bytes/text)."""
    batch, doc = _webhook(
        payload,
        what="grafana webhook",
        source="grafana",
        known_top=_GRAFANA_WEBHOOK_FIELDS,
        known_alert=_GRAFANA_ALERT_FIELDS,
        extra_fields={
            "silenceURL": "silence_url",
            "dashboardURL": "dashboard_url",
            "panelURL": "panel_url",
            "values": "values",
            "valueString": "value_string",
        },
        defaults=defaults,
    )
    org = doc.get("orgId")
    if org is not None:
        for ev in batch.events:
            ev.attributes["org_id"] = org
    return batch


def _v2_item(item: Any, here: str, defaults: EntityRef | None, batch: ParsedBatch, index: int) -> Event:
    if not isinstance(item, Mapping):
        raise ItemProblem(here, f"expected an alert object, got {type_name(item)}")
    _warn_unknown(item, _AM_V2_ALERT_FIELDS, here, index, batch)
    status = item.get("status")
    if not isinstance(status, Mapping):
        raise ItemProblem(f"{here}.status", f"expected an object with 'state', got {type_name(status)}")
    state = status.get("state")
    if state not in _V2_STATES:
        raise ItemProblem(f"{here}.status.state", f"must be one of {', '.join(_V2_STATES)}, got {state!r}")
    receivers = item.get("receivers") or []
    extra = {
        "state": state,
        "silenced_by": list(status.get("silencedBy") or []),
        "inhibited_by": list(status.get("inhibitedBy") or []),
        "receivers": [r.get("name") for r in receivers if isinstance(r, Mapping)]
        if isinstance(receivers, list)
        else [],
    }
    # Everything the v2 API lists is still firing (it keeps resolved alerts out);
    # its endsAt is only the predicted resolve time.
    return _alert_event(item, here, source="alertmanager", status="firing", extra=extra, defaults=defaults)


def parse_alertmanager_v2_alerts(items: Any, *, defaults: EntityRef | None = None) -> ParsedBatch:
    """The body of Alertmanager `GET /api/v2/alerts` (a JSON array of alerts)."""
    doc = load_payload(items, "alertmanager /api/v2/alerts")
    if not isinstance(doc, list):
        raise InvalidPayload(f"alertmanager /api/v2/alerts: expected a JSON array, got {type_name(doc)}")
    batch = ParsedBatch()
    for i, item in enumerate(doc):
        here = f"[{i}]"
        try:
            batch.events.append(_v2_item(item, here, defaults, batch, i))
        except ItemProblem as e:
            batch.errors.append(ItemError(i, e.field, e.message))
    return batch


class AlertmanagerClient:
    """Pulls the alerts an Alertmanager currently holds (`GET /api/v2/alerts`)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.Client | None = None,
        defaults: EntityRef | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout_s)
        self._owns_client = client is None
        self._defaults = defaults

    def fetch_active(
        self,
        *,
        filters: Sequence[str] = (),
        silenced: bool = True,
        inhibited: bool = True,
        unprocessed: bool = True,
    ) -> ParsedBatch:
        """Every active alert (optionally narrowed by matchers like `severity="critical"`)."""
        params: dict[str, str | Sequence[str]] = {
            "active": "true",
            "silenced": str(silenced).lower(),
            "inhibited": str(inhibited).lower(),
            "unprocessed": str(unprocessed).lower(),
        }
        if filters:
            params["filter"] = list(filters)
        url = f"{self.base_url}/api/v2/alerts"
        status, body = get_json(self._client, url, backend="alertmanager", params=params)
        if status != 200:
            msg = body.get("message") if isinstance(body, Mapping) else body
            raise InvalidPayload(f"alertmanager rejected the query (HTTP {status}): {msg}")
        return parse_alertmanager_v2_alerts(body, defaults=self._defaults)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> AlertmanagerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
