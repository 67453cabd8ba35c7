"""What newly booked ledger entries do to a budget, in the booking's transaction: its spent
totals (budget, allocation, day) and the alerts it raises, each staged once in the outbox.

- BudgetThresholdCrossed (budget.thresholds.v1): the total reached a threshold; at 100 %
  the calendar pauses the budget's paid posts.
- BudgetAllocationThresholdCrossed (budget.alerts.v1): an allocation reached one of its
  thresholds (a warning).
- BudgetPacingAlert (budget.alerts.v1): the day-of-week projection (`service.project`) of
  the total or an allocation exceeds its amount before the period ends.
Exactly once: the budget document records what was raised, in the same transaction as the
outbox row; event ids are derived from (budget, what, generation), so a replay repeats ids.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from services.budget.metrics import SPEND_BOOKED, THRESHOLDS_CROSSED, bucket
from services.budget.models import Budget
from services.budget.repository import BudgetRepository
from services.budget.service import crossed_now, newly_crossed, project
from shared import topics
from shared.envelope import Event, derived_event_id
from shared.events import (
    BudgetAllocationThresholdCrossed,
    BudgetPacingAlert,
    BudgetThresholdCrossed,
)
from shared.money import Money
from shared.runtime import Runtime

TOTAL = "total"  # the pacing key of a budget's total


def threshold_event_id(tenant_id: str, budget_id: str, pct: int, generation: int = 0) -> str:
    """A crossing's event id: the same for a replay, distinct across tenants and resumptions."""
    if generation:
        return derived_event_id("BudgetThresholdCrossed", tenant_id, budget_id, pct, generation)
    return derived_event_id("BudgetThresholdCrossed", tenant_id, budget_id, pct)


async def settle(
    budget: Budget,
    fresh: list[dict[str, Any]],
    *,
    cause: Event | None,
    today: date,
    session: AsyncClientSession,
    runtime: Runtime,
    repo: BudgetRepository,
) -> list[Event]:
    """Add `fresh` entries (already inserted) to the budget's totals; stage the alerts they
    raise; return them."""
    if not fresh:
        return []
    currency = budget.limit.currency
    added = sum((e["amount"] for e in fresh), Decimal(0))
    by_alloc: dict[str, Decimal] = defaultdict(Decimal)
    daily = {k: v for k, v in budget.daily_spent.items()}
    alloc_daily = {k: dict(v) for k, v in budget.allocation_daily.items()}
    for e in fresh:
        day = e["spent_on"]
        daily[day] = daily.get(day, Decimal(0)) + e["amount"]
        if e.get("allocation_id"):
            by_alloc[e["allocation_id"]] += e["amount"]
            per = alloc_daily.setdefault(e["allocation_id"], {})
            per[day] = per.get(day, Decimal(0)) + e["amount"]
    spent = budget.spent.amount + added
    crossed = newly_crossed(budget, spent)
    events: list[Event] = []
    for pct in crossed:
        events.append(
            BudgetThresholdCrossed.new(
                producer="budget",
                cause=cause,
                tenant_id=budget.tenant_id,
                event_id=threshold_event_id(
                    budget.tenant_id, budget.budget_id, pct, budget.generation
                ),
                budget_id=budget.budget_id,
                client_id=budget.client_id,
                threshold_pct=pct,
                spent=Money(amount=spent, currency=currency),
                limit=budget.limit,
                pause_paid_posts=pct >= 100,
            )
        )
        THRESHOLDS_CROSSED.labels(budget.tenant_id, bucket(pct)).inc()
    alerts: list[Event] = []
    alloc_spent: dict[str, Decimal] = {}
    alloc_crossed: dict[str, list[int]] = {}
    for alloc_id, amount in by_alloc.items():
        allocation = budget.allocation_for(alloc_id)
        now = budget.allocation_spent.get(alloc_id, Decimal(0)) + amount
        alloc_spent[alloc_id] = now
        if allocation is None:
            continue
        limit = allocation.planned_amount
        pcts = crossed_now(
            allocation.thresholds_pct or budget.thresholds_pct,
            budget.allocation_crossed.get(alloc_id, []),
            now,
            limit.amount,
        )
        alloc_crossed[alloc_id] = pcts
        for pct in pcts:
            alerts.append(
                BudgetAllocationThresholdCrossed.new(
                    producer="budget",
                    cause=cause,
                    tenant_id=budget.tenant_id,
                    event_id=derived_event_id(
                        "BudgetAllocationThresholdCrossed",
                        budget.tenant_id,
                        budget.budget_id,
                        alloc_id,
                        pct,
                        budget.generation,
                    ),
                    budget_id=budget.budget_id,
                    client_id=budget.client_id,
                    allocation_id=alloc_id,
                    threshold_pct=pct,
                    spent=Money(amount=now, currency=currency),
                    limit=limit,
                )
            )
    candidates = [(TOTAL, budget.limit, daily)] + [
        (a.id, a.planned_amount, alloc_daily.get(a.id, {}))
        for a in budget.allocations
        if a.id in by_alloc
    ]
    paced, pacing = _pacing(budget, candidates, cause=cause, today=today)
    alerts += pacing
    await repo.record_spend(
        budget,
        spent,
        crossed,
        allocation_spent=alloc_spent,
        allocation_crossed=alloc_crossed,
        daily={d: daily[d] for d in {e["spent_on"] for e in fresh}},
        allocation_daily={
            k: {
                d: alloc_daily[k][d]
                for d in {e["spent_on"] for e in fresh if e.get("allocation_id") == k}
            }
            for k in by_alloc
        },
        paced=paced,
        session=session,
    )
    if added > 0:  # corrections (negative) are booked but not counted
        SPEND_BOOKED.labels(budget.tenant_id, currency).inc(float(added))
    if events:
        await runtime.outbox.stage(session, runtime.topics(topics.BUDGET_THRESHOLDS), *events)
    if alerts:
        await runtime.outbox.stage(session, runtime.topics(topics.BUDGET_ALERTS), *alerts)
    return events + alerts


def _pacing(
    budget: Budget,
    candidates: list[tuple[str, Money, dict[str, Decimal]]],
    *,
    cause: Event | None,
    today: date,
) -> tuple[list[str], list[Event]]:
    """Pacing alerts not raised before: (keys raised, events)."""
    currency = budget.limit.currency
    paced: list[str] = []
    alerts: list[Event] = []
    for key, limit, per_day in candidates:
        if key in budget.paced or limit.amount <= 0:
            continue
        projection = project(per_day, budget.period_start, budget.period_end, today)
        if projection.day_of_week <= limit.amount:
            continue
        paced.append(key)
        alerts.append(
            BudgetPacingAlert.new(
                producer="budget",
                cause=cause,
                tenant_id=budget.tenant_id,
                event_id=derived_event_id(
                    "BudgetPacingAlert", budget.tenant_id, budget.budget_id, key, budget.generation
                ),
                budget_id=budget.budget_id,
                client_id=budget.client_id,
                allocation_id=None if key == TOTAL else key,
                model="day_of_week",
                as_of=projection.as_of,
                spent=Money(amount=projection.spent, currency=currency),
                projected=Money(amount=projection.day_of_week, currency=currency).rounded(),
                limit=limit,
            )
        )
    return paced, alerts
