"""Application service for ingestion: store a batch of observations exactly once and stage
its MetricsIngested events in the same transaction.

Per chunk of a consumed batch the database sees one insert of bucket documents (see
`repository.py`), the outbox event and one commit. Stored ids, series states and post facts
come from in-memory caches (see `caches.py`); only cache misses read the database, outside the
transaction.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord
from pymongo.errors import BulkWriteError

from services.metrics.caches import ClearOnRebalance, Lru
from services.metrics.goal_tracker import GoalTracker
from services.metrics.ingest import (
    SeriesState,
    contributions,
    period_start,
    series_filter,
    series_key,
    summarize,
    to_document,
)
from services.metrics.metrics import (
    INGEST_LAG,
    INGEST_STAGE_SECONDS,
    OBSERVATIONS_DUPLICATE,
    OBSERVATIONS_INGESTED,
    PUBLISH_LATENCY,
    STORE_REFUSED,
)
from services.metrics.post_facts import POST_LEVELS, PostFacts, platform_key, post_key
from services.metrics.repository import (
    LOCAL,
    BucketKey,
    Mark,
    MetricsRepository,
    Origin,
    bucket_documents,
    bucket_key,
    mark_documents,
)
from shared import mongo, topics
from shared.delivery import describe, is_transient
from shared.envelope import utcnow
from shared.events import AnalyticsObserved, MetricsIngested, PostPublished, PostScheduled
from shared.runtime import Runtime

log = logging.getLogger("socialops.metrics.ingestion")
Batch = Sequence[tuple[ConsumerRecord[Any, Any] | None, AnalyticsObserved]]
POST_FIELDS = ("budget_id", "pillar", "content_type")  # what a PostScheduled tells
DECODE_SECONDS, PREPARE_SECONDS, WRITE_SECONDS = (
    INGEST_STAGE_SECONDS.labels(stage) for stage in ("decode", "prepare", "write")
)
STORE_ATTEMPTS = 5  # a bucket collision means another consumer stored some records meanwhile
YIELD_EVERY = 50  # CPU-bound steps let the event loop run the write in flight this often


def even_bounds(n: int, chunk: int) -> list[tuple[int, int]]:
    """n records cut into ceil(n / chunk) contiguous chunks of (nearly) equal size."""
    if n <= 0:
        return []
    parts = -(-n // max(1, chunk))
    cuts = [n * i // parts for i in range(parts + 1)]
    return list(itertools.pairwise(cuts))


class ChunkPlanner:
    """Chunk sizes of a consumed batch from what chunks measurably cost, within a latency
    budget (`METRICS_INGEST_LATENCY_BUDGET_MS`).

    Chunks are pipelined: chunk k+1 is decoded and prepared (this process's CPU, `p` seconds
    per record) while chunk k is written (the database: `a` seconds per transaction plus `b`
    per record, fitted to the chunks written lately). A batch of n records cut into chunks of c
    is stored after about P(c) + (k-1) max(P(c), W(c)) + W(c), k = ceil(n / c). The planner
    takes the c that stores the batch soonest, preferring larger chunks (fewer transactions) on
    near ties that still meet the budget. So a light load (few records per batch: the arrival
    rate times the previous batch's time) is written at once or in a few chunks whose writes
    overlap the next chunk's preparation, as soon as it arrived; a backlog that cannot be
    stored within the budget anyway gets chunks up to `max_chunk`, which amortize the
    transaction's fixed cost. The same build adapts to a slow or a fast machine because the
    costs are measured, not assumed.
    """

    SMOOTHING = 0.2  # weight of the newest chunk in the running estimates
    NEAR = 1.1  # a larger chunk within 10 % of the fastest plan wins
    NEAR_BACKLOG = 1.25  # ... within 25 % when the budget cannot be met anyway

    def __init__(self, *, budget_s: float, min_chunk: int = 50, max_chunk: int = 2500) -> None:
        self.budget_s = budget_s
        self.min_chunk = max(1, min_chunk)
        self.max_chunk = max(self.min_chunk, max_chunk)
        # priors, replaced by measurements after a few chunks
        self.prepare_s = 0.0005  # decode + prepare, per record
        self.write_fixed_s = 0.03
        self.write_s = 0.0002  # per record
        # running means of chunk size c, write seconds w, c*c and c*w (least squares of w on c)
        self._c = self._w = self._cc = self._cw = 0.0
        self._writes = self._prepares = 0

    def prepared(self, records: int, seconds: float) -> None:
        if records > 0:
            k = self.SMOOTHING if self._prepares else 1.0
            self._prepares += 1
            self.prepare_s += k * (seconds / records - self.prepare_s)

    def written(self, records: int, seconds: float) -> None:
        """A chunk's own write time (not the wait for the chunk before it to commit)."""
        if records <= 0:
            return
        k = self.SMOOTHING if self._writes else 1.0
        self._writes += 1
        c, w = float(records), seconds
        self._c += k * (c - self._c)
        self._w += k * (w - self._w)
        self._cc += k * (c * c - self._cc)
        self._cw += k * (c * w - self._cw)
        var = self._cc - self._c * self._c
        if var > (0.1 * self._c) ** 2:  # sizes varied enough to tell fixed from per-record
            slope = (self._cw - self._c * self._w) / var
            self.write_s = max(0.0, slope)
        fixed = self._w - self.write_s * self._c
        if fixed < 0:  # noise: all of it per record
            fixed, self.write_s = 0.0, self._w / self._c
        self.write_fixed_s = fixed

    def finish_s(self, n: int, chunk: int) -> float:
        """Estimated time until a batch of n records cut in chunks of `chunk` is committed."""
        k = -(-n // chunk)
        c = -(-n // k)
        prepare = self.prepare_s * c
        write = self.write_fixed_s + self.write_s * c
        return prepare + (k - 1) * max(prepare, write) + write

    def chunk_size(self, n: int) -> int:
        """The chunk size that stores n records soonest; on near ties the larger one (fewer
        transactions: less work for the database), nearer still when the batch is a backlog
        that cannot be stored within the budget anyway (throughput first)."""
        if n <= self.min_chunk:
            return max(1, n)
        top = min(n, self.max_chunk)
        sizes = []
        c = float(self.min_chunk)
        while c < top:
            sizes.append(int(c))
            c *= 1.25
        sizes.append(top)
        finish = {c: self.finish_s(n, c) for c in sizes}
        best = min(finish.values())
        if best <= self.budget_s:
            limit = min(best * self.NEAR, self.budget_s)
        else:
            limit = best * self.NEAR_BACKLOG
        return max(c for c in sizes if finish[c] <= limit)

    def bounds(self, n: int) -> list[tuple[int, int]]:
        return even_bounds(n, self.chunk_size(n))


def origin(record: ConsumerRecord[Any, Any] | None, event: AnalyticsObserved) -> Origin:
    """Where an observation came from: its Kafka partition and offset (the same for every
    consumer that reads it), or its id when not from Kafka."""
    if record is None:
        return LOCAL, event.event_id
    return record.partition, record.offset


@dataclass(frozen=True)
class Prepared:
    """A batch ready to write: what is new in it and the documents and events it makes."""

    batch: Batch
    fresh: list[AnalyticsObserved]
    buckets: list[dict[str, Any]]
    marks: list[dict[str, Any]]
    ingested: list[MetricsIngested]


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
        stored_ids_cache_size: int = 50_000,
        latency_budget_s: float = 0.1,
    ) -> None:
        self.runtime = runtime
        self.planner = ChunkPlanner(budget_s=latency_budget_s)
        self.repo = repo
        self.facts = PostFacts(repo.posts.database)
        self.tracker = tracker
        self.series: Lru[SeriesState] = Lru(series_cache_size)
        # ids stored per (tenant, shard, day): a replay shares its original's client and day
        self.stored: Lru[set[str]] = Lru(stored_ids_cache_size)
        self.posts: Lru[dict[str, Any]] = Lru(post_cache_size, ttl_s=600)
        # posts the calendar never scheduled (published natively): not asked again for a
        # minute; a PostScheduled seen here meanwhile wins, since known posts are looked up first
        self.unknown_posts: Lru[bool] = Lru(post_cache_size, ttl_s=60)

    def rebalance_listener(self) -> ClearOnRebalance:
        """Give to the observations subscriber: partition changes invalidate series states."""
        return ClearOnRebalance(self.series, self.stored)

    def remember_post(self, event: PostScheduled) -> None:
        key = post_key(event.tenant_id, event.post_id)
        facts: dict[str, Any] = {f: getattr(event, f) for f in POST_FIELDS}
        self.posts.put_many({key: {"post_id": event.post_id, **facts}})

    def remember_published(self, event: PostPublished, facts: dict[str, Any]) -> None:
        """A published post is known by our id and by the platform's from now on."""
        keys = (
            post_key(event.tenant_id, event.post_id),
            platform_key(event.tenant_id, event.platform.value, event.platform_post_id),
        )
        self.posts.put_many(dict.fromkeys(keys, facts))

    async def _posts(self, keys: set[str]) -> dict[str, dict[str, Any]]:
        """Calendar facts of posts by `post_key` or `platform_key` (tenant and id: one agency
        naming another's post id finds nothing)."""
        found, missing = self.posts.get_many(keys)
        _, missing = self.unknown_posts.get_many(missing)
        if missing:
            loaded = await self.facts.by_key(missing)
            self.posts.put_many(loaded)
            self.unknown_posts.put_many({k: True for k in missing if k not in loaded})
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
        chunk: int | None = None,
    ) -> int:
        """Ingest a consumed batch chunk by chunk, pipelined: chunk k+1 is decoded and prepared
        while chunk k is being written, so this process's CPU work overlaps the database's.
        Chunks commit in order. Preparing assumes the previous chunk commits; any failure drops
        the caches, so the retried batch is prepared from what is really stored. Chunk sizes
        come from the planner (measured costs, latency budget), or are `chunk` when given."""
        n = len(records)
        parts = even_bounds(n, chunk) if chunk else self.planner.bounds(n)
        chunks: list[Batch] = []
        writing: list[asyncio.Task[int]] = []  # in order; the newest commits after the others
        written = stored = 0
        try:
            for start, end in parts:
                began = time.perf_counter()
                with DECODE_SECONDS.time():
                    chunks.append(await decode(records[start:end]))
                with PREPARE_SECONDS.time():
                    prepared = await self._prepare(chunks[-1])
                self.planner.prepared(end - start, time.perf_counter() - began)
                after = writing[-1] if writing else None
                writing.append(asyncio.create_task(self._write(prepared, after=after)))
                await asyncio.sleep(0)  # let it send its insert
                if len(writing) > 1:  # the previous one commits while this one inserts
                    stored += await writing.pop(0)
                    chunks[written] = []  # committed: not needed for a redo
                    written += 1
            while writing:
                stored += await writing.pop(0)
                written += 1
            return stored
        except BaseException as e:
            if writing:  # a prepare failed meanwhile, or a write: the later one aborts too
                await asyncio.wait(writing)
                for task in writing:
                    if not task.cancelled():
                        task.exception()  # the batch fails anyway: these are retried too
            self._forget()
            if isinstance(e, asyncio.CancelledError) or is_transient(e):
                raise  # the whole batch is retried (what committed is then a replay)
            if not isinstance(e, Exception):
                raise
        # Another consumer stored some of these records meanwhile (a rebalance), or a record
        # passed validation but could not be stored: go on one chunk at a time, each checked
        # against what is stored now, and isolate what cannot be stored.
        for n in range(written, len(parts)):
            start, end = parts[n]
            stored += await self._isolating(
                chunks[n] if n < len(chunks) else await decode(records[start:end])
            )
        return stored

    async def _isolating(self, batch: Batch) -> int:
        """`ingest`, but a permanent failure splits the batch in halves and retries each, down
        to the single records that fail: only those are dead-lettered, with the reason. So one
        tenant's bad record never takes the rest of a batch (every tenant's) with it."""
        try:
            return await self.ingest(batch)
        except Exception as error:
            self._forget()
            if is_transient(error):
                raise
            if len(batch) > 1:
                half = len(batch) // 2
                return await self._isolating(batch[:half]) + await self._isolating(batch[half:])
            [(record, event)] = batch
            if record is None:
                raise
            log.warning("observation %s of %s cannot be stored", event.event_id, event.tenant_id)
            STORE_REFUSED.inc()
            await self.runtime.dead_letters.send(
                record, reason=f"cannot be stored: {describe(error)}", kind="permanent"
            )
            return 0

    async def ingest(self, batch: Batch) -> int:
        """Store new observations (replays dropped) and stage MetricsIngested; returns how
        many were new. `batch` pairs each event with its Kafka record (None: not from Kafka)."""
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                return await self._write(await self._prepare(batch))
            except BaseException as e:
                self._forget()  # a prepare that failed half-way may have updated the caches
                if not isinstance(e, BulkWriteError):
                    raise
                if not mongo.only_duplicates(e) or attempt == STORE_ATTEMPTS:
                    raise
                # another consumer stored some of these records meanwhile: `_write` dropped
                # the caches, so the next attempt sees what is stored now
        raise AssertionError("unreachable")

    def _forget(self) -> None:
        """Drop what this consumer believes is stored (after a failed or conflicting write)."""
        self.stored.clear()
        self.series.clear()

    async def _prepare(self, batch: Batch) -> Prepared:
        """Everything to write for a batch: its new observations (replays dropped), their bucket
        documents and MetricsIngested. Assumes it will be committed: the caches are updated
        now, and `_write` drops them if it is not."""
        # the same observation twice in one batch; ids are the producer's, so by tenant
        unique: dict[tuple[str, str], AnalyticsObserved] = {}
        origins: dict[tuple[str, str], Origin] = {}
        records: dict[tuple[str, str], ConsumerRecord[Any, Any]] = {}
        for record, event in batch:
            ident = (event.tenant_id, event.event_id)
            if ident not in unique:
                unique[ident] = event
                origins[ident] = origin(record, event)
                if record is not None:
                    records[ident] = record
        keys = {ident: _key(e) for ident, e in unique.items()}  # once per observation
        stored = await self._stored_ids({keys[ident]: e for ident, e in unique.items()})
        fresh = [e for ident, e in unique.items() if e.event_id not in stored[keys[ident]]]
        if not fresh:
            return Prepared(batch, fresh, [], [], [])
        posts = await self._posts({k for e in fresh if (k := _post_of(e))})
        budgets_by_post = {
            (e.tenant_id, e.post_id): budget
            for e in fresh
            if e.post_id
            and (budget := posts.get(post_key(e.tenant_id, e.post_id), {}).get("budget_id"))
        }
        pillars_by_post = {
            (e.tenant_id, e.post_id): pillar
            for e in fresh
            if e.post_id
            and (pillar := posts.get(post_key(e.tenant_id, e.post_id), {}).get("pillar"))
        }
        states = await self._states(fresh)
        added, changed = contributions(fresh, states)
        now = utcnow()
        docs = []
        for n, c in enumerate(added, 1):
            docs.append(
                to_document(
                    c.event,
                    contribution=c,
                    post=posts.get(key) if (key := _post_of(c.event)) else None,
                    stored_at=now,
                )
            )
            if n % YIELD_EVERY == 0:  # the write in flight answers replies meanwhile
                await asyncio.sleep(0)
        self.series.put_many(changed)
        for e in fresh:
            stored[keys[(e.tenant_id, e.event_id)]].add(e.event_id)
        from_kafka = [(records[i], e) for e in fresh if (i := (e.tenant_id, e.event_id)) in records]
        return Prepared(
            batch,
            fresh,
            bucket_documents(docs, origins),
            mark_documents(chunk_marks(from_kafka), at=now),
            summarize(added, budgets_by_post=budgets_by_post, pillars_by_post=pillars_by_post),
        )

    async def _stored_ids(self, wanted: Mapping[str, AnalyticsObserved]) -> dict[str, set[str]]:
        """Stored ids of the (tenant, shard, day) buckets these events fall in (`wanted`:
        one event per bucket key)."""
        found, missing = self.stored.get_many(wanted)
        if missing:
            loaded = await self.repo.stored_ids(_bucket(wanted[k]) for k in missing)
            fetched = {_key_of(k): ids for k, ids in loaded.items()}
            self.stored.put_many(fetched)
            found |= fetched
        return found

    async def _write(self, prepared: Prepared, *, after: asyncio.Future[int] | None = None) -> int:
        """Insert the buckets and their MetricsIngested in one transaction (all or none);
        returns how many observations were new. With `after` (the previous chunk's write), it
        commits only once that one has: if that one fails, this one is rolled back."""
        fresh = prepared.fresh
        if not fresh and after is not None:
            await after  # nothing to write, but a later chunk waits on this one: keep the order
        if fresh:
            runtime = self.runtime
            try:
                with WRITE_SECONDS.time():
                    began = time.perf_counter()
                    async with mongo.transaction(runtime.mongo) as session:
                        await self.repo.insert(prepared.buckets, prepared.marks, session=session)
                        await runtime.outbox.stage(
                            session, runtime.topics(topics.METRICS_INGESTED), *prepared.ingested
                        )
                        waited = time.perf_counter()
                        if after is not None:
                            await after  # raises if it failed: then this one rolls back
                        waited = time.perf_counter() - waited
                    # its own time, not the wait for the chunk before it to commit
                    self.planner.written(len(fresh), time.perf_counter() - began - waited)
            except BaseException:
                self._forget()
                raise
            runtime.outbox.kick()
            if self.tracker is not None:  # goals of these clients may have moved
                await self.tracker.on_ingested(
                    {(e.tenant_id, e.client_id, e.platform.value) for e in fresh}
                )
        self._observe(prepared.batch, fresh)
        return len(fresh)

    @staticmethod
    def _observe(batch: Batch, fresh: list[AnalyticsObserved]) -> None:
        now = utcnow()
        committed_ms = time.time() * 1000
        for record, _ in batch:
            if record is not None and record.timestamp:
                PUBLISH_LATENCY.observe(max(0.0, committed_ms - record.timestamp) / 1000)
        OBSERVATIONS_DUPLICATE.inc(len(batch) - len(fresh))
        for (tenant_id, platform), n in Counter((e.tenant_id, e.platform) for e in fresh).items():
            OBSERVATIONS_INGESTED.labels(tenant_id, platform.value).inc(n)
        for e in fresh:
            INGEST_LAG.observe(max(0.0, (now - e.observed_at).total_seconds()))


def chunk_marks(stored: Iterable[tuple[ConsumerRecord[Any, Any], AnalyticsObserved]]) -> list[Mark]:
    """Per Kafka partition, the record a chunk's stored records begin with there (see
    `repository`): its offset and event id (the same offset of a recreated topic, or in a test,
    is another record)."""
    first: dict[tuple[str, int], tuple[int, str]] = {}
    for r, e in stored:
        key = (r.topic, r.partition)
        if key not in first or r.offset < first[key][0]:
            first[key] = (r.offset, e.event_id)
    return [(t, p, offset, event_id) for (t, p), (offset, event_id) in sorted(first.items())]


def _post_of(event: AnalyticsObserved) -> str | None:
    """The post an observation measures: by our post id when the pipeline knows it, else by
    the platform's post id (`entity_id` of a post, story or video) from `PostPublished`."""
    if event.post_id:
        return post_key(event.tenant_id, event.post_id)
    if event.entity_level in POST_LEVELS:
        return platform_key(event.tenant_id, event.platform.value, event.entity_id)
    return None


def _bucket(event: AnalyticsObserved) -> BucketKey:
    return bucket_key(event.tenant_id, event.client_id, period_start(event))


def _key(event: AnalyticsObserved) -> str:
    return _key_of(_bucket(event))


def _key_of(key: BucketKey) -> str:
    tenant_id, shard, day = key
    return f"{tenant_id}|{shard}|{day}"
