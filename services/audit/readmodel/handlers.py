"""The audit's own consumer of `metrics.observations.v1` (group `audit-observations`): each
batch is folded into the read model in one transaction, so an audit reads aggregates and never
raw observations. Undecodable records are skipped here: the topic's owner (metrics) sends them
to the dead-letter topic with the reason, and a second copy from the audit would only repeat it.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaRouter
from pydantic import ValidationError

from services.audit.readmodel.repository import ReadModel
from shared import mongo, topics
from shared.broker import batch_at_least_once
from shared.events import AnalyticsObserved
from shared.runtime import Runtime

GROUP = "audit-observations"
log = logging.getLogger("socialops.audit")


def build_router(runtime: Runtime, reads: ReadModel) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        topics.ANALYTICS_OBSERVATIONS, **batch_at_least_once(runtime.group(GROUP), max_records=2000)
    )  # type: ignore[untyped-decorator]
    async def on_observations(records: Any) -> None:
        """Fold the batch's observations of known agencies into the read model, once each."""
        events: list[AnalyticsObserved] = []
        for record in records:
            try:
                event = AnalyticsObserved.model_validate_json(record.value or b"")
            except (ValidationError, ValueError):
                log.info("skipped an undecodable observation at offset %s", record.offset)
                continue
            if await runtime.directory.tenant_exists(event.tenant_id):
                events.append(event)
        fresh = await reads.unseen(events)
        if fresh:
            async with mongo.transaction(runtime.mongo) as session:
                await reads.apply(fresh, session=session)

    return router
