"""The agency's activity log: every `ActivityRecorded` (tenancy.activity.v1, staged by the
calendar and the budget with each change made through the HTTP API) stored once in the
append-only `activity` collection (never updated or deleted), and `GET /activity` for the
agency's unrestricted admin keys (`RequestGuard` refuses every other key), newest first."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared import pages
from shared.deps import RuntimeDep
from shared.events import ActivityRecorded
from shared.runtime import CurrentAgency

COLLECTION = "activity"
INDEXES = {COLLECTION: [IndexModel([("tenant_id", 1), ("seq", DESCENDING)])]}
router = APIRouter(tags=["activity"])


def _seq(at: datetime, event_id: str) -> str:
    """Sortable position: UTC time then event id (ties broken the same way everywhere)."""
    with contextlib.suppress(OverflowError, ValueError):  # year 1/9999 across an offset
        at = at.astimezone(UTC)
    return f"{at.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z#{event_id}"


async def store(db: AsyncDatabase[Any], event: ActivityRecorded) -> bool:
    """Store an entry once: the `_id` is the tenant and event id, so a redelivered event (or
    another agency reusing the id) stores nothing twice. True when it was new."""
    doc = {
        "_id": f"{event.tenant_id}|{event.event_id}",
        "tenant_id": event.tenant_id,
        "seq": _seq(event.occurred_at, event.event_id),
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "producer": event.producer,
        "key_id": event.key_id,
        "role": event.role,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "client_id": event.client_id,
        "action": event.action,
        "before": event.before,
        "after": event.after,
    }
    try:
        await db[COLLECTION].insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


class ActivityEntry(BaseModel):
    """One change: who (the key's public id and role), when, what, before and after."""

    event_id: str
    occurred_at: datetime
    key_id: str = Field(description="The key that made the change (GET /keys/{key_id}).")
    role: str
    entity: str = Field(examples=["post"])
    entity_id: str
    client_id: str | None
    action: str = Field(examples=["rescheduled"])
    service: str = Field(description="The service that made the change.")
    before: Any = Field(description="The entity before (JSON; secrets left out); null if new.")
    after: Any = Field(description="The entity after (JSON; secrets left out).")


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _entry(doc: dict[str, Any]) -> ActivityEntry:
    at = doc["occurred_at"]
    return ActivityEntry(
        event_id=doc["event_id"],
        occurred_at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
        key_id=doc["key_id"],
        role=doc["role"],
        entity=doc["entity"],
        entity_id=doc["entity_id"],
        client_id=doc.get("client_id"),
        action=doc["action"],
        service=doc.get("producer", ""),
        before=_json(doc.get("before")),
        after=_json(doc.get("after")),
    )


@router.get("/activity")
async def list_activity(
    request: Request,
    response: Response,
    agency: CurrentAgency,
    runtime: RuntimeDep,
    entity: Annotated[
        Literal["strategy", "post", "budget", "key"] | None,
        Query(description="Only changes of this kind of entity."),
    ] = None,
    entity_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    client_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Only changes at or after this zone-aware time.")
    ] = None,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[ActivityEntry]:
    """The agency's activity log, newest first, a page at a time (next page: the
    `X-Next-Cursor` header). Admin keys for every client only."""
    position = pages.decode_cursor(cursor, 1)
    query: dict[str, Any] = {"tenant_id": agency.tenant_id}
    for name, value in (("entity", entity), ("entity_id", entity_id), ("client_id", client_id)):
        if value is not None:
            query[name] = value
    seq: dict[str, str] = {}
    if since is not None:
        seq["$gte"] = _seq(since, "")
    if position is not None:
        seq["$lt"] = position[0]
    if seq:
        query["seq"] = seq
    docs = (
        await runtime.db[COLLECTION]
        .find(query)
        .sort("seq", DESCENDING)
        .limit(limit + 1)
        .to_list(limit + 1)
    )
    page = docs[:limit]
    if len(docs) > limit:
        pages.link_next(request, response, pages.encode_cursor(page[-1]["seq"]))
    return [_entry(d) for d in page]
