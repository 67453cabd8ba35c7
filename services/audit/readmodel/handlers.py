"""The audit's own consumer of `metrics.observations.v1` (group `audit-observations`): each
batch is folded into the read model in one transaction, so an audit reads aggregates and never
raw observations. Undecodable records are skipped here: the topic's owner (metrics) sends them
to the dead-letter topic with the reason, and a second copy from the audit would only repeat it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from faststream.kafka import KafkaRouter
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError, OperationFailure

from services.audit.readmodel.repository import ReadModel
from shared import mongo, topics
from shared.broker import batch_at_least_once
from shared.events import AnalyticsObserved
from shared.runtime import Runtime

GROUP = "audit-observations"
FOLD_ATTEMPTS = 5
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
        await fold_once(runtime.mongo, reads, events)

    return router


async def fold_once(
    client: AsyncMongoClient[Any], reads: ReadModel, events: list[AnalyticsObserved]
) -> None:
    """Fold the events not folded yet, checking which in the same transaction. During a
    rebalance the partition's previous owner may still be folding the same records: its commit
    makes our transaction conflict, or fail on a duplicate seen-marker (rolling our fold back),
    so we look again and fold only what is still new, instead of dead-lettering the batch
    (found by `make chaos`, scenario rebalance: 90 records dead-lettered)."""
    for attempt in range(FOLD_ATTEMPTS):
        try:
            async with mongo.transaction(client) as session:
                fresh = await reads.unseen(events, session=session)
                if fresh:
                    await reads.apply(fresh, session=session)
            return
        except (BulkWriteError, OperationFailure) as e:
            raced = (isinstance(e, BulkWriteError) and mongo.only_duplicates(e)) or (
                e.has_error_label("TransientTransactionError")
            )
            if attempt == FOLD_ATTEMPTS - 1 or not raced:
                raise
            log.info("another consumer folded part of this batch meanwhile; looking again")
            await asyncio.sleep(random.uniform(0.01, 0.1) * (attempt + 1))  # noqa: S311
