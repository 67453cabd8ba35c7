"""Changing a post before it goes out: edit its content, reschedule it, cancel it. Every change
carries the version it was made on (stale: 409) and is one transaction with its event in the
outbox (`PostRescheduled`, `PostCancelled` on calendar.posts.lifecycle.v1); the slot it fills
follows it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.client_session import AsyncClientSession

from services.calendar.deps import RuntimeDep, unprocessable
from services.calendar.models import EDITABLE, TRANSITIONS, Post, PostStatus
from services.calendar.planning.api import Planning, stale
from services.calendar.planning.repository import PlanningRepository
from services.calendar.planning.zones import place
from shared import mongo, topics
from shared.activity import stage_activity
from shared.auth import Principal
from shared.bounds import MAX_COUNT
from shared.envelope import Event
from shared.events import PostCancelled, PostRescheduled
from shared.runtime import CurrentAgency, CurrentPrincipal

router = APIRouter(tags=["planning"])


class PostEdit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    version: int = Field(ge=1, le=MAX_COUNT, description="The version you edited (stale: 409).")
    caption: str | None = Field(default=None, min_length=1, max_length=5000)
    media: tuple[str, ...] | None = Field(default=None, max_length=20)
    link: str | None = Field(default=None, max_length=2000)


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=MAX_COUNT)
    scheduled_at: datetime = Field(
        examples=["2027-01-12T10:30:00"],
        description="Without an offset: wall time in the post's zone (DST-adjusted, flagged).",
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=MAX_COUNT)
    reason: Annotated[str, Field(max_length=500)] = ""


async def _post_or_404(
    planning: PlanningRepository, tenant_id: str, client_id: str, post_id: str
) -> Post:
    post = await planning.get_post(tenant_id, client_id, post_id)
    if post is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"post '{post_id}' not found")
    return post


def _editable(post: Post, version: int) -> None:
    if post.version != version:
        raise stale("post", version)
    if post.status not in EDITABLE:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"a {post.status.value} post can no longer change"
        )


async def _write(
    runtime: RuntimeDep,
    planning: PlanningRepository,
    post: Post,
    changes: dict[str, Any],
    *,
    version: int,
    principal: Principal,
    action: str,
    slot_changes: dict[str, Any] | None = None,
    event: Event | None = None,
) -> Post:
    async def write(session: AsyncClientSession) -> Post:
        updated = await planning.update_post(post, changes, version=version, session=session)
        if updated is None:
            raise stale("post", version)
        if slot_changes and post.slot_id:
            await planning.follow_post(
                post.tenant_id, post.client_id, post.slot_id, slot_changes, session=session
            )
        if event is not None:
            await runtime.outbox.stage(session, runtime.topics(topics.POST_LIFECYCLE), event)
        await stage_activity(
            session, runtime, principal, entity="post", entity_id=post.post_id,
            client_id=post.client_id, action=action, before=post, after=updated,
        )  # fmt: skip
        return updated

    updated = await mongo.retried_transaction(runtime.mongo, write)
    runtime.outbox.kick()
    return updated


@router.get("/clients/{client_id}/posts/{post_id}")
async def get_post(client_id: str, post_id: str, agency: CurrentAgency, planning: Planning) -> Post:
    return await _post_or_404(planning, agency.tenant_id, client_id, post_id)


@router.patch("/clients/{client_id}/posts/{post_id}")
async def edit_post(
    client_id: str,
    post_id: str,
    body: PostEdit,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    planning: Planning,
    runtime: RuntimeDep,
) -> Post:
    """Change a post's caption, media or link."""
    post = await _post_or_404(planning, agency.tenant_id, client_id, post_id)
    _editable(post, body.version)
    changes = body.model_dump(exclude={"version"}, exclude_none=True)
    return await _write(
        runtime, planning, post, changes, version=body.version, principal=principal,
        action="edited",
    )  # fmt: skip


@router.post("/clients/{client_id}/posts/{post_id}/reschedule")
async def reschedule_post(
    client_id: str,
    post_id: str,
    body: RescheduleIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    planning: Planning,
    runtime: RuntimeDep,
) -> Post:
    """Move a post (and its slot) to another time; publishes `PostRescheduled`."""
    post = await _post_or_404(planning, agency.tenant_id, client_id, post_id)
    _editable(post, body.version)
    zone = ZoneInfo(post.timezone)
    try:
        if body.scheduled_at.tzinfo is None:
            placed = place(body.scheduled_at, zone)
            at, local, adjustment = placed.at, placed.local, placed.adjustment
        else:
            at = body.scheduled_at.astimezone(ZoneInfo("UTC"))
            local, adjustment = at.astimezone(zone), None
    except OverflowError as e:  # year 1 or 9999 across a zone offset
        raise unprocessable("body", "scheduled_at", msg="not before 1970") from e
    if at.year > 2100:
        raise unprocessable("body", "scheduled_at", msg="not after 2100")
    if at.year < 1970:
        raise unprocessable("body", "scheduled_at", msg="not before 1970")
    wall = local.replace(tzinfo=None)
    event = PostRescheduled.new(
        producer="calendar",
        tenant_id=post.tenant_id,
        client_id=post.client_id,
        post_id=post.post_id,
        slot_id=post.slot_id,
        platform=post.platform,
        previous_scheduled_at=post.scheduled_at,
        scheduled_at=at,
        timezone=post.timezone,
        version=body.version + 1,
    )
    slot_changes = {
        "at": at,
        "local": wall.isoformat(timespec="minutes"),
        "local_date": wall.date().isoformat(),
        "dst": adjustment,
        "edited": True,
    }
    changes = {"scheduled_at": at, "local_time": local.isoformat()}
    return await _write(
        runtime,
        planning,
        post,
        changes,
        version=body.version,
        principal=principal,
        action="rescheduled",
        slot_changes=slot_changes,
        event=event,
    )


@router.post("/clients/{client_id}/posts/{post_id}/cancel")
async def cancel_post(
    client_id: str,
    post_id: str,
    body: CancelIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    planning: Planning,
    runtime: RuntimeDep,
) -> Post:
    """Cancel a post (its slot stays, marked cancelled); publishes `PostCancelled`."""
    post = await _post_or_404(planning, agency.tenant_id, client_id, post_id)
    _editable(post, body.version)
    if PostStatus.CANCELLED not in TRANSITIONS[post.status]:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"a {post.status} post cannot cancel")
    event = PostCancelled.new(
        producer="calendar",
        tenant_id=post.tenant_id,
        client_id=post.client_id,
        post_id=post.post_id,
        slot_id=post.slot_id,
        platform=post.platform,
        scheduled_at=post.scheduled_at,
        reason=body.reason,
        version=body.version + 1,
    )
    changes = {"status": PostStatus.CANCELLED.value, "cancelled_reason": body.reason or None}
    return await _write(
        runtime,
        planning,
        post,
        changes,
        version=body.version,
        principal=principal,
        action="cancelled",
        slot_changes={"status": PostStatus.CANCELLED.value},
        event=event,
    )
