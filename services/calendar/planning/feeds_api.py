"""iCalendar feeds: an agency makes a feed URL per client for the team's calendar apps. The URL
carries an unguessable token (shown once, stored hashed) and works without headers until the
feed is revoked; it is the one route besides health checks that takes no API key (see
`shared.http_limits.OPEN_PREFIXES`)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, HTTPException, Response, status
from pydantic import AwareDatetime, BaseModel

from services.calendar.deps import Clients, client_or_404
from services.calendar.planning import ical
from services.calendar.planning.api import Planning
from shared.envelope import utcnow
from shared.runtime import CurrentAgency

router = APIRouter(tags=["feeds"])
FEED_PREFIX = "/feeds/"
PAST_DAYS = 30  # a feed shows the last month and the next twelve
AHEAD_MONTHS = 12
MAX_EVENTS = 5000


class Feed(BaseModel):
    feed_id: str
    client_id: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None


class NewFeed(Feed):
    token: str
    url: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@router.post("/clients/{client_id}/feeds", status_code=status.HTTP_201_CREATED)
async def create_feed(
    client_id: str, agency: CurrentAgency, clients: Clients, planning: Planning
) -> NewFeed:
    """A new feed URL for the client's calendar (the token is shown only now)."""
    await client_or_404(clients, agency.tenant_id, client_id)
    token = secrets.token_urlsafe(32)
    feed = Feed(feed_id=f"fd-{uuid.uuid4().hex[:12]}", client_id=client_id, created_at=utcnow())
    doc: dict[str, Any] = {
        "_id": _digest(token),
        "tenant_id": agency.tenant_id,
        **feed.model_dump(),
    }
    await planning.feeds.insert_one(doc)
    return NewFeed(**feed.model_dump(), token=token, url=f"{FEED_PREFIX}{token}.ics")


@router.get("/clients/{client_id}/feeds")
async def list_feeds(
    client_id: str, agency: CurrentAgency, clients: Clients, planning: Planning
) -> list[Feed]:
    await client_or_404(clients, agency.tenant_id, client_id)
    cursor = planning.feeds.find({"tenant_id": agency.tenant_id, "client_id": client_id})
    return [Feed.model_validate(d) async for d in cursor.limit(500)]


@router.delete("/clients/{client_id}/feeds/{feed_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_feed(
    client_id: str, feed_id: str, agency: CurrentAgency, planning: Planning
) -> Response:
    """Revoke a feed: its URL answers 404 from now on."""
    result = await planning.feeds.update_one(
        {
            "tenant_id": agency.tenant_id,
            "client_id": client_id,
            "feed_id": feed_id,
            "revoked_at": None,
        },
        {"$set": {"revoked_at": utcnow()}},
    )
    if result.matched_count != 1:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"feed '{feed_id}' not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    FEED_PREFIX + "{token}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def read_feed(token: str, clients: Clients, planning: Planning) -> Response:
    """The client's calendar as iCalendar, for the token of a feed that is not revoked."""
    missing = HTTPException(status.HTTP_404_NOT_FOUND, detail="no such feed")
    if len(token) > 100:
        raise missing
    # the token's digest is the key that finds the tenant; every later read is scoped by it
    doc = await planning.feeds.find_one({"_id": _digest(token)})
    if doc is None or doc.get("revoked_at") is not None:
        raise missing
    client = await clients.get_client(doc["tenant_id"], doc["client_id"])
    if client is None:
        raise missing
    now = utcnow()
    today = now.date()
    slots = await planning.slots_of_client(
        client.tenant_id,
        client.client_id,
        limit=MAX_EVENTS,
        start=(today - timedelta(days=PAST_DAYS)).isoformat(),
        end=(today + relativedelta(months=AHEAD_MONTHS)).isoformat(),
    )
    posts = await planning.posts_by_id(client.tenant_id, [s.post_id for s in slots if s.post_id])
    body = ical.feed(client, slots, posts, now=now)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
