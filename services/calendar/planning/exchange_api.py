"""CSV export and import of a client's slots and posts (see `planning.csv_io`). An import is
one transaction: every valid row is applied together with the `PostScheduled` of the slots
it fills, bad rows are listed; importing the same file twice changes nothing more."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Query, Request, Response
from pymongo.asynchronous.client_session import AsyncClientSession

from services.calendar.deps import Clients, RuntimeDep, client_or_404, unprocessable
from services.calendar.metrics import POSTS_SCHEDULED
from services.calendar.models import PostStatus
from services.calendar.planning import csv_io
from services.calendar.planning.api import Planning, post_for
from services.calendar.planning.csv_io import SlotRow
from services.calendar.planning.models import FillIn, Slot, SlotKind, SlotState, new_slot_id
from services.calendar.planning.repository import PlanningRepository
from services.calendar.planning.zones import place
from services.calendar.strategy.api import Strategies
from shared import mongo, topics
from shared.envelope import derived_event_id, utcnow
from shared.events import PostScheduled
from shared.runtime import CurrentAgency

router = APIRouter(tags=["planning"])
MAX_EXPORT = 20_000
MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_ERRORS_LISTED = 10_000


@router.get(
    "/clients/{client_id}/calendar.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_csv(
    client_id: str,
    agency: CurrentAgency,
    clients: Clients,
    planning: Planning,
    start: Annotated[date | None, Query(description="First local day (default today).")] = None,
    end: Annotated[
        date | None, Query(description="Day after the last (default +12 months).")
    ] = None,
) -> Response:
    """Every slot of local dates [start, end) with its post's content, as CSV."""
    await client_or_404(clients, agency.tenant_id, client_id)
    start = start or utcnow().date()
    end = end or start + relativedelta(months=12)
    slots = await planning.slots_of_client(
        agency.tenant_id, client_id, start=start.isoformat(), end=end.isoformat(), limit=MAX_EXPORT
    )
    posts = await planning.posts_by_id(agency.tenant_id, [s.post_id for s in slots if s.post_id])
    return Response(csv_io.export(slots, posts), media_type="text/csv; charset=utf-8")


@router.post("/imports/calendar/{client_id}")
async def import_csv(
    client_id: str,
    request: Request,
    agency: CurrentAgency,
    clients: Clients,
    planning: Planning,
    strategies: Strategies,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Import slots and posts from CSV: rows with a slot_id edit or fill that slot, rows with a
    platform and local time add a slot (kept on regeneration). Pillars, types and stages must
    be in the client's latest strategy. The report lists each bad row's field and reason."""
    client = await client_or_404(clients, agency.tenant_id, client_id)
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise unprocessable("body", msg=f"more than {MAX_IMPORT_BYTES} bytes; split the file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise unprocessable("body", msg=f"not UTF-8 text: {e.reason}") from e
    latest = await strategies.latest_of_client(agency.tenant_id, client_id)
    spec = latest[-1].spec if latest else None
    known = {
        "pillars": {p.name for p in spec.pillars} if spec else None,
        "types": {t.name for t in spec.content_types} if spec else None,
        "stages": {s.stage.value for s in spec.stages} if spec else None,
    }
    rows, errors = await asyncio.to_thread(csv_io.parse, text, **known)
    parsed = len(errors)

    async def write(session: AsyncClientSession) -> tuple[dict[str, int], list[PostScheduled]]:
        """Every row in one transaction (run again whole if it loses a write conflict)."""
        del errors[parsed:]
        counts = {"created": 0, "updated": 0, "filled": 0}
        events: list[PostScheduled] = []
        for row in rows:
            problem = await _apply(
                planning, row, client.timezone, agency.tenant_id, client_id, counts, events, session
            )
            if problem:
                errors.append(problem)
        for event in events:
            await runtime.outbox.stage(session, runtime.topics(topics.POSTS_SCHEDULED), event)
        return counts, events

    counts, events = await mongo.retried_transaction(runtime.mongo, write)
    runtime.outbox.kick()
    for event in events:
        POSTS_SCHEDULED.labels(agency.tenant_id, event.platform.value).inc()
    errors.sort(key=lambda e: (e.row, e.field))
    return {
        **counts,
        "rejected": len({e.row for e in errors}),
        "errors": [e.model_dump() for e in errors[:MAX_ERRORS_LISTED]],
    }


async def _apply(
    planning: PlanningRepository,
    row: SlotRow,
    zone: str,
    tenant_id: str,
    client_id: str,
    counts: dict[str, int],
    events: list[PostScheduled],
    session: Any,
) -> csv_io.CsvRowError | None:
    """Apply one valid row; a row naming a slot that does not exist is an error."""
    if row.slot_id is not None:
        slot = await planning.get_slot(tenant_id, client_id, row.slot_id, session=session)
        if slot is None:
            return csv_io.CsvRowError(row=row.row, field="slot_id", reason="no such slot")
    else:
        assert row.platform is not None and row.local is not None  # checked by csv_io
        placed = place(row.local.replace(tzinfo=None), ZoneInfo(zone))
        wall = placed.local.replace(tzinfo=None)
        name = derived_event_id(
            "manual", tenant_id, client_id, row.platform.value, row.local.isoformat()
        )
        slot_id = new_slot_id(wall.date(), name)
        slot = await planning.get_slot(tenant_id, client_id, slot_id, session=session)
        if slot is None:
            slot = Slot(
                slot_id=slot_id,
                tenant_id=tenant_id,
                client_id=client_id,
                strategy_id=None,
                strategy_version=None,
                platform=row.platform,
                kind=SlotKind.MANUAL,
                local=wall.isoformat(timespec="minutes"),
                local_date=wall.date().isoformat(),
                timezone=zone,
                at=placed.at,
                dst=placed.adjustment,
                planned_local=row.local.isoformat(timespec="minutes")
                if placed.adjustment
                else None,
                pillar=row.pillar,
                content_type=row.content_type,
                stage=row.stage,
                edited=True,
                status=SlotState.OPEN,
            )
            await planning.add_slot(slot, session=session)
            counts["created"] += 1
    changes = {
        f: getattr(row, f)
        for f in ("pillar", "content_type", "stage")
        if getattr(row, f) is not None and getattr(row, f) != getattr(slot, f)
    }
    if changes and row.slot_id is not None:
        updated = await planning.update_slot(
            slot, changes | {"edited": True}, version=slot.version, session=session
        )
        slot = updated or slot
        counts["updated"] += 1
    if row.caption is not None and slot.post_id is None:
        post, event = post_for(slot, FillIn(caption=row.caption, media=row.media, link=row.link))
        await planning.update_slot(
            slot,
            {"post_id": post.post_id, "status": PostStatus.SCHEDULED.value},
            version=slot.version,
            session=session,
        )
        await planning.posts.insert_one({"_id": post.post_id, **post.model_dump()}, session=session)
        events.append(event)
        counts["filled"] += 1
    return None
