"""Planning HTTP API: generate a client's calendar from a strategy, read it by week or month
(per client or across the agency), edit a slot by hand, and fill a slot to make a post."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pymongo.asynchronous.client_session import AsyncClientSession

from services.calendar.deps import Clients, RuntimeDep, client_or_404, unprocessable
from services.calendar.metrics import POSTS_SCHEDULED
from services.calendar.models import Post, PostStatus
from services.calendar.planning.generate import generate
from services.calendar.planning.models import (
    FillIn,
    Generated,
    GenerateIn,
    Slot,
    SlotEdit,
    SlotState,
)
from services.calendar.planning.repository import PlanningRepository
from services.calendar.planning.zones import place
from services.calendar.strategy.api import Strategies, strategy_or_404
from shared import mongo, pages, topics
from shared.activity import stage_activity
from shared.envelope import utcnow
from shared.events import Platform, PostScheduled
from shared.runtime import CurrentAgency, CurrentPrincipal

router = APIRouter(tags=["planning"])
GENERATE_ATTEMPTS = 3  # a transaction that lost a write conflict is retried whole


def get_planning(request: Request) -> PlanningRepository:
    repo: PlanningRepository = request.app.state.planning
    return repo


Planning = Annotated[PlanningRepository, Depends(get_planning)]
StatusFilter = Annotated[
    str | None, Query(alias="status", description="open, reactive or a post status")
]


def _filters(platform: Platform | None, pillar: str | None, status_: str | None) -> dict[str, str]:
    allowed = {s.value for s in SlotState} | {s.value for s in PostStatus}
    if status_ is not None and status_ not in allowed:
        raise unprocessable("query", "status", msg=f"one of {', '.join(sorted(allowed))}")
    given = {"platform": platform.value if platform else None, "pillar": pillar, "status": status_}
    return {k: v for k, v in given.items() if v is not None}


@router.post("/clients/{client_id}/calendar/generate")
async def generate_calendar(
    client_id: str,
    body: GenerateIn,
    agency: CurrentAgency,
    clients: Clients,
    strategies: Strategies,
    planning: Planning,
    runtime: RuntimeDep,
) -> Generated:
    """Generate the slots of local dates [start, end) (at most 12 months) from the latest
    version of a strategy, in one transaction. Slots in the past, with content or edited by
    hand are kept; untouched future slots are replaced."""
    client = await client_or_404(clients, agency.tenant_id, client_id)
    strategy = await strategy_or_404(strategies, agency.tenant_id, client_id, body.strategy_id)
    slots = generate(strategy, zone_name=client.timezone, start=body.start, end=body.end)

    async def write(session: AsyncClientSession) -> tuple[int, int, int, int]:
        return await planning.regenerate(
            agency.tenant_id,
            client_id,
            start=body.start.isoformat(),
            end=body.end.isoformat(),
            slots=slots,
            now=utcnow(),
            session=session,
        )

    created, kept, replaced, unchanged = await mongo.retried_transaction(
        runtime.mongo, write, attempts=GENERATE_ATTEMPTS
    )
    return Generated(
        strategy_id=strategy.strategy_id,
        strategy_version=strategy.version,
        start=body.start,
        end=body.end,
        created=created,
        kept=kept,
        replaced=replaced,
        unchanged=unchanged,
    )


async def _page(
    planning: PlanningRepository,
    request: Request,
    response: Response,
    *,
    tenant_id: str,
    client_id: str,
    start: date,
    end: date,
    filters: dict[str, str],
    limit: int,
    cursor: str | None,
) -> list[Slot]:
    position = pages.decode_cursor(cursor, 2)
    found = await planning.list_slots(
        tenant_id,
        client_id,
        start=start.isoformat(),
        end=end.isoformat(),
        filters=filters,
        limit=limit + 1,
        start_after=(position[0], position[1]) if position else None,
    )
    page = found[:limit]
    if len(found) > limit:
        pages.link_next(request, response, pages.encode_cursor(page[-1].local, page[-1].slot_id))
    return page


def _week(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def _month(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    return first, first + relativedelta(months=1)


@router.get("/clients/{client_id}/calendar/{view}")
async def client_view(
    client_id: str,
    view: str,
    day: Annotated[date, Query(alias="date", description="Any day of the week or month.")],
    agency: CurrentAgency,
    clients: Clients,
    planning: Planning,
    request: Request,
    response: Response,
    platform: Platform | None = None,
    pillar: Annotated[str | None, Query(max_length=80)] = None,
    status_: StatusFilter = None,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[Slot]:
    """A client's slots of one ISO week (Monday to Sunday) or month, in local time order."""
    if view not in {"week", "month"}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="views are week and month")
    await client_or_404(clients, agency.tenant_id, client_id)
    start, end = _week(day) if view == "week" else _month(day)
    return await _page(
        planning,
        request,
        response,
        tenant_id=agency.tenant_id,
        client_id=client_id,
        start=start,
        end=end,
        filters=_filters(platform, pillar, status_),
        limit=limit,
        cursor=cursor,
    )


@router.get("/calendar/{view}")
async def agency_view(
    view: str,
    day: Annotated[date, Query(alias="date", description="Any day of the week or month.")],
    agency: CurrentAgency,
    planning: Planning,
    request: Request,
    response: Response,
    platform: Platform | None = None,
    pillar: Annotated[str | None, Query(max_length=80)] = None,
    status_: StatusFilter = None,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[Slot]:
    """Slots of all your clients in one ISO week or month (each client's local time), client
    by client (in client id order, each in time order), a page at a time."""
    if view not in {"week", "month"}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="views are week and month")
    start, end = _week(day) if view == "week" else _month(day)
    position = pages.decode_cursor(cursor, 3)
    found = await planning.agency_slots(
        agency.tenant_id,
        start=start.isoformat(),
        end=end.isoformat(),
        filters=_filters(platform, pillar, status_),
        limit=limit + 1,
        start_after=(position[0], position[1], position[2]) if position else None,
    )
    page = found[:limit]
    if len(found) > limit:
        last = page[-1]
        pages.link_next(
            request, response, pages.encode_cursor(last.client_id, last.local, last.slot_id)
        )
    return page


async def _slot_or_404(
    planning: PlanningRepository, tenant_id: str, client_id: str, slot_id: str
) -> Slot:
    slot = await planning.get_slot(tenant_id, client_id, slot_id)
    if slot is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"slot '{slot_id}' not found")
    return slot


def stale(kind: str, version: int) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT,
        detail=f"the {kind} changed since version {version}; reload it and edit the new version",
    )


@router.get("/clients/{client_id}/slots/{slot_id}")
async def get_slot(client_id: str, slot_id: str, agency: CurrentAgency, planning: Planning) -> Slot:
    return await _slot_or_404(planning, agency.tenant_id, client_id, slot_id)


@router.patch("/clients/{client_id}/slots/{slot_id}")
async def edit_slot(
    client_id: str,
    slot_id: str,
    body: SlotEdit,
    agency: CurrentAgency,
    planning: Planning,
    strategies: Strategies,
) -> Slot:
    """Change a slot's pillar, type, stage or time by hand; it is then kept on regeneration."""
    slot = await _slot_or_404(planning, agency.tenant_id, client_id, slot_id)
    if slot.post_id and body.local is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the slot has a post: reschedule it")
    changes: dict[str, object] = {"edited": True}
    if slot.strategy_id and slot.strategy_version:
        strategy = await strategy_or_404(
            strategies, agency.tenant_id, client_id, slot.strategy_id, slot.strategy_version
        )
        names = {
            "pillar": {p.name for p in strategy.spec.pillars},
            "content_type": {t.name for t in strategy.spec.content_types},
            "stage": {s.stage.value for s in strategy.spec.stages},
        }
        for field, known in names.items():
            value = getattr(body, field)
            if value is not None and value not in known:
                what = field.replace("_", " ")
                raise unprocessable("body", field, msg=f"{what} '{value}' is not in the strategy")
    changes |= {
        f: getattr(body, f)
        for f in ("pillar", "content_type", "stage")
        if getattr(body, f) is not None
    }
    if body.local is not None:
        placed = place(body.local.replace(tzinfo=None), ZoneInfo(slot.timezone))
        local = placed.local.replace(tzinfo=None)
        changes |= {
            "at": placed.at,
            "local": local.isoformat(timespec="minutes"),
            "local_date": local.date().isoformat(),
            "dst": placed.adjustment,
        }
    updated = await planning.update_slot(slot, changes, version=body.version)
    if updated is None:
        raise stale("slot", body.version)
    return updated


@router.post("/clients/{client_id}/slots/{slot_id}/post", status_code=status.HTTP_201_CREATED)
async def fill_slot(
    client_id: str,
    slot_id: str,
    body: FillIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    planning: Planning,
    runtime: RuntimeDep,
) -> Post:
    """Fill a slot with content: it becomes a scheduled post (`PostScheduled` via the outbox)."""
    slot = await _slot_or_404(planning, agency.tenant_id, client_id, slot_id)
    if slot.post_id:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"slot has post '{slot.post_id}'")
    post, event = post_for(slot, body)

    async def write(session: AsyncClientSession) -> None:
        filled = await planning.update_slot(
            slot,
            {"post_id": post.post_id, "status": PostStatus.SCHEDULED.value},
            version=slot.version,
            session=session,
        )
        if filled is None:
            raise stale("slot", slot.version)
        await planning.posts.insert_one({"_id": post.post_id, **post.model_dump()}, session=session)
        await runtime.outbox.stage(session, runtime.topics(topics.POSTS_SCHEDULED), event)
        await stage_activity(
            session, runtime, principal, entity="post", entity_id=post.post_id,
            client_id=client_id, action="created", before=None, after=post,
        )  # fmt: skip

    await mongo.retried_transaction(runtime.mongo, write)
    runtime.outbox.kick()
    POSTS_SCHEDULED.labels(agency.tenant_id, post.platform.value).inc()
    return post


def post_for(slot: Slot, body: FillIn) -> tuple[Post, PostScheduled]:
    """The scheduled post filling a slot, and its `PostScheduled`."""
    post = Post(
        post_id=f"po-{uuid.uuid4().hex[:12]}",
        tenant_id=slot.tenant_id,
        client_id=slot.client_id,
        platform=slot.platform,
        scheduled_at=slot.at,
        local_time=slot.at.astimezone(ZoneInfo(slot.timezone)).isoformat(),
        timezone=slot.timezone,
        content_type=slot.content_type or "post",
        pillar=slot.pillar,
        caption=body.caption,
        paid=body.paid,
        budget_id=body.budget_id,
        status=PostStatus.SCHEDULED,
        created_at=utcnow(),
        slot_id=slot.slot_id,
        strategy_id=slot.strategy_id,
        stage=slot.stage,
        series=slot.series,
        media=body.media,
        link=body.link,
    )
    fields = {
        "client_id",
        "post_id",
        "strategy_id",
        "platform",
        "scheduled_at",
        "timezone",
        "content_type",
        "pillar",
        "paid",
        "budget_id",
    }
    event = PostScheduled.new(
        producer="calendar", tenant_id=slot.tenant_id, **post.model_dump(include=fields)
    )
    return post, event
