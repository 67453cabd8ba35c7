"""Underspend sweep: once a budget reaches its check point (`underspend_check_pct` of the
period elapsed) with spend below `underspend_min_pct` of the linear expectation, publish
BudgetUnderspent (budget.alerts.v1) once: the flag and the outbox row commit together, and
the event id is derived from the budget, so two processes sweeping at once publish one."""

from __future__ import annotations

import asyncio
import logging

from services.budget.repository import BudgetRepository
from services.budget.service import as_of, underspent
from shared import mongo, tasks, topics
from shared.envelope import derived_event_id, utcnow
from shared.events import BudgetUnderspent
from shared.money import Money
from shared.runtime import Runtime

log = logging.getLogger(__name__)


async def sweep(*, runtime: Runtime, repo: BudgetRepository) -> int:
    """Check every budget in its period not flagged yet; return how many were flagged."""
    today = utcnow().date()
    flagged = 0
    for budget in await repo.unchecked_for_underspend(today):
        low, expected = underspent(budget, today)
        if not low:
            continue
        event = BudgetUnderspent.new(
            producer="budget",
            tenant_id=budget.tenant_id,
            event_id=derived_event_id("BudgetUnderspent", budget.tenant_id, budget.budget_id),
            budget_id=budget.budget_id,
            client_id=budget.client_id,
            as_of=as_of(budget, today),
            spent=budget.spent,
            expected=Money(amount=expected, currency=budget.limit.currency).rounded(),
            limit=budget.limit,
        )
        async with mongo.transaction(runtime.mongo) as session:
            if await repo.mark_underspent(budget, session=session):
                await runtime.outbox.stage(session, runtime.topics(topics.BUDGET_ALERTS), event)
                flagged += 1
    if flagged:
        runtime.outbox.kick()
    return flagged


async def run(*, runtime: Runtime, repo: BudgetRepository, interval_s: float) -> None:
    """Sweep every `interval_s` seconds until cancelled."""
    while True:
        try:
            await sweep(runtime=runtime, repo=repo)
        except Exception:  # a failed sweep is retried at the next interval
            tasks.raise_if_stopping()
            log.exception("underspend sweep failed")
        await asyncio.sleep(interval_s)
