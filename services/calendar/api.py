"""Calendar HTTP API: clients and their scheduled posts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from services.calendar.metrics import POSTS_SCHEDULED
from services.calendar.models import Client, ClientIn, Post, PostIn, PostStatus
from services.calendar.repository import CalendarRepository
from services.calendar.service import SchedulingError, resolve_slot
from shared import mongo, pages, topics
from shared.activity import stage_activity
from shared.bounds import bounded_instant
from shared.envelope import utcnow
from shared.events import ClientRegistered, PostScheduled
from shared.runtime import CurrentAgency, CurrentPrincipal, Runtime, get_runtime

router = APIRouter(tags=["calendar"])


def get_repo(request: Request) -> CalendarRepository:
    repo: CalendarRepository = request.app.state.repo
    return repo


Repo = Annotated[CalendarRepository, Depends(get_repo)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def _client_or_404(repo: CalendarRepository, tenant_id: str, client_id: str) -> Client:
    client = await repo.get_client(tenant_id, client_id)
    if client is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"client '{client_id}' not found")
    return client


@router.post("/clients", status_code=status.HTTP_201_CREATED)
async def create_client(
    body: ClientIn, agency: CurrentAgency, repo: Repo, runtime: RuntimeDep
) -> Client:
    """Add a client brand to your agency; publishes `ClientRegistered` (other services learn
    the client from it a moment later)."""
    client = Client(
        **body.model_dump(),
        client_id=f"cl-{uuid.uuid4().hex[:12]}",
        tenant_id=agency.tenant_id,
        created_at=utcnow(),
    )
    event = ClientRegistered.new(
        producer="calendar",
        tenant_id=agency.tenant_id,
        client_id=client.client_id,
        name=client.name,
        timezone=client.timezone,
    )
    async with mongo.transaction(runtime.mongo) as session:
        await repo.add_client(client, session=session)
        await runtime.outbox.stage(session, runtime.topics(topics.CLIENTS), event)
    runtime.outbox.kick()
    return client


@router.get("/clients")
async def list_clients(
    request: Request,
    response: Response,
    agency: CurrentAgency,
    repo: Repo,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[Client]:
    """Your clients in name order, a page at a time (next page: the `X-Next-Cursor` header)."""
    position = pages.decode_cursor(cursor, 2)
    start_after = (position[0], position[1]) if position else None
    found = await repo.list_clients(agency.tenant_id, limit=limit + 1, start_after=start_after)
    page = found[:limit]
    if len(found) > limit:
        pages.link_next(request, response, pages.encode_cursor(page[-1].name, page[-1].client_id))
    return page


@router.post("/clients/{client_id}/posts", status_code=status.HTTP_201_CREATED)
async def schedule_post(
    client_id: str,
    body: PostIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Repo,
    runtime: RuntimeDep,
) -> Post:
    """Schedule a post; publishes `PostScheduled` (stored with the post, relayed to Kafka)."""
    client = await _client_or_404(repo, agency.tenant_id, client_id)
    zone = body.timezone or client.timezone
    try:
        instant, local = resolve_slot(body.scheduled_at, zone)
        bounded_instant(instant)  # the year 3702 would only fail later, building the event
    except (SchedulingError, ValueError, OverflowError) as e:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "scheduled_at"], "msg": str(e), "type": "value_error"}],
        ) from e
    post = Post(
        post_id=f"po-{uuid.uuid4().hex[:12]}",
        tenant_id=agency.tenant_id,
        client_id=client_id,
        platform=body.platform,
        scheduled_at=instant,
        local_time=local.isoformat(),
        timezone=zone,
        content_type=body.content_type,
        pillar=body.pillar,
        caption=body.caption,
        paid=body.paid,
        budget_id=body.budget_id,
        status=PostStatus.SCHEDULED,
        created_at=utcnow(),
    )
    event = PostScheduled.new(
        producer="calendar",
        tenant_id=agency.tenant_id,
        **post.model_dump(include={"client_id", "post_id", "platform", "scheduled_at",
                                   "timezone", "content_type", "pillar", "paid", "budget_id"}),
    )  # fmt: skip
    async with mongo.transaction(runtime.mongo) as session:
        await repo.add_post(post, session=session)
        await runtime.outbox.stage(session, runtime.topics(topics.POSTS_SCHEDULED), event)
        await stage_activity(
            session, runtime, principal, entity="post", entity_id=post.post_id,
            client_id=client_id, action="created", before=None, after=post,
        )  # fmt: skip
    runtime.outbox.kick()
    POSTS_SCHEDULED.labels(agency.tenant_id, post.platform.value).inc()
    return post


@router.get("/clients/{client_id}/posts")
async def list_posts(
    client_id: str,
    agency: CurrentAgency,
    repo: Repo,
    request: Request,
    response: Response,
    status_filter: Annotated[PostStatus | None, Query(alias="status")] = None,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[Post]:
    """A client's posts in time order, optionally of one status, a page at a time (next page:
    the `X-Next-Cursor` header). `status=failed` lists what did not go out, each with its
    reason (`last_error`) and `attempts`; `status=due` shows posts waiting for a retry
    (`retry_at`); published posts carry `platform_post_id` and `platform_url`."""
    position = pages.decode_cursor(cursor, 2)
    start_after = None
    if position:
        try:
            start_after = (datetime.fromisoformat(position[0]), position[1])
        except ValueError as e:
            raise pages.bad_cursor() from e
    await _client_or_404(repo, agency.tenant_id, client_id)
    found = await repo.list_posts(
        agency.tenant_id, client_id, status_filter, limit=limit + 1, start_after=start_after
    )
    page = found[:limit]
    if len(found) > limit:
        last = page[-1]
        pages.link_next(
            request, response, pages.encode_cursor(last.scheduled_at.isoformat(), last.post_id)
        )
    return page
