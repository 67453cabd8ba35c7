"""Audit subscribers: MetricsIngested -> per-client running totals (once per event)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from services.audit.repository import AuditRepository
from shared import mongo, topics
from shared.broker import at_least_once
from shared.events import MetricsIngested
from shared.runtime import Runtime

GROUP = "audit"


def build_router(runtime: Runtime, repo: AuditRepository) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.METRICS_INGESTED, **at_least_once(runtime.group(GROUP)))
    async def on_metrics_ingested(event: MetricsIngested) -> None:
        """Add the batch's totals to the client summaries; a replay adds nothing."""
        await runtime.require_tenant(event.tenant_id)
        if not event.totals:
            return
        await mongo.run_once(
            runtime.mongo,
            runtime.db,
            consumer=GROUP,
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            effect=lambda s: repo.add_totals(event, session=s),
        )

    return router
