"""Budget HTTP API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from services.budget.models import Budget, BudgetIn
from services.budget.repository import BudgetRepository
from shared import pages
from shared.envelope import utcnow
from shared.money import Money
from shared.runtime import CurrentAgency

router = APIRouter(tags=["budget"])


def get_repo(request: Request) -> BudgetRepository:
    repo: BudgetRepository = request.app.state.repo
    return repo


Repo = Annotated[BudgetRepository, Depends(get_repo)]


@router.post("/budgets", status_code=status.HTTP_201_CREATED)
async def create_budget(body: BudgetIn, agency: CurrentAgency, repo: Repo) -> Budget:
    """Create a budget for a client; spend is booked on it as analytics arrive."""
    budget = Budget(
        **body.model_dump(),
        budget_id=f"bu-{uuid.uuid4().hex[:12]}",
        tenant_id=agency.tenant_id,
        spent=Money.zero(body.limit.currency),
        created_at=utcnow(),
    )
    await repo.add(budget)
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
    found = await repo.list(agency.tenant_id, client_id, limit=limit + 1, start_after=start_after)
    page = found[:limit]
    if len(found) > limit:
        pages.link_next(request, response, pages.encode_cursor(page[-1].name, page[-1].budget_id))
    return page


@router.get("/budgets/{budget_id}")
async def get_budget(budget_id: str, agency: CurrentAgency, repo: Repo) -> Budget:
    budget = await repo.get(agency.tenant_id, budget_id)
    if budget is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"budget '{budget_id}' not found")
    return budget
