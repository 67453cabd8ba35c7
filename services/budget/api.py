"""Budget HTTP API: budgets and their versioned plans, the spend ledger (manual entries over
JSON and CSV, reversals), rate tables, pacing and resuming a paused budget."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, ValidationError

from services.budget import entries as ledger_entries
from services.budget import review
from services.budget.models import Budget, BudgetIn, PlanIn
from services.budget.repository import (
    BudgetRepository,
    CountsRepository,
    StrategyPlatforms,
    spend_breakdown,
)
from services.budget.service import as_of, project
from shared import mongo, pages, topics
from shared.envelope import utcnow
from shared.events import BudgetResumed, BudgetReviewed
from shared.known_clients import KnownClients
from shared.money import Money
from shared.runtime import CurrentAgency, Runtime, get_runtime

router = APIRouter(tags=["budget"])


def get_repo(request: Request) -> BudgetRepository:
    repo: BudgetRepository = request.app.state.repo
    return repo


def get_known(request: Request) -> KnownClients:
    known: KnownClients = request.app.state.known
    return known


Repo = Annotated[BudgetRepository, Depends(get_repo)]
Known = Annotated[KnownClients, Depends(get_known)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CsvBody = Annotated[str, Body(media_type="text/csv")]


def unprocessable(field: str, reason: str) -> HTTPException:
    """A 422 shaped like FastAPI's own: where (the field) and why."""
    loc = ["body", *field.split(".")]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": loc, "msg": f"{field}: {reason}", "type": "value_error"}],
    )


async def _budget(repo: BudgetRepository, tenant_id: str, budget_id: str) -> Budget:
    budget = await repo.get(tenant_id, budget_id)
    if budget is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"budget '{budget_id}' not found")
    return budget


def get_strategies(request: Request) -> StrategyPlatforms:
    strategies: StrategyPlatforms = request.app.state.strategies
    return strategies


Strategies = Annotated[StrategyPlatforms, Depends(get_strategies)]


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
    body: BudgetIn, agency: CurrentAgency, repo: Repo, known: Known, strategies: Strategies
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
    return await _budget(repo, agency.tenant_id, budget_id)


@router.put("/budgets/{budget_id}/plan")
async def replace_plan(
    budget_id: str,
    body: PlanIn,
    agency: CurrentAgency,
    repo: Repo,
    runtime: RuntimeDep,
    strategies: Strategies,
) -> Budget:
    """A new version of the plan (limit, allocations); the previous one is kept
    (`GET /budgets/{id}/versions`). Spend stays on allocations of the same id."""
    before = await _budget(repo, agency.tenant_id, budget_id)
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
    return await _budget(repo, agency.tenant_id, budget_id)


@router.get("/budgets/{budget_id}/versions")
async def plan_versions(budget_id: str, agency: CurrentAgency, repo: Repo) -> list[dict[str, Any]]:
    """Earlier versions of the plan, oldest first (the current one is the budget itself)."""
    await _budget(repo, agency.tenant_id, budget_id)
    return await repo.versions_of(agency.tenant_id, budget_id)


def _entry_out(entry: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in entry.items() if k != "_id"}
    out["entry_id"] = entry["_id"]
    return out


@router.post("/budgets/{budget_id}/entries", status_code=status.HTTP_201_CREATED)
async def add_entry(
    budget_id: str,
    body: ledger_entries.EntryIn,
    response: Response,
    agency: CurrentAgency,
    repo: Repo,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Book a manual entry (tool, staff time, design invoice). The same `idempotency_key`
    again books nothing and answers 200 with the entry as booked. Another currency converts
    at your rate for `spent_on` (kept on the entry); no rate: 422."""
    budget = await _budget(repo, agency.tenant_id, budget_id)
    try:
        entry = await ledger_entries.prepare(budget, body, repo=repo)
    except ledger_entries.RefusedEntryError as e:
        raise unprocessable(e.field, str(e).split(": ", 1)[1]) from e
    [booked] = await ledger_entries.book_manual(
        budget, [entry], cause=None, runtime=runtime, repo=repo
    )
    if not booked.new:
        response.status_code = status.HTTP_200_OK
    return _entry_out(booked.entry)


ENTRY_COLUMNS = ("idempotency_key", "spent_on", "amount", "currency", "category", "description")


@router.post("/budgets/{budget_id}/entries.csv")
async def import_entries(
    budget_id: str, body: CsvBody, agency: CurrentAgency, repo: Repo, runtime: RuntimeDep
) -> dict[str, Any]:
    """Book manual entries from CSV (header: idempotency_key,spent_on,amount,currency,
    category,description). All rows or none: any bad row is a 422 naming row and field."""
    budget = await _budget(repo, agency.tenant_id, budget_id)
    reader = csv.DictReader(io.StringIO(body))
    missing = set(ENTRY_COLUMNS[:4]) - set(reader.fieldnames or [])
    if missing:
        raise unprocessable("header", f"missing column(s) {', '.join(sorted(missing))}")
    prepared: list[dict[str, Any]] = []
    for n, row in enumerate(reader, start=1):
        where = f"row {n}."
        try:
            entry_in = ledger_entries.EntryIn(
                idempotency_key=row["idempotency_key"],
                spent_on=row["spent_on"],
                amount={"amount": row["amount"], "currency": row["currency"]},
                category=row.get("category") or None,
                description=row.get("description") or None,
            )
            prepared.append(await ledger_entries.prepare(budget, entry_in, repo=repo, row=where))
        except ValidationError as e:
            err = e.errors(include_url=False)[0]
            field = ".".join(str(p) for p in err["loc"]) or "row"
            raise unprocessable(f"{where}{field}", err["msg"]) from e
        except ledger_entries.RefusedEntryError as e:
            raise unprocessable(e.field, str(e).split(": ", 1)[1]) from e
    if len({e["_id"] for e in prepared}) != len(prepared):
        raise unprocessable("idempotency_key", "repeats within the file")
    booked = await ledger_entries.book_manual(
        budget, prepared, cause=None, runtime=runtime, repo=repo
    )
    return {
        "rows": len(booked),
        "booked": sum(b.new for b in booked),
        "already_booked": sum(not b.new for b in booked),
    }


@router.get("/budgets/{budget_id}/entries")
async def list_entries(
    budget_id: str, agency: CurrentAgency, repo: Repo, limit: pages.Limit = pages.DEFAULT_PAGE
) -> list[dict[str, Any]]:
    """The ledger of a budget in booking order (append-only: corrections are reversals)."""
    await _budget(repo, agency.tenant_id, budget_id)
    return [_entry_out(e) for e in await repo.entries(agency.tenant_id, budget_id, limit=limit)]


class ReverseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/budgets/{budget_id}/entries/{entry_id}/reverse", status_code=201)
async def reverse_entry(
    budget_id: str,
    entry_id: str,
    body: ReverseIn,
    response: Response,
    agency: CurrentAgency,
    repo: Repo,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Cancel an entry with a reversing entry (once; again answers 200 with it)."""
    budget = await _budget(repo, agency.tenant_id, budget_id)
    original = await repo.entry(agency.tenant_id, entry_id)
    if original is None or original["budget_id"] != budget_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"entry '{entry_id}' not found")
    if original.get("kind") == "reversal":
        raise unprocessable("entry_id", "is itself a reversal")
    rev = ledger_entries.reversal(original, reason=body.reason)
    [booked] = await ledger_entries.book_manual(
        budget, [rev], cause=None, runtime=runtime, repo=repo
    )
    if not booked.new:
        response.status_code = status.HTTP_200_OK
    return _entry_out(booked.entry)


@router.post("/rates")
async def put_rates(
    body: list[ledger_entries.RateIn], agency: CurrentAgency, repo: Repo
) -> dict[str, int]:
    """Supply exchange rates by date (1 base = rate quote); a day's rate can be replaced."""
    rows = [r.model_dump() for r in body]
    return {"stored": await repo.put_rates(agency.tenant_id, rows)}


@router.post("/rates.csv")
async def import_rates(body: CsvBody, agency: CurrentAgency, repo: Repo) -> dict[str, int]:
    """Import reference rates from CSV (header: date,base,quote,rate), all rows or none."""
    rows: list[dict[str, Any]] = []
    for n, row in enumerate(csv.DictReader(io.StringIO(body)), start=1):
        try:
            rows.append(ledger_entries.RateIn.model_validate(row).model_dump())
        except (ValidationError, InvalidOperation) as e:
            detail = e.errors(include_url=False)[0] if isinstance(e, ValidationError) else None
            field = ".".join(str(p) for p in detail["loc"]) if detail else "rate"
            raise unprocessable(f"row {n}.{field}", detail["msg"] if detail else str(e)) from e
    return {"stored": await repo.put_rates(agency.tenant_id, rows)}


@router.get("/budgets/{budget_id}/pacing")
async def pacing(budget_id: str, agency: CurrentAgency, repo: Repo) -> dict[str, Any]:
    """Spend projected at period end for the total and each allocation, by the linear model
    (run rate x period) and the day-of-week model (each remaining day at its weekday's
    average so far); `over` when the day-of-week projection exceeds the amount."""
    budget = await _budget(repo, agency.tenant_id, budget_id)
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


@router.post("/budgets/{budget_id}/resume")
async def resume(
    budget_id: str, body: ReverseIn, agency: CurrentAgency, repo: Repo, runtime: RuntimeDep
) -> Budget:
    """Resume a budget whose paid posts were paused at 100 %, once money was added (the plan's
    limit now exceeds the spend): publishes BudgetResumed (the calendar resumes its paused
    paid posts) and re-arms the thresholds above today's spend."""
    budget = await _budget(repo, agency.tenant_id, budget_id)
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
    runtime.outbox.kick()
    return await _budget(repo, agency.tenant_id, budget_id)


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
        default=None, pattern=r"^\d{4}-Q[1-4]$", description="Default: the budget's period."
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
    by_cat, by_platform = await spend_breakdown(repo, budget, start, end)
    channel_counts = await counts.by_platform(budget.tenant_id, budget.client_id, start, end)
    doc = review.review(
        budget,
        spend_by_category=by_cat,
        spend_by_platform=by_platform,
        counts_by_platform=channel_counts,
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
    cost per engagement, ROI where revenue is known; null when undefined) and reallocation
    suggestions with the figures behind them. `format=csv` exports it."""
    budget = await _budget(repo, agency.tenant_id, budget_id)
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
    budget = await _budget(repo, agency.tenant_id, budget_id)
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
