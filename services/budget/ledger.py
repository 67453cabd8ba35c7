"""Application service: book a MetricsIngested event's spend on budgets and stage one
BudgetThresholdCrossed per newly crossed threshold, all in one transaction."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from pymongo.asynchronous.client_session import AsyncClientSession

from services.budget.metrics import SPEND_BOOKED, THRESHOLDS_CROSSED
from services.budget.repository import BudgetRepository
from services.budget.service import applies_to, newly_crossed
from shared import topics
from shared.envelope import derived_event_id, utcnow
from shared.events import BudgetThresholdCrossed, MetricsIngested
from shared.money import Money
from shared.runtime import Runtime


async def book_spend(
    event: MetricsIngested,
    session: AsyncClientSession,
    *,
    runtime: Runtime,
    repo: BudgetRepository,
) -> list[BudgetThresholdCrossed]:
    """Book spend lines once per (budget, observation); return the crossings staged."""
    if not event.spend:
        return []
    budgets = await repo.for_clients(
        event.tenant_id, {line.client_id for line in event.spend}, session=session
    )
    entries = [
        {
            "_id": f"{b.budget_id}:{line.observation_id}",
            "tenant_id": event.tenant_id,
            "budget_id": b.budget_id,
            "observation_id": line.observation_id,
            "amount": line.amount,
            "currency": line.currency,
            "observed_at": line.observed_at,
            "booked_at": utcnow(),
            "event_id": event.event_id,
        }
        for line in event.spend
        for b in budgets
        if applies_to(b, line) and line.currency == b.limit.currency
    ]
    fresh = await repo.book(entries, session=session)
    added: dict[str, Decimal] = defaultdict(Decimal)
    for entry in fresh:
        added[entry["budget_id"]] += entry["amount"]
    crossings: list[BudgetThresholdCrossed] = []
    for budget in budgets:
        if budget.budget_id not in added:
            continue
        spent = budget.spent.amount + added[budget.budget_id]
        crossed = newly_crossed(budget, spent)
        await repo.record_spend(budget.budget_id, spent, crossed, session=session)
        if added[budget.budget_id] > 0:  # corrections (negative) are booked but not counted
            SPEND_BOOKED.labels(event.tenant_id, budget.limit.currency).inc(
                float(added[budget.budget_id])
            )
        for pct in crossed:
            crossings.append(
                BudgetThresholdCrossed.new(
                    producer="budget",
                    cause=event,
                    event_id=derived_event_id("BudgetThresholdCrossed", budget.budget_id, pct),
                    budget_id=budget.budget_id,
                    client_id=budget.client_id,
                    threshold_pct=pct,
                    spent=Money(amount=spent, currency=budget.limit.currency),
                    limit=budget.limit,
                    pause_paid_posts=pct >= 100,
                )
            )
            THRESHOLDS_CROSSED.labels(event.tenant_id, str(pct)).inc()
    if crossings:
        await runtime.outbox.stage(session, runtime.topics(topics.BUDGET_THRESHOLDS), *crossings)
    return crossings
