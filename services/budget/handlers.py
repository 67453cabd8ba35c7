"""Budget subscribers: MetricsIngested (metrics.ingested.v1) -> spend into the ledger, counts
per channel -> BudgetThresholdCrossed / allocation thresholds / BudgetPacingAlert (once,
services.budget.alerts). Clients are learned in shared.known_clients (calendar.clients.v1)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from pymongo.asynchronous.client_session import AsyncClientSession

from services.budget.ledger import Booking, book_spend, count_unbooked, dead_letter_refused
from services.budget.repository import BudgetRepository, CountsRepository, StrategyPlatforms
from shared import mongo, topics
from shared.broker import at_least_once
from shared.events import MetricsIngested, StrategyUpdated
from shared.runtime import Runtime

GROUP = "budget"


def build_router(
    runtime: Runtime,
    repo: BudgetRepository,
    counts: CountsRepository,
    strategies: StrategyPlatforms,
) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.METRICS_INGESTED, **at_least_once(runtime.group(GROUP)))  # type: ignore[untyped-decorator]
    async def on_metrics_ingested(event: MetricsIngested, msg: KafkaMessage) -> None:
        """Book the batch's spend; a replayed event books nothing twice. Lines no budget takes
        are dead-lettered one by one (ledger module doc), the others booked."""
        await runtime.require_tenant(event.tenant_id)
        if not event.spend and not event.totals and not event.segments:
            return

        async def effect(session: AsyncClientSession) -> Booking:
            totals = [(t.client_id, t.platform.value, t.metrics) for t in event.totals]
            await counts.add(event.tenant_id, event.occurred_at.date(), totals, session=session)
            if event.segments:
                segments = [
                    (s.client_id, s.platform.value, s.campaign_id, s.pillar, s.metrics)
                    for s in event.segments
                ]
                await counts.add_segments(
                    event.tenant_id, event.occurred_at.date(), segments, session=session
                )
            booking = await book_spend(event, session, runtime=runtime, repo=repo)
            await dead_letter_refused(
                booking.refused, event=event, source=msg.raw_message, runtime=runtime
            )
            return booking

        booking = await mongo.run_once(
            runtime.mongo,
            runtime.db,
            consumer=GROUP,
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            effect=effect,
        )
        if booking is None:  # a replay
            return
        count_unbooked(booking)
        if booking.crossings:
            runtime.outbox.kick()

    @router.subscriber(topics.STRATEGIES, **at_least_once(runtime.group(f"{GROUP}-strategies")))  # type: ignore[untyped-decorator]
    async def on_strategy_updated(event: StrategyUpdated) -> None:
        """Remember the platforms of each strategy's latest version (allocations for other
        platforms get a warning); a replay or an older version changes nothing."""
        await runtime.require_tenant(event.tenant_id)
        await strategies.record(event)

    return router
