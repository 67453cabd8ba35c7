"""Routes of plan adherence: a client's report over ISO weeks of its zone, and its threshold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.calendar.adherence.monitor import AdherenceMonitor, AdherenceReport
from services.calendar.adherence.score import monday
from services.calendar.deps import Clients, client_or_404, unprocessable
from shared.bounds import Day, Instant
from shared.runtime import CurrentAgency

router = APIRouter(tags=["adherence"])
MAX_WEEKS = 53


def get_monitor(request: Request) -> AdherenceMonitor:
    monitor: AdherenceMonitor = request.app.state.adherence.monitor
    return monitor


Monitor = Annotated[AdherenceMonitor, Depends(get_monitor)]


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Decimal = Field(ge=0, le=1, max_digits=5, decimal_places=4, examples=["0.8"])


class Threshold(BaseModel):
    client_id: str
    threshold: Decimal


@router.get("/clients/{client_id}/adherence")
async def adherence(
    client_id: str,
    agency: CurrentAgency,
    clients: Clients,
    monitor: Monitor,
    start: Annotated[
        Day | None,
        Query(
            alias="from",
            description="A day of the first ISO week (client's zone); default: "
            "the client's last complete weeks",
        ),
    ] = None,
    end: Annotated[
        Day | None,
        Query(
            alias="to",
            description="Exclusive: weeks up to the one before this day's week "
            "(a Monday ends exactly there)",
        ),
    ] = None,
    as_of: Annotated[
        Instant | None,
        Query(
            description="Judge the plan as of this instant (default now): slots after it "
            "are upcoming, not counted as planned"
        ),
    ] = None,
) -> AdherenceReport:
    """Planned slots vs published posts per ISO week (client's zone) and platform, the mix of
    pillars, types and stages against the strategy's targets, and consistency (README "Plan
    adherence" has the formulas)."""
    client = await client_or_404(clients, agency.tenant_id, client_id)
    default_start, default_end = monitor.judged_weeks(client.timezone)
    first = monday(start) if start else default_start
    last = (monday(end - timedelta(days=1)) + timedelta(weeks=1)) if end else default_end
    if end and start and end <= start:
        raise unprocessable("query", "to", msg="must be after 'from'")
    if last <= first:
        raise unprocessable("query", "from", msg="must be before 'to' (or today's week)")
    if (last - first).days // 7 > MAX_WEEKS:
        raise unprocessable("query", "to", msg=f"at most {MAX_WEEKS} weeks after 'from'")
    return await monitor.report(
        agency.tenant_id, client_id, client.timezone, first, last, now=as_of
    )


@router.put("/clients/{client_id}/adherence/threshold")
async def set_threshold(
    client_id: str, body: ThresholdIn, agency: CurrentAgency, clients: Clients, monitor: Monitor
) -> Threshold:
    """Below this share of kept planned slots (0..1) the client gets `AdherenceDropped`."""
    await client_or_404(clients, agency.tenant_id, client_id)
    await monitor.repo.set_threshold(agency.tenant_id, client_id, body.threshold)
    return Threshold(client_id=client_id, threshold=body.threshold)
