"""Application service for ingestion: store a batch of observations exactly once and stage
its MetricsIngested events in the same transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord

from services.metrics.goal_tracker import GoalTracker
from services.metrics.ingest import contributions, series_key, summarize, to_document
from services.metrics.metrics import (
    INGEST_LAG,
    OBSERVATIONS_DUPLICATE,
    OBSERVATIONS_INGESTED,
    PUBLISH_LATENCY,
)
from services.metrics.repository import MetricsRepository
from shared import mongo, topics
from shared.envelope import utcnow
from shared.events import AnalyticsObserved
from shared.runtime import Runtime


async def ingest_batch(
    batch: Sequence[tuple[ConsumerRecord[Any, Any] | None, AnalyticsObserved]],
    *,
    runtime: Runtime,
    repo: MetricsRepository,
    tracker: GoalTracker | None = None,
) -> int:
    """Store new observations (replays dropped) and stage MetricsIngested; returns how many new.

    `batch` pairs each event with its Kafka record (None when it did not come from Kafka)."""
    if not batch:
        return 0
    events = [e for _, e in batch]
    unique = {e.event_id: e for e in events}  # the same observation twice in one batch
    posts = await repo.posts_by_id({e.post_id for e in unique.values() if e.post_id})
    budgets_by_post = {pid: p["budget_id"] for pid, p in posts.items() if p.get("budget_id")}
    now = utcnow()
    async with mongo.transaction(runtime.mongo) as session:
        fresh_ids = await repo.new_ids(list(unique), session=session)
        fresh = [e for e in unique.values() if e.event_id in fresh_ids]
        keys = sorted({series_key(e) for e in fresh if e.cumulative})
        states = await repo.series_states(keys, session=session) if keys else {}
        added, changed = contributions(fresh, states)
        docs = [
            to_document(
                c.event,
                contribution=c,
                post=posts.get(c.event.post_id) if c.event.post_id else None,
                stored_at=now,
            )
            for c in added
        ]
        await repo.insert(docs, session=session)
        await repo.save_series_states(changed, session=session)
        ingested = summarize(added, budgets_by_post=budgets_by_post)
        if fresh:
            await runtime.outbox.stage(session, runtime.topics(topics.METRICS_INGESTED), *ingested)
    runtime.outbox.kick()
    if fresh and tracker is not None:  # goals of these clients may have moved
        await tracker.on_ingested({(e.tenant_id, e.client_id, e.platform.value) for e in fresh})
    committed_ms = time.time() * 1000
    for record, _ in batch:
        if record is not None and record.timestamp:
            PUBLISH_LATENCY.observe(max(0.0, committed_ms - record.timestamp) / 1000)
    OBSERVATIONS_DUPLICATE.inc(len(events) - len(fresh))
    for e in fresh:
        OBSERVATIONS_INGESTED.labels(e.tenant_id, e.platform.value).inc()
        INGEST_LAG.observe(max(0.0, (now - e.observed_at).total_seconds()))
    return len(fresh)
