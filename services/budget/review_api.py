"""Pacing and review HTTP routes: projections, KPIs per channel, the (quarterly) review."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from services.budget import review
from services.budget.api import (
    Repo,
    RuntimeDep,
    find_budget,
)
from services.budget.models import Budget
from services.budget.repository import (
    BudgetRepository,
    CountsRepository,
    spend_breakdown,
)
from services.budget.service import as_of, project
from shared import mongo, topics
from shared.envelope import utcnow
from shared.events import BudgetReviewed
from shared.money import Money
from shared.runtime import CurrentAgency

router = APIRouter(tags=["budget review"])


@router.get("/budgets/{budget_id}/pacing")
async def pacing(budget_id: str, agency: CurrentAgency, repo: Repo) -> dict[str, Any]:
    """Spend projected at period end for the total and each allocation, by the linear model
    (run rate x period) and the day-of-week model (each remaining day at its weekday's
    average so far); `over` when the day-of-week projection exceeds the amount."""
    budget = await find_budget(repo, agency.tenant_id, budget_id)
    today = utcnow().date()
    rows: list[tuple[str, Money, dict[str, Decimal]]] = [
        ("total", budget.limit, budget.daily_spent)
    ] + [
        (a.id, a.planned_amount, budget.allocation_daily.get(a.id, {})) for a in budget.allocations
    ]
    out = []
    for key, limit, per_day in rows:
        p = project(per_day, budget.period_start, budget.period_end, today)
        cur = budget.limit.currency
        out.append(
            {
                "scope": key,
                "spent": str(p.spent),
                "limit": str(limit.amount),
                "projected_linear": str(Money(amount=p.linear, currency=cur).rounded().amount),
                "projected_day_of_week": str(
                    Money(amount=p.day_of_week, currency=cur).rounded().amount
                ),
                "over": p.day_of_week > limit.amount,
            }
        )
    return {"budget_id": budget_id, "as_of": as_of(budget, today).isoformat(), "scopes": out}


def get_counts(request: Request) -> CountsRepository:
    counts: CountsRepository = request.app.state.counts
    return counts


Counts = Annotated[CountsRepository, Depends(get_counts)]


class ReviewIn(BaseModel):
    """How to judge channels and how far money may move."""

    goal: Literal["leads", "clicks", "impressions", "engagements"] = "leads"
    min_share_pct: Decimal = Field(default=Decimal(5), ge=0, le=100)
    max_share_pct: Decimal = Field(default=Decimal(60), ge=0, le=100)
    shift_pct: Decimal = Field(
        default=Decimal(20), gt=0, le=100, description="At most this share of the worst channel."
    )
    quarter: str | None = Field(
        default=None,
        pattern=r"^(19[7-9]\d|2[01]\d\d)-Q[1-4]$",  # date() refuses year 0 and 10000
        description="Default: the budget's period (a quarter of 1970-2199).",
    )


async def _review(
    budget: Budget, params: ReviewIn, *, repo: BudgetRepository, counts: CountsRepository
) -> dict[str, Any]:
    start, end = budget.period_start, budget.period_end
    if params.quarter:
        year, q = int(params.quarter[:4]), int(params.quarter[-1])
        start = max(start, date(year, 3 * q - 2, 1))
        nxt = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
        end = min(end, nxt - timedelta(days=1))
    spent = await spend_breakdown(repo, budget, start, end)
    tenant, client = budget.tenant_id, budget.client_id
    channel_counts = await counts.by_platform(tenant, client, start, end)
    doc = review.review(
        budget,
        spend_by_category=spent.by_category,
        spend_by_platform=spent.by_platform,
        counts_by_platform=channel_counts,
        spend_by_campaign=spent.by_campaign,
        counts_by_campaign=await counts.by_segment(tenant, client, start, end, "campaign_id"),
        spend_by_pillar=spent.by_pillar,
        counts_by_pillar=await counts.by_segment(tenant, client, start, end, "pillar"),
        goal=params.goal,
        min_share_pct=params.min_share_pct,
        max_share_pct=params.max_share_pct,
        shift_pct=params.shift_pct,
    )
    return doc | {"from": start.isoformat(), "to": end.isoformat(), "goal": params.goal}


@router.get("/budgets/{budget_id}/review")
async def get_review(
    budget_id: str,
    agency: CurrentAgency,
    repo: Repo,
    counts: Counts,
    params: Annotated[ReviewIn, Query()],
    format: Literal["json", "csv"] = "json",
) -> Any:
    """The (quarterly) review: plan vs actual per category, KPIs per channel (CPL, CPC, CPM,
    cost per engagement, ROI where revenue is known; null when undefined), the same KPIs per
    campaign (`campaigns`: the ads API's campaign of each spend line and count) and per pillar
    (`pillars`: the post's pillar from the calendar; an allocation's campaign or pillar for
    spend booked on it), and reallocation suggestions with the figures behind them.
    `format=csv` exports it."""
    budget = await find_budget(repo, agency.tenant_id, budget_id)
    doc = await _review(budget, params, repo=repo, counts=counts)
    if format == "csv":
        return PlainTextResponse(review.review_csv(doc), media_type="text/csv")
    return doc


@router.post("/budgets/{budget_id}/review")
async def publish_review(
    budget_id: str,
    params: ReviewIn,
    agency: CurrentAgency,
    repo: Repo,
    counts: Counts,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Run the review and publish BudgetReviewed (budget.alerts.v1)."""
    budget = await find_budget(repo, agency.tenant_id, budget_id)
    doc = await _review(budget, params, repo=repo, counts=counts)
    planned = sum((a.planned_amount.amount for a in budget.allocations), Decimal(0))
    event = BudgetReviewed.new(
        producer="budget",
        tenant_id=agency.tenant_id,
        budget_id=budget_id,
        client_id=budget.client_id,
        period_start=date.fromisoformat(doc["from"]),
        period_end=date.fromisoformat(doc["to"]),
        planned=Money(amount=planned, currency=budget.limit.currency),
        spent=budget.spent,
        suggestions=len(doc["suggestions"]),
    )
    async with mongo.transaction(runtime.mongo) as session:
        await runtime.outbox.stage(session, runtime.topics(topics.BUDGET_ALERTS), event)
    runtime.outbox.kick()
    return doc | {"event_id": event.event_id}
