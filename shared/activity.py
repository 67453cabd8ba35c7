"""The activity log's producing side: each change made through the HTTP API stages an
`ActivityRecorded` (tenancy.activity.v1) in the same outbox transaction as the change, so a
change is never without its entry and an entry never without its change. The calendar stores
them in its append-only `activity` collection and serves `GET /activity` to admin keys.

An entry says who (the key's public id and role, never the key), what (entity, id, client,
action) and the entity before and after as JSON text with every secret-looking field left out
and the text bounded in size (`snapshot`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from pymongo.asynchronous.client_session import AsyncClientSession

from shared import mongo, topics
from shared.auth import Principal
from shared.events import ActivityRecorded
from shared.runtime import Runtime

Entity = Literal["strategy", "post", "budget", "key"]
MAX_STATE_CHARS = 8_000
# Fields never written to the log, at any depth (keys, hashes, webhook secrets, feed tokens).
SECRET_FIELDS = frozenset(
    {"key", "api_key", "key_hash", "hash", "secret", "token", "feed_token", "password"}
)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if not (isinstance(k, str) and (k.lower() in SECRET_FIELDS or "secret" in k.lower()))
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def snapshot(state: BaseModel | dict[str, Any] | None) -> str | None:
    """An entity as JSON text for the log: secrets left out; past `MAX_STATE_CHARS` only its
    top-level scalar fields are kept (and `"truncated": true`)."""
    if state is None:
        return None
    raw = state.model_dump(mode="json") if isinstance(state, BaseModel) else state
    data = _strip(jsonable_encoder(raw, custom_encoder={Decimal: str}))
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, default=str)
    if len(text) <= MAX_STATE_CHARS:
        return text
    small = {
        k: v
        for k, v in (data.items() if isinstance(data, dict) else [])
        if isinstance(v, str | int | float | bool) and len(str(v)) <= 200
    }
    small["truncated"] = True
    text = json.dumps(small, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= MAX_STATE_CHARS else '{"truncated":true}'


def activity(
    runtime: Runtime,
    principal: Principal,
    *,
    entity: Entity,
    entity_id: str,
    client_id: str | None,
    action: str,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
) -> ActivityRecorded:
    """The log entry of one change by this key."""
    return ActivityRecorded.new(
        producer=runtime.settings.service_name,
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        role=principal.role.value,
        entity=entity,
        entity_id=entity_id,
        client_id=client_id,
        action=action,
        before=snapshot(before),
        after=snapshot(after),
    )


async def stage_activity(
    session: AsyncClientSession,
    runtime: Runtime,
    principal: Principal,
    *,
    entity: Entity,
    entity_id: str,
    client_id: str | None,
    action: str,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
) -> None:
    """Stage the log entry of a change in the change's own transaction (the caller kicks the
    outbox after the commit)."""
    event = activity(
        runtime,
        principal,
        entity=entity,
        entity_id=entity_id,
        client_id=client_id,
        action=action,
        before=before,
        after=after,
    )
    await runtime.outbox.stage(session, runtime.topics(topics.ACTIVITY), event)


async def record_activity(
    runtime: Runtime,
    principal: Principal,
    *,
    entity: Entity,
    entity_id: str,
    client_id: str | None,
    action: str,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
) -> None:
    """For a change with no outbox transaction of its own (keys live in the tenancy database):
    stage the entry in a transaction of its own right after the change, and kick the relay."""
    async with mongo.transaction(runtime.mongo) as session:
        await stage_activity(
            session,
            runtime,
            principal,
            entity=entity,
            entity_id=entity_id,
            client_id=client_id,
            action=action,
            before=before,
            after=after,
        )
    runtime.outbox.kick()
