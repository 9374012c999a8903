"""Change webhook: deploys, config pushes, scaling, rollbacks, feature flags
and Ansible runs → Events kind=change.

Two shapes are accepted per item:

* a change: `{service|entity, change_type, ts, version, previous_version,
  author, description, id, cluster, namespace, link}`
* an Ansible run, as a callback plugin reports it: `{playbook, host, stats:
  {ok, changed, failures, unreachable, skipped, rescued, ignored}, ...}`

A body may be one item, an array of items, or `{"changes": [...]}`. Unknown
fields are rejected (naming the field and the closest known one) because a
typo such as `servce` would otherwise attach the change to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import InvalidPayload
from core.model import EntityRef, Event, EventKind, Severity
from core.sources.common import (
    ItemError,
    ItemProblem,
    ParsedBatch,
    did_you_mean,
    load_payload,
    make_event,
    type_name,
)

ChangeType = Literal["deploy", "config", "scale", "rollback", "ansible", "feature_flag"]
_ENTITY_PREFIXES = ("service", "pod", "node", "host")


class ChangeIn(BaseModel):
    """One change as a CI/CD system or a person reports it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service: str | None = Field(None, min_length=1, max_length=200)
    entity: str | None = Field(
        None, min_length=1, max_length=400, description="a graph id like service:prod/shop/cart, or a bare name"
    )
    change_type: ChangeType
    ts: datetime
    version: str | None = None
    previous_version: str | None = None
    author: str | None = None
    description: str | None = Field(None, max_length=10_000)
    id: str | None = Field(None, min_length=1, max_length=200)
    cluster: str | None = None
    namespace: str | None = None
    link: str | None = None

    @model_validator(mode="after")
    def _target(self) -> ChangeIn:
        if not self.service and not self.entity:
            raise ValueError("either 'service' or 'entity' must name what changed")
        return self


class AnsibleStats(BaseModel):
    """Per-host task results summary (the numbers Ansible's PLAY RECAP prints)."""

    model_config = ConfigDict(extra="forbid")

    ok: int = Field(0, ge=0)
    changed: int = Field(0, ge=0)
    failures: int = Field(0, ge=0)
    unreachable: int = Field(0, ge=0)
    skipped: int = Field(0, ge=0)
    rescued: int = Field(0, ge=0)
    ignored: int = Field(0, ge=0)


class AnsibleRunIn(BaseModel):
    """One playbook run against one host, as an Ansible callback reports it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    playbook: str = Field(min_length=1)
    host: str = Field(min_length=1)
    stats: AnsibleStats
    ts: datetime
    service: str | None = None
    play: str | None = None
    author: str | None = None
    id: str | None = Field(None, min_length=1, max_length=200)
    cluster: str | None = None
    namespace: str | None = None
    link: str | None = None
    description: str | None = Field(None, max_length=10_000)
    check_mode: bool = False


def _explain(e: ValidationError, here: str, model: type[BaseModel]) -> ItemProblem:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    where = f"{here}.{loc}" if loc else here
    if err["type"] == "extra_forbidden":
        # the key itself is the last part of loc
        key = str(err["loc"][-1])
        known = _known_fields(model, err["loc"][:-1])
        return ItemProblem(
            where, f"unknown field '{key}'{did_you_mean(key, known)}; allowed: {', '.join(sorted(known))}"
        )
    if err["type"] == "missing":
        return ItemProblem(where, "is required")
    return ItemProblem(where, err["msg"])


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at `loc`."""
    current: type[BaseModel] = model
    for part in loc:
        ann = current.model_fields.get(str(part))
        target = ann.annotation if ann else None
        if isinstance(target, type) and issubclass(target, BaseModel):
            current = target
    return list(current.model_fields)


def _parse_entity(raw: str, cluster: str | None, namespace: str | None) -> EntityRef:
    """`service:prod/shop/cart` → EntityRef(cluster, namespace, service); a bare name is a service."""
    prefix, sep, rest = raw.partition(":")
    if not sep or prefix not in _ENTITY_PREFIXES:
        return EntityRef(cluster=cluster, namespace=namespace, service=raw)
    parts = rest.split("/")
    if prefix == "host":
        return EntityRef(host=rest)
    if prefix == "node":
        return EntityRef(cluster=parts[0] if len(parts) > 1 else cluster, node=parts[-1])
    ns = parts[-2] if len(parts) >= 2 else namespace
    cl = parts[-3] if len(parts) >= 3 else cluster
    return EntityRef(cluster=cl, namespace=ns, **{prefix: parts[-1]})


def _change_event(c: ChangeIn, here: str) -> Event:
    if c.entity:
        ref = _parse_entity(c.entity, c.cluster, c.namespace)
        if c.service and not ref.service:
            ref = ref.model_copy(update={"service": c.service})
    else:
        ref = EntityRef(cluster=c.cluster, namespace=c.namespace, service=c.service)
    target = c.service or c.entity
    if c.description:
        body = c.description
    elif c.version:
        was = f" (was {c.previous_version})" if c.previous_version else ""
        body = f"{c.change_type} {target} {c.version}{was}"
    else:
        body = f"{c.change_type} {target}"
    return make_event(
        {
            "source": "change-webhook",
            "kind": EventKind.CHANGE,
            "ts": c.ts,
            "entity": ref,
            "severity": Severity.WARNING if c.change_type == "rollback" else Severity.INFO,
            "body": body,
            "attributes": {
                "change_type": c.change_type,
                "version": c.version,
                "previous_version": c.previous_version,
                "author": c.author,
                "description": c.description,
                "link": c.link,
                "entity_id": c.entity,
            },
            "ingest_id": c.id,
        },
        here,
    )


def _ansible_event(r: AnsibleRunIn, here: str) -> Event:
    s = r.stats
    failed = s.failures + s.unreachable
    recap = (
        f"ok={s.ok} changed={s.changed} unreachable={s.unreachable} failed={s.failures} "
        f"skipped={s.skipped} rescued={s.rescued} ignored={s.ignored}"
    )
    body = r.description or f"ansible {r.playbook} on {r.host}: {recap}"
    return make_event(
        {
            "source": "ansible",
            "kind": EventKind.CHANGE,
            "ts": r.ts,
            "entity": EntityRef(cluster=r.cluster, namespace=r.namespace, service=r.service, host=r.host),
            # a run that failed half-way leaves a host in an unknown state
            "severity": Severity.ERROR if failed else Severity.INFO,
            "body": body,
            "attributes": {
                "change_type": "ansible",
                "playbook": r.playbook,
                "play": r.play,
                "host": r.host,
                "author": r.author,
                "link": r.link,
                "check_mode": r.check_mode,
                "description": r.description,
                **s.model_dump(),
            },
            "ingest_id": r.id,
        },
        here,
    )


def parse_change(item: Any, here: str = "change") -> Event:
    """One change or Ansible run object → Event; raises ItemProblem naming the bad field."""
    if not isinstance(item, Mapping):
        raise ItemProblem(here, f"expected a change object, got {type_name(item)}")
    model: type[BaseModel] = AnsibleRunIn if "playbook" in item else ChangeIn
    try:
        parsed = model.model_validate(item)
    except ValidationError as e:
        raise _explain(e, here, model) from e
    if isinstance(parsed, AnsibleRunIn):
        return _ansible_event(parsed, here)
    assert isinstance(parsed, ChangeIn)
    return _change_event(parsed, here)


def parse_changes(payload: Any) -> ParsedBatch:
    """A change webhook body: one object, an array, or `{"changes": [...]}` (decoded or raw JSON)."""
    doc = load_payload(payload, "change webhook")
    if isinstance(doc, Mapping) and "changes" in doc:
        extra = [k for k in doc if k != "changes"]
        if extra:
            raise InvalidPayload(f"change webhook: unknown top-level field '{extra[0]}' beside 'changes'")
        items, path = doc["changes"], "changes"
        if not isinstance(items, list):
            raise InvalidPayload(f"change webhook: 'changes' must be an array, got {type_name(items)}")
    elif isinstance(doc, list):
        items, path = doc, ""
    elif isinstance(doc, Mapping):
        items, path = [doc], None
    else:
        raise InvalidPayload(f"change webhook: expected an object or an array, got {type_name(doc)}")
    batch = ParsedBatch()
    for i, item in enumerate(items):
        here = "change" if path is None else f"{path}[{i}]"
        try:
            batch.events.append(parse_change(item, here))
        except ItemProblem as e:
            batch.errors.append(ItemError(i, e.field, e.message))
    return batch
