"""Application service for ingestion: store a batch of observations exactly once and stage
its MetricsIngested events in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from services.metrics.ingest import contributions, series_key, summarize, to_document
from services.metrics.metrics import INGEST_LAG, OBSERVATIONS_DUPLICATE, OBSERVATIONS_INGESTED
from services.metrics.repository import MetricsRepository
from shared import mongo, topics
from shared.envelope import utcnow
from shared.events import AnalyticsObserved
from shared.runtime import Runtime


async def ingest_batch(
    events: Sequence[AnalyticsObserved], *, runtime: Runtime, repo: MetricsRepository
) -> int:
    """Store new observations (replays dropped) and stage MetricsIngested; returns how many new."""
    if not events:
        return 0
    unique = {e.event_id: e for e in events}  # the same observation twice in one batch
    post_ids = {e.post_id for e in unique.values() if e.post_id}
    budgets_by_post = await repo.budgets_for_posts(post_ids)
    now = utcnow()
    async with mongo.transaction(runtime.mongo) as session:
        fresh_ids = await repo.new_ids(list(unique), session=session)
        fresh = [e for e in unique.values() if e.event_id in fresh_ids]
        await repo.insert([to_document(e, stored_at=now) for e in fresh], session=session)
        keys = sorted({series_key(e) for e in fresh if e.cumulative})
        states = await repo.series_states(keys, session=session) if keys else {}
        added, changed = contributions(fresh, states)
        await repo.save_series_states(changed, session=session)
        ingested = summarize(added, budgets_by_post=budgets_by_post)
        if fresh:
            await runtime.outbox.stage(session, runtime.topics(topics.METRICS_INGESTED), *ingested)
    runtime.outbox.kick()
    OBSERVATIONS_DUPLICATE.inc(len(events) - len(fresh))
    for e in fresh:
        OBSERVATIONS_INGESTED.labels(e.tenant_id, e.platform.value).inc()
        INGEST_LAG.observe(max(0.0, (now - e.observed_at).total_seconds()))
    return len(fresh)
