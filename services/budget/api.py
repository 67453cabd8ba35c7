"""Budget HTTP API: budgets and their versioned plans, resuming a paused budget, and the
helpers the other route modules share (ledger_api: entries and rates; review_api: pacing and
the review)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from services.budget.models import Budget, BudgetIn, PlanIn
from services.budget.repository import (
    BudgetRepository,
    StrategyPlatforms,
)
from shared import mongo, pages, topics
from shared.activity import stage_activity
from shared.deps import Known, app_state
from shared.deps import RuntimeDep as RuntimeDep  # noqa: PLC0414 (re-exported to ledger_api, review_api)
from shared.envelope import utcnow
from shared.events import BudgetResumed
from shared.money import Money
from shared.runtime import CurrentAgency, CurrentPrincipal

router = APIRouter(tags=["budget"])

Repo = Annotated[BudgetRepository, Depends(app_state("repo"))]
Strategies = Annotated[StrategyPlatforms, Depends(app_state("strategies"))]
CsvBody = Annotated[str, Body(media_type="text/csv")]


def unprocessable(field: str, reason: str) -> HTTPException:
    """A 422 shaped like FastAPI's own: where (the field) and why."""
    loc = ["body", *field.split(".")]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": loc, "msg": f"{field}: {reason}", "type": "value_error"}],
    )


async def find_budget(repo: BudgetRepository, tenant_id: str, budget_id: str) -> Budget:
    budget = await repo.get(tenant_id, budget_id)
    if budget is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"budget '{budget_id}' not found")
    return budget


async def _warnings(
    plan: PlanIn, *, tenant_id: str, client_id: str, strategies: StrategyPlatforms
) -> list[str]:
    """Allocations tied to a platform the client's strategy does not use (a warning only)."""
    used = await strategies.platforms(tenant_id, client_id)
    if used is None:
        return []
    return [
        f"allocations[{i}].platform: {a.platform.value} is not used by the client's strategy "
        f"({', '.join(sorted(used)) or 'no platforms'})"
        for i, a in enumerate(plan.allocations)
        if a.platform is not None and a.platform.value not in used
    ]


@router.post("/budgets", status_code=status.HTTP_201_CREATED)
async def create_budget(
    body: BudgetIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Repo,
    known: Known,
    strategies: Strategies,
    runtime: RuntimeDep,
) -> Budget:
    """Plan a budget for one of your clients (404 for a client the agency does not have):
    a limit in one currency, a period and allocations by category (version 1)."""
    await known.require(agency.tenant_id, body.client_id)
    budget = Budget(
        **body.model_dump(exclude={"allocations"}),
        allocations=body.allocations_out(),
        budget_id=f"bu-{uuid.uuid4().hex[:12]}",
        tenant_id=agency.tenant_id,
        spent=Money.zero(body.limit.currency),
        warnings=await _warnings(
            body, tenant_id=agency.tenant_id, client_id=body.client_id, strategies=strategies
        ),
        created_at=utcnow(),
    )
    other = await repo.overlapping(budget)
    if other is not None:
        raise unprocessable(
            "period_start",
            f"{body.period_start}..{body.period_end} overlaps budget {other.budget_id} "
            f"({other.period_start}..{other.period_end}) of the same client in "
            f"{body.limit.currency}",
        )
    async with mongo.transaction(runtime.mongo) as session:
        await repo.add(budget, session=session)
        await stage_activity(
            session, runtime, principal, entity="budget", entity_id=budget.budget_id,
            client_id=budget.client_id, action="created", before=None, after=budget,
        )  # fmt: skip
    runtime.outbox.kick()
    return budget


@router.get("/budgets")
async def list_budgets(
    request: Request,
    response: Response,
    agency: CurrentAgency,
    repo: Repo,
    client_id: str | None = None,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[Budget]:
    """Your budgets (of one client, with `client_id`) in name order, a page at a time (next
    page: the `X-Next-Cursor` header)."""
    position = pages.decode_cursor(cursor, 2)
    start_after = (position[0], position[1]) if position else None
    found = await repo.page(agency.tenant_id, client_id, limit=limit + 1, start_after=start_after)
    page = found[:limit]
    if len(found) > limit:
        pages.link_next(request, response, pages.encode_cursor(page[-1].name, page[-1].budget_id))
    return page


@router.get("/budgets/{budget_id}")
async def get_budget(budget_id: str, agency: CurrentAgency, repo: Repo) -> Budget:
    return await find_budget(repo, agency.tenant_id, budget_id)


@router.put("/budgets/{budget_id}/plan")
async def replace_plan(
    budget_id: str,
    body: PlanIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Repo,
    runtime: RuntimeDep,
    strategies: Strategies,
) -> Budget:
    """A new version of the plan (limit, allocations); the previous one is kept
    (`GET /budgets/{id}/versions`). Spend stays on allocations of the same id."""
    before = await find_budget(repo, agency.tenant_id, budget_id)
    if body.limit.currency != before.limit.currency:
        raise unprocessable(
            "limit.currency", f"{body.limit.currency}, but the budget is in {before.limit.currency}"
        )
    after = before.model_copy(
        update={
            "limit": body.limit,
            "allocations": body.allocations_out(),
            "overdraft": body.overdraft,
            "version": before.version + 1,
            "warnings": await _warnings(
                body, tenant_id=agency.tenant_id, client_id=before.client_id, strategies=strategies
            ),
        }
    )
    async with mongo.transaction(runtime.mongo) as session:
        if not await repo.replace_plan(before, after, note=body.note, session=session):
            raise HTTPException(status.HTTP_409_CONFLICT, detail="the plan changed meanwhile")
        await stage_activity(
            session, runtime, principal, entity="budget", entity_id=budget_id,
            client_id=before.client_id, action="plan_replaced", before=before, after=after,
        )  # fmt: skip
    runtime.outbox.kick()
    return await find_budget(repo, agency.tenant_id, budget_id)


@router.get("/budgets/{budget_id}/versions")
async def plan_versions(budget_id: str, agency: CurrentAgency, repo: Repo) -> list[dict[str, Any]]:
    """Earlier versions of the plan, oldest first (the current one is the budget itself)."""
    await find_budget(repo, agency.tenant_id, budget_id)
    return await repo.versions_of(agency.tenant_id, budget_id)


class ReasonIn(BaseModel):
    """Why (kept on the reversal or the resume event)."""

    reason: str = Field(min_length=1, max_length=500)


@router.post("/budgets/{budget_id}/resume")
async def resume(
    budget_id: str,
    body: ReasonIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Repo,
    runtime: RuntimeDep,
) -> Budget:
    """Resume a budget whose paid posts were paused at 100 %, once money was added (the plan's
    limit now exceeds the spend): publishes BudgetResumed (the calendar resumes its paused
    paid posts) and re-arms the thresholds above today's spend."""
    budget = await find_budget(repo, agency.tenant_id, budget_id)
    if not any(p >= 100 for p in budget.crossed_pct):
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the budget is not paused")
    if budget.spent.amount >= budget.limit.amount:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"spent {budget.spent} reaches the limit {budget.limit}: raise the limit first "
            "(PUT /budgets/{id}/plan)",
        )
    ratio = budget.spent.amount * 100 / budget.limit.amount
    still = [p for p in budget.crossed_pct if p <= ratio]
    event = BudgetResumed.new(
        producer="budget",
        tenant_id=agency.tenant_id,
        budget_id=budget_id,
        client_id=budget.client_id,
        reason=body.reason,
        spent=budget.spent,
        limit=budget.limit,
    )
    async with mongo.transaction(runtime.mongo) as session:
        if not await repo.rearm(budget, still, session=session):
            raise HTTPException(status.HTTP_409_CONFLICT, detail="the budget changed meanwhile")
        await runtime.outbox.stage(session, runtime.topics(topics.BUDGET_RESUMPTIONS), event)
        await stage_activity(
            session, runtime, principal, entity="budget", entity_id=budget_id,
            client_id=budget.client_id, action="resumed", before=budget,
            after={"crossed_pct": still, "reason": body.reason},
        )  # fmt: skip
    runtime.outbox.kick()
    return await find_budget(repo, agency.tenant_id, budget_id)
