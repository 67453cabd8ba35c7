"""Metrics storage: observations in buckets by client shard and day (known posts: `post_facts.py`).

An observation is stored once, inside a bucket document of collection `observation_buckets`:
one bucket per (tenant, client shard, UTC day of `at`) and stored chunk, holding the
observations' documents (`obs`, each with `_id` = its event id) and their ids (`ids`). A
client's shard is a stable hash of its id modulo SHARDS. A chunk of 5,000 observations becomes
at most SHARDS documents and index entries per tenant and day instead of 5,000: the local
database charges ~0.45 ms per document (its index entries included) and little per byte, and
one bucket per client would still cost a document per observation when a light load brings ~1
observation per client per chunk. A bucket holds records of every Kafka partition the chunk
read (per partition, up to 4x the documents at a light load; `make bench-ingest`: half-load
p99 1,985 -> 957-960 ms).

Queries read the buckets of a client's shard (or of the whole tenant) through the one index
(tenant, shard, day), unwind them, then filter and group the observations as if they were
documents (see `indexed_stages`). A client query reads the other clients of its shard too:
SHARDS trades that read cost against the write cost above.

`at` is the start of the period an observation's values describe (`ingest.period_start`: the
window's start, or `observed_at` for running totals over a lifetime), so a backfill of 2020
lands in 2020's buckets and KPIs by day, week or month group it there.

Deduplication stays exact per event id: a replay of an observation has the same client and
period, so its id is in the `ids` of that shard's buckets of that day (`stored_ids`).
Two consumers storing the same Kafka records (a rebalance: the old owner of a partition still
writing what the new one reads again) collide instead of storing them twice: each stored chunk
inserts one mark per Kafka partition it read, `_id` = topic, partition, the chunk's first
offset there and that record's event id (`chunk_marks`; collection `ingest_marks`, kept a
day). The second writer's transaction fails on the duplicate mark, and it reloads what is
stored before trying again.
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.metrics.ingest import SeriesState, state_from_document

BUCKETS = "observation_buckets"
MARKS = "ingest_marks"
MARKS_TTL_S = 24 * 3600  # far longer than a consumer outlives losing its partitions
INDEXES = {
    # The only index of the hot path (each one costs every insert): a shard's buckets, by day.
    BUCKETS: [IndexModel([("tenant_id", ASCENDING), ("shard", ASCENDING), ("day", ASCENDING)])],
    MARKS: [IndexModel("at", expireAfterSeconds=MARKS_TTL_S)],
    "posts": [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)])],
}
SHARDS = 64
LOOKUP_CONCURRENCY = 32

BucketKey = tuple[str, int, str]  # (tenant_id, shard, UTC day "YYYY-MM-DD")
Origin = tuple[int, int] | tuple[int, str]  # (Kafka partition, offset) or (LOCAL, event id)
LOCAL = -1
# Kafka topic, partition, and where a chunk's stored records begin there: offset, event id
Mark = tuple[str, int, int, str]


@functools.lru_cache(maxsize=65_536)  # asked per observation, twice, of few distinct clients
def shard_of(client_id: str) -> int:
    """A client's shard: stable across processes and versions (unlike `hash`)."""
    return zlib.crc32(client_id.encode()) % SHARDS


def utc_day(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def bucket_key(tenant_id: str, client_id: str, at: datetime) -> BucketKey:
    """The buckets an observation is stored in, and its replays are looked for in: by the UTC
    day of the period its values describe (`ingest.period_start`)."""
    return tenant_id, shard_of(client_id), utc_day(at)


def _day_bounds(when: Any) -> dict[str, str]:
    """The bucket days an `at` condition can match (buckets are by UTC day of `at`)."""
    if not isinstance(when, Mapping):
        return {"$eq": utc_day(when)} if isinstance(when, datetime) else {}
    bounds: dict[str, str] = {}
    for op, at in when.items():
        if isinstance(at, datetime) and op in ("$gte", "$gt"):
            bounds["$gte"] = utc_day(at)
        elif isinstance(at, datetime) and op in ("$lt", "$lte"):
            bounds["$lte"] = utc_day(at)
    return bounds


def _buckets_of(match: Mapping[str, Any]) -> dict[str, Any]:
    """The index prefix of the buckets holding what `match` asks for (by equality)."""
    if not isinstance(match.get("tenant_id"), str):
        raise ValueError("observation queries are scoped by tenant")
    first: dict[str, Any] = {"tenant_id": match["tenant_id"]}
    if isinstance(match.get("client_id"), str):
        first["shard"] = shard_of(match["client_id"])
    return first


def indexed_stages(match: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Aggregation stages yielding the stored observations that match `match`: the buckets of
    the tenant or the client's shard by the index (the local MongoDB-wire server uses an index
    only when a `$match` stage is exactly its prefix), narrowed to the days `observed_at`
    allows (a condition on `at`, the period's start; one on `observed_at` reads every day),
    unwound into observation documents, then all of `match` on those."""
    stages: list[dict[str, Any]] = [{"$match": _buckets_of(match)}]
    if days := _day_bounds(match.get("at")):
        stages.append({"$match": {"day": days}})
    stages += [{"$unwind": "$obs"}, {"$replaceRoot": {"newRoot": "$obs"}}]
    if rest := {k: v for k, v in match.items() if k != "tenant_id"}:
        stages.append({"$match": rest})
    return stages


def bucket_documents(
    docs: Iterable[dict[str, Any]], origins: Mapping[tuple[str, str], Origin]
) -> list[dict[str, Any]]:
    """Observation documents grouped into buckets (see the module docstring). `origins` maps
    (tenant, event id) to where it came from: (Kafka partition, offset), or (LOCAL, its id).
    The buckets of one chunk are named after its first observation, so two writers of the
    same records from the same position collide."""
    grouped: dict[BucketKey, list[dict[str, Any]]] = defaultdict(list)
    firsts: list[Origin] = []
    for doc in docs:
        grouped[(doc["tenant_id"], shard_of(doc["client_id"]), doc["day"])].append(doc)
        firsts.append(origins[(doc["tenant_id"], doc["_id"])])
    if not firsts:
        return []
    partition, position = min(firsts)  # Kafka and local records are never in one chunk
    chunk = f"local|{position}" if partition == LOCAL else f"p{partition}|{position:019d}"
    return [
        {
            "_id": f"{tenant_id}|{shard}|{day}|{chunk}",
            "tenant_id": tenant_id,
            "shard": shard,
            "day": day,
            "ids": [d["_id"] for d in obs],
            "obs": obs,
        }
        for (tenant_id, shard, day), obs in grouped.items()
    ]


def mark_documents(marks: Iterable[Mark], *, at: datetime) -> list[dict[str, Any]]:
    """A chunk's marks as documents (see the module docstring); `at` lets the TTL drop them."""
    return [
        {"_id": f"{topic}|{partition}|{offset:019d}|{event_id}", "at": at}
        for topic, partition, offset, event_id in marks
    ]


def _matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    return all(doc.get(k) == v for k, v in query.items())


def _series_head(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """The fields of a series filter that tell most series apart (a stored observation's or a
    `series_filter`'s): candidates by these, then the whole filter."""
    return (
        doc.get("client_id"),
        doc.get("platform"),
        doc.get("entity_level"),
        doc.get("entity_id"),
        doc.get("window"),
    )


class MetricsRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.buckets = db[BUCKETS]
        self.marks = db[MARKS]
        self.posts = db["posts"]

    # writes and the hot path's reads --------------------------------------------------------

    async def insert(
        self,
        buckets: list[dict[str, Any]],
        marks: list[dict[str, Any]],
        *,
        session: AsyncClientSession,
    ) -> None:
        """A chunk's buckets and its marks (`mark_documents`), in the caller's transaction."""
        if marks:  # first: a second writer of the same records fails before its big insert
            await self.marks.insert_many(marks, ordered=True, session=session)
        if buckets:
            await self.buckets.insert_many(buckets, ordered=True, session=session)

    async def stored_ids(self, keys: Iterable[BucketKey]) -> dict[BucketKey, set[str]]:
        """Ids of the observations stored per (tenant, shard, day): one indexed query each,
        run concurrently; used when the ingestion's cache misses (after a start or rebalance)."""
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(key: BucketKey) -> tuple[BucketKey, set[str]]:
            tenant_id, shard, day = key
            query = {"tenant_id": tenant_id, "shard": shard, "day": day}
            async with gate:
                ids = {i async for b in self.buckets.find(query, {"ids": 1}) for i in b["ids"]}
            return key, ids

        return dict(await asyncio.gather(*(one(k) for k in set(keys))))

    async def _newest_first(
        self, tenant_id: str, client_id: str
    ) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
        """A client's observations by bucket, newest day first, as (day, documents)."""
        async for day, obs in self._shard_newest_first(tenant_id, shard_of(client_id)):
            yield day, [d for d in obs if d["client_id"] == client_id]

    async def _shard_newest_first(
        self, tenant_id: str, shard: int
    ) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
        """A shard's observations by bucket, newest day first, as (day, documents)."""
        query = {"tenant_id": tenant_id, "shard": shard}
        cursor = self.buckets.find(query, {"day": 1, "obs": 1}).sort("day", DESCENDING)
        async for bucket in cursor:
            yield bucket["day"], bucket["obs"]

    async def latest_states(self, wanted: Mapping[str, dict[str, Any]]) -> dict[str, SeriesState]:
        """Latest stored reading of each series (key -> its filter, see `series_filter`);
        absent series are new. Used only when the in-memory cache misses: one newest-first
        walk over each shard's buckets (a shard's clients together: a client query reads its
        whole shard anyway), stopping at the first day that had every series. A new series is
        in no day, so its shard is read to the end: once per shard and batch, not per client."""
        by_shard: dict[tuple[str, int], dict[tuple[Any, ...], list[tuple[str, dict[str, Any]]]]]
        by_shard = defaultdict(lambda: defaultdict(list))
        for key, query in wanted.items():
            shard = (query["tenant_id"], shard_of(query["client_id"]))
            by_shard[shard][_series_head(query)].append((key, query))
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(
            shard: tuple[str, int], series: dict[tuple[Any, ...], list[tuple[str, dict[str, Any]]]]
        ) -> dict[str, Any]:
            latest: dict[str, dict[str, Any]] = {}
            count = sum(len(s) for s in series.values())
            async with gate:
                current = None
                async for day, docs in self._shard_newest_first(*shard):
                    if day != current and len(latest) == count:
                        break  # every series was seen on a later day
                    current = day
                    for doc in docs:
                        for key, query in series.get(_series_head(doc), ()):
                            seen = latest.get(key)
                            if (seen is None or doc["observed_at"] > seen["observed_at"]) and (
                                _matches(doc, query)
                            ):
                                latest[key] = doc
            return latest

        states: dict[str, SeriesState] = {}
        for found in await asyncio.gather(*(one(s, q) for s, q in by_shard.items())):
            states |= {key: state_from_document(doc) for key, doc in found.items()}
        return states

    # queries ---------------------------------------------------------------------------------

    async def find(self, match: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Stored observation documents matching `match` (which names the tenant)."""
        cursor = await self.buckets.aggregate(indexed_stages(match))
        return await cursor.to_list(None)

    async def rollup(
        self,
        match: dict[str, Any],
        group_field: str | dict[str, Any] | None,
        metrics: list[str],
        *,
        then: dict[str, Any] | None = None,
        peaks: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """Sums of contributions per group, spend currency, window kind and entity level, in
        one aggregation (see `aggregation` for how they combine), with the largest value of
        each metric in `peaks`. `then` is a second filter applied after `match`. The group key is
        a stored field's name or an expression (e.g. a day in a time zone)."""
        key = group_field if isinstance(group_field, dict) else group_field and f"${group_field}"
        group: dict[str, Any] = {
            "_id": {
                "key": key or None,
                "cur": "$spend_currency",
                "window": "$window",  # kept apart: windows and levels aggregate by kind
                "level": "$entity_level",
            },
            "observations": {"$sum": 1},
            "spend": {"$sum": "$spend_contrib"},
            "revenue": {"$sum": "$revenue_contrib"},
            "revenue_seen": {"$sum": "$has_revenue"},
        }
        group |= {m: {"$sum": f"$contrib.{m}"} for m in metrics}
        group |= {f"peak_{m}": {"$max": f"$metrics.{m}"} for m in peaks}
        stages = indexed_stages(match)
        if then:
            stages.append({"$match": then})
        cursor = await self.buckets.aggregate([*stages, {"$group": group}])
        return await cursor.to_list(None)

    async def levels(
        self, match: dict[str, Any], group_field: str | dict[str, Any] | None, metrics: list[str]
    ) -> dict[str | None, dict[str, Decimal]]:
        """Levels of stock metrics (e.g. followers) per group: every contribution up to a time."""
        if not metrics:
            return {}
        rows = await self.rollup(
            match, group_field, metrics,
            then={"$or": [{f"contrib.{m}": {"$exists": True}} for m in metrics]},
        )  # fmt: skip
        out: dict[str | None, dict[str, Decimal]] = {}
        for row in rows:
            bucket = out.setdefault(row["_id"].get("key"), {})
            for m in metrics:
                bucket[m] = bucket.get(m, Decimal(0)) + Decimal(row.get(m) or 0)
        return out

    async def recent(self, tenant_id: str, client_id: str, limit: int) -> list[dict[str, Any]]:
        """A client's newest observations (by `observed_at`), reading only the newest days."""
        docs: list[dict[str, Any]] = []
        current = None
        async for day, obs in self._newest_first(tenant_id, client_id):
            if day != current and len(docs) >= limit:
                break  # older days hold only older observations
            current = day
            docs += obs
        docs.sort(key=lambda d: d["observed_at"], reverse=True)
        return docs[:limit]

    async def count(self, tenant_id: str, client_id: str | None = None) -> int:
        if client_id:
            stages = indexed_stages({"tenant_id": tenant_id, "client_id": client_id})
            stages.append({"$group": {"_id": None, "n": {"$sum": 1}}})
        else:
            stages = [
                {"$match": {"tenant_id": tenant_id}},
                {"$group": {"_id": None, "n": {"$sum": {"$size": "$ids"}}}},
            ]
        cursor = await self.buckets.aggregate(stages)
        rows = await cursor.to_list(None)
        return int(rows[0]["n"]) if rows else 0
