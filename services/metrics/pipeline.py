"""Application service for ingestion: store a batch of observations exactly once and stage
its MetricsIngested events in the same transaction.

Per batch the database sees the inserts, the outbox event and one commit. Series states and
post facts come from in-memory caches (see `caches.py`); only cache misses read the
database, outside the transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from pymongo.errors import BulkWriteError

from services.metrics.caches import ClearOnRebalance, Lru
from services.metrics.goal_tracker import GoalTracker
from services.metrics.ingest import (
    SeriesState,
    contributions,
    series_filter,
    series_key,
    summarize,
    to_document,
)
from services.metrics.metrics import (
    INGEST_LAG,
    OBSERVATIONS_DUPLICATE,
    OBSERVATIONS_INGESTED,
    PUBLISH_LATENCY,
)
from services.metrics.repository import MetricsRepository
from shared import mongo, topics
from shared.envelope import utcnow
from shared.events import AnalyticsObserved, PostScheduled
from shared.runtime import Runtime

Batch = Sequence[tuple[ConsumerRecord[Any, Any] | None, AnalyticsObserved]]
POST_FIELDS = ("budget_id", "pillar", "content_type")


class Ingestion:
    """Stores observation batches; owns the hot-path caches of one consumer."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        repo: MetricsRepository,
        tracker: GoalTracker | None = None,
        series_cache_size: int = 200_000,
        post_cache_size: int = 100_000,
    ) -> None:
        self.runtime = runtime
        self.repo = repo
        self.tracker = tracker
        self.series: Lru[SeriesState] = Lru(series_cache_size)
        self.posts: Lru[dict[str, Any]] = Lru(post_cache_size, ttl_s=600)

    def rebalance_listener(self) -> ClearOnRebalance:
        """Give to the observations subscriber: partition changes invalidate series states."""
        return ClearOnRebalance(self.series)

    def remember_post(self, event: PostScheduled) -> None:
        self.posts.put_many({event.post_id: {f: getattr(event, f) for f in POST_FIELDS}})

    async def _posts(self, post_ids: set[str]) -> dict[str, dict[str, Any]]:
        found, missing = self.posts.get_many(post_ids)
        if missing:
            loaded = await self.repo.posts_by_id(set(missing))
            self.posts.put_many(loaded)
            found |= loaded
        return found

    async def _states(self, fresh: list[AnalyticsObserved]) -> dict[str, SeriesState]:
        wanted = {series_key(e): e for e in fresh if e.cumulative}
        found, missing = self.series.get_many(wanted)
        if missing:
            found |= await self.repo.latest_states({k: series_filter(wanted[k]) for k in missing})
        return found

    async def ingest_records(
        self,
        records: Sequence[ConsumerRecord[Any, Any]],
        decode: Callable[[Sequence[ConsumerRecord[Any, Any]]], Awaitable[Batch]],
        *,
        chunk: int = 2500,
    ) -> int:
        """Ingest a consumed batch chunk by chunk, decoding chunk k+1 while chunk k is being
        written, so this process's CPU work overlaps the database's. Chunks commit in order;
        a failure fails the batch, whose retry skips what was already stored."""
        in_flight: asyncio.Task[int] | None = None
        stored = 0
        for start in range(0, len(records), chunk):
            valid = await decode(records[start : start + chunk])
            if in_flight is not None:
                stored += await in_flight  # chunk k committed: its series states are known
            in_flight = asyncio.create_task(self.ingest(valid))
        if in_flight is not None:
            stored += await in_flight
        return stored

    async def ingest(self, batch: Batch) -> int:
        """Store new observations (replays dropped) and stage MetricsIngested; returns how
        many were new. `batch` pairs each event with its Kafka record (None: not from Kafka).

        Replays are rare, so the batch is first written as if all were new; the unique `_id`
        rejects a replay, the transaction rolls back, and only then are stored ids looked up.
        """
        if not batch:
            return 0
        unique = {e.event_id: e for _, e in batch}  # the same observation twice in one batch
        try:
            fresh = await self._store(list(unique.values()))
        except BulkWriteError as e:
            if not mongo.only_duplicates(e):
                raise
            # some were stored before (a replay, or another consumer before a rebalance):
            # what we assumed about their series may be stale too
            self.series.clear()
            new = await self.repo.new_ids(list(unique))
            fresh = await self._store([e for e in unique.values() if e.event_id in new])
        self._observe(batch, fresh)
        return len(fresh)

    async def _store(self, fresh: list[AnalyticsObserved]) -> list[AnalyticsObserved]:
        """Insert observations and their MetricsIngested in one transaction (all or none)."""
        if not fresh:
            return fresh
        posts = await self._posts({e.post_id for e in fresh if e.post_id})
        budgets_by_post = {pid: p["budget_id"] for pid, p in posts.items() if p.get("budget_id")}
        states = await self._states(fresh)
        added, changed = contributions(fresh, states)
        now = utcnow()
        docs = [
            to_document(
                c.event, contribution=c, post=posts.get(c.event.post_id or ""), stored_at=now
            )
            for c in added
        ]
        ingested = summarize(added, budgets_by_post=budgets_by_post)
        runtime = self.runtime
        async with mongo.transaction(runtime.mongo) as session:
            await self.repo.insert(docs, session=session)
            await runtime.outbox.stage(session, runtime.topics(topics.METRICS_INGESTED), *ingested)
        self.series.put_many(changed)  # only once committed
        runtime.outbox.kick()
        if self.tracker is not None:  # goals of these clients may have moved
            await self.tracker.on_ingested(
                {(e.tenant_id, e.client_id, e.platform.value) for e in fresh}
            )
        return fresh

    @staticmethod
    def _observe(batch: Batch, fresh: list[AnalyticsObserved]) -> None:
        now = utcnow()
        committed_ms = time.time() * 1000
        for record, _ in batch:
            if record is not None and record.timestamp:
                PUBLISH_LATENCY.observe(max(0.0, committed_ms - record.timestamp) / 1000)
        OBSERVATIONS_DUPLICATE.inc(len(batch) - len(fresh))
        for e in fresh:
            OBSERVATIONS_INGESTED.labels(e.tenant_id, e.platform.value).inc()
            INGEST_LAG.observe(max(0.0, (now - e.observed_at).total_seconds()))
