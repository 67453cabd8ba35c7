"""The evergreen buffer at work: open slots coming up without content are filled from the
strategy's buffer library (a post of the slot's pillar, its type if one matches), so nothing
planned goes out empty. Reactive slots stay open."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.client_session import AsyncClientSession

from services.calendar.deps import Clients, RuntimeDep, client_or_404
from services.calendar.metrics import POSTS_SCHEDULED
from services.calendar.models import PostStatus
from services.calendar.planning.api import Planning, post_for
from services.calendar.planning.models import FillIn, SlotState
from services.calendar.strategy.api import Strategies
from services.calendar.strategy.models import BufferPost
from shared import mongo, topics
from shared.envelope import utcnow
from shared.runtime import CurrentAgency

router = APIRouter(tags=["planning"])
MAX_FILLED = 500


class BufferFillIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    before: date = Field(description="Fill open slots of local dates before this day.")


class BufferFilled(BaseModel):
    filled: int
    slot_ids: list[str]
    unmatched: int = Field(description="Open slots whose pillar has no evergreen post.")


@router.post("/clients/{client_id}/calendar/fill-from-buffer")
async def fill_from_buffer(
    client_id: str,
    body: BufferFillIn,
    agency: CurrentAgency,
    clients: Clients,
    planning: Planning,
    strategies: Strategies,
    runtime: RuntimeDep,
) -> BufferFilled:
    """Fill the open (not reactive) future slots before `before` from the evergreen buffer of
    each slot's strategy, cycling through the matching posts; one transaction."""
    await client_or_404(clients, agency.tenant_id, client_id)
    now = utcnow()
    slots = await planning.list_slots(
        agency.tenant_id,
        client_id,
        start=now.date().isoformat(),
        end=body.before.isoformat(),
        filters={"status": SlotState.OPEN.value},
        limit=MAX_FILLED,
    )
    buffers: dict[tuple[str, int], tuple[BufferPost, ...]] = {}
    used: dict[str, int] = {}
    chosen = []
    unmatched = 0
    for slot in slots:
        if slot.at < now or slot.post_id or not slot.strategy_id or not slot.strategy_version:
            continue
        key = (slot.strategy_id, slot.strategy_version)
        if key not in buffers:
            strategy = await strategies.get(agency.tenant_id, client_id, *key)
            buffers[key] = strategy.spec.buffer if strategy else ()
        matching = [b for b in buffers[key] if b.pillar == slot.pillar]
        typed = [b for b in matching if b.content_type == slot.content_type] or matching
        if not typed:
            unmatched += 1
            continue
        pillar = slot.pillar or ""
        item = typed[used.get(pillar, 0) % len(typed)]
        used[pillar] = used.get(pillar, 0) + 1
        chosen.append((slot, item))

    async def write(session: AsyncClientSession) -> list[str]:
        """Every fill in one transaction (run again whole if it loses a write conflict)."""
        filled = []
        for slot, item in chosen:
            post, event = post_for(slot, FillIn(caption=item.caption or item.title))
            done = await planning.update_slot(
                slot,
                {"post_id": post.post_id, "status": PostStatus.SCHEDULED.value},
                version=slot.version,
                session=session,
            )
            if done is None:  # changed meanwhile: leave it to whoever changed it
                continue
            await planning.posts.insert_one(
                {"_id": post.post_id, **post.model_dump()}, session=session
            )
            await runtime.outbox.stage(session, runtime.topics(topics.POSTS_SCHEDULED), event)
            filled.append(slot.slot_id)
        return filled

    filled = await mongo.retried_transaction(runtime.mongo, write)
    runtime.outbox.kick()
    for slot, _ in chosen:
        if slot.slot_id in filled:
            POSTS_SCHEDULED.labels(agency.tenant_id, slot.platform.value).inc()
    return BufferFilled(filled=len(filled), slot_ids=filled, unmatched=unmatched)
