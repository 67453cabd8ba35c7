"""Budget subscribers: spend in MetricsIngested -> ledger -> BudgetThresholdCrossed (once)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from services.budget.ledger import book_spend
from services.budget.repository import BudgetRepository
from shared import mongo, topics
from shared.broker import at_least_once
from shared.events import MetricsIngested
from shared.runtime import Runtime

GROUP = "budget"


def build_router(runtime: Runtime, repo: BudgetRepository) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.METRICS_INGESTED, **at_least_once(runtime.group(GROUP)))
    async def on_metrics_ingested(event: MetricsIngested) -> None:
        """Book the batch's spend; a replayed event books nothing twice."""
        await runtime.require_tenant(event.tenant_id)
        if not event.spend:
            return
        crossings = await mongo.run_once(
            runtime.mongo,
            runtime.db,
            consumer=GROUP,
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            effect=lambda s: book_spend(event, s, runtime=runtime, repo=repo),
        )
        if crossings:
            runtime.outbox.kick()

    return router
