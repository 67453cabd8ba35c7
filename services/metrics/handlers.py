"""Metrics subscribers: the calendar's post events (know the post: PostScheduled on
calendar.posts.scheduled.v1; PostPublished, PostRescheduled, PostCancelled on
calendar.posts.lifecycle.v1) and analytics observations (batches)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaRouter

from services.metrics.metrics import BATCH_SIZE, OBSERVATIONS_REJECTED
from services.metrics.pipeline import YIELD_EVERY, Batch, Ingestion
from services.metrics.repository import MetricsRepository
from services.metrics.validation import ObservationRejectedError, check_observation
from shared import topics
from shared.batch import decode_batch
from shared.broker import at_least_once, batch_at_least_once
from shared.delivery import PermanentError
from shared.events import (
    POST_LIFECYCLE_EVENTS,
    AnalyticsObserved,
    PostCancelled,
    PostPublished,
    PostRescheduled,
    PostScheduled,
)
from shared.runtime import Runtime

GROUP = "metrics"


def build_router(
    runtime: Runtime, repo: MetricsRepository, ingestion: Ingestion, *, max_records: int
) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.POSTS_SCHEDULED, **at_least_once(runtime.group(GROUP)))
    async def on_post_scheduled(event: PostScheduled) -> None:
        """Remember the post so observations and spend can be joined to it."""
        await runtime.require_tenant(event.tenant_id)
        await ingestion.facts.scheduled(event)
        ingestion.remember_post(event)

    @router.subscriber(topics.POST_LIFECYCLE, **at_least_once(runtime.group(GROUP)))
    async def on_post_lifecycle(body: dict[str, Any]) -> None:
        """Follow a post's time and status; learn the platform's id of a published post so
        observations keyed by that id join it. Other lifecycle events say nothing metrics
        keeps (due, failed, paused, resumed)."""
        kind = POST_LIFECYCLE_EVENTS.get(str(body.get("event_type")))
        if kind is None:
            raise PermanentError(f"unknown event_type {str(body.get('event_type'))[:100]!r}")
        event = kind.model_validate(body)
        await runtime.require_tenant(event.tenant_id)
        if isinstance(event, PostPublished):
            ingestion.remember_published(event, await ingestion.facts.published(event))
        elif isinstance(event, PostRescheduled):
            await ingestion.facts.rescheduled(event)
        elif isinstance(event, PostCancelled):
            await ingestion.facts.cancelled(event)

    @router.subscriber(
        topics.ANALYTICS_OBSERVATIONS,
        **batch_at_least_once(
            runtime.group(GROUP),
            max_records=max_records,
            listener=ingestion.rebalance_listener(),
        ),
    )
    async def on_observations(records: Any) -> None:
        """Validate each record (poison -> .dlq), then store the batch in one transaction."""
        BATCH_SIZE.observe(len(records))
        await ingestion.ingest_records(records, decode)

    async def decode(chunk: Sequence[ConsumerRecord[Any, Any]]) -> Batch:
        return await decode_batch(
            chunk,
            AnalyticsObserved,
            dead_letters=runtime.dead_letters,
            check=accept,
            yield_every=YIELD_EVERY,
        )

    async def accept(record: ConsumerRecord[Any, Any], event: AnalyticsObserved) -> None:
        try:
            check_observation(event, key=record.key)
        except ObservationRejectedError as e:
            OBSERVATIONS_REJECTED.labels(event.platform.value, "invalid").inc()
            raise PermanentError(str(e)) from e
        await runtime.require_tenant(event.tenant_id)

    return router
