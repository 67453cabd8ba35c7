"""Metrics storage: observations (one document each, `_id` = event id) and known posts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.metrics.ingest import SeriesState, state_from_document
from shared.events import PostScheduled

INDEXES = {
    # One index, since each costs every insert on the hot path: a client's observations (KPIs,
    # goals, recent) and, within them, one entity's newest reading (series state after a
    # restart or rebalance; a client may have thousands of entities).
    "observations": [
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("client_id", ASCENDING),
                ("entity_id", ASCENDING),
                ("observed_at", DESCENDING),
            ]
        )
    ],
    "posts": [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)])],
}
LOOKUP_CHUNK = 200  # ids per `$in`: the local server's `$in` cost grows with list x matches
LOOKUP_CONCURRENCY = 32
SERIES_FIELDS = {
    f: 1
    for f in ("metrics", "carried", "observed_at", "spend_amount", "revenue_amount", "leads",
              "visits", "conversions", "client_id", "platform", "entity_level", "window",
              "window_start", "cumulative")
}  # fmt: skip


INDEXED = ("tenant_id", "client_id", "entity_id")


def indexed_stages(match: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`$match` stages with the index's equality prefix first and the rest after: the local
    MongoDB-wire server uses an index only when a stage's fields are exactly its prefix."""
    first = {k: match[k] for k in INDEXED if k in match}
    rest = {k: v for k, v in match.items() if k not in first}
    return [{"$match": first}] + ([{"$match": rest}] if rest else [])


def _chunks(items: list[str], size: int = LOOKUP_CHUNK) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class MetricsRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.observations = db["observations"]
        self.posts = db["posts"]

    async def upsert_post(self, event: PostScheduled) -> None:
        """Remember a post (idempotent: keyed by post id)."""
        await self.posts.update_one(
            {"_id": event.post_id},
            {"$set": event.model_dump(exclude={"event_type", "event_version", "producer"})},
            upsert=True,
        )

    async def posts_by_id(self, post_ids: set[str]) -> dict[str, dict[str, Any]]:
        """Calendar facts of known posts (budget, pillar, content type), by post id."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(post_ids)):
            cursor = self.posts.find(
                {"_id": {"$in": chunk}}, {"budget_id": 1, "pillar": 1, "content_type": 1}
            )
            found |= {d["_id"]: d async for d in cursor}
        return found

    async def new_ids(
        self, ids: list[str], *, session: AsyncClientSession | None = None
    ) -> set[str]:
        """Which of these observation ids are not stored yet (replays are filtered out)."""
        seen: set[str] = set()
        for chunk in _chunks(ids):
            cursor = self.observations.find({"_id": {"$in": chunk}}, {"_id": 1}, session=session)
            seen |= {d["_id"] async for d in cursor}
        return set(ids) - seen

    async def insert(self, docs: list[dict[str, Any]], *, session: AsyncClientSession) -> None:
        if docs:
            await self.observations.insert_many(docs, ordered=True, session=session)

    async def latest_states(self, wanted: Mapping[str, dict[str, Any]]) -> dict[str, SeriesState]:
        """Latest stored reading of each series (key -> its filter); absent series are new.

        One indexed, newest-first lookup per series, run concurrently; used only when the
        in-memory cache misses (after a start or a rebalance)."""
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(key: str, query: dict[str, Any]) -> tuple[str, SeriesState | None]:
            # Ask by the index prefix only (see `indexed_stages`); other series of the entity
            # (other windows) are skipped here, newest first, so the first match is the latest.
            indexed = {k: query[k] for k in INDEXED}
            rest = {k: v for k, v in query.items() if k not in indexed}
            async with gate:
                cursor = (
                    self.observations.find(indexed, SERIES_FIELDS)
                    .sort("observed_at", DESCENDING)
                    .batch_size(20)
                )
                async for doc in cursor:
                    if all(doc.get(k) == v for k, v in rest.items()):
                        await cursor.close()
                        return key, state_from_document(doc)
            return key, None

        results = await asyncio.gather(*(one(k, q) for k, q in wanted.items()))
        return {key: state for key, state in results if state is not None}

    async def rollup(
        self,
        match: dict[str, Any],
        group_field: str | None,
        metrics: list[str],
        *,
        then: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Sums of contributions per group (and spend currency), one aggregation. `then` is a
        second filter applied after the indexed one (the local server drops the index when
        `$or` sits in the first `$match`)."""
        group: dict[str, Any] = {
            "_id": {"key": f"${group_field}" if group_field else None, "cur": "$spend_currency"},
            "observations": {"$sum": 1},
            "spend": {"$sum": "$spend_contrib"},
            "revenue": {"$sum": "$revenue_contrib"},
            "revenue_seen": {"$sum": "$has_revenue"},
        }
        group |= {m: {"$sum": f"$contrib.{m}"} for m in metrics}
        stages = indexed_stages(match)
        if then:
            stages.append({"$match": then})
        cursor = await self.observations.aggregate([*stages, {"$group": group}])
        return await cursor.to_list(None)

    async def levels(
        self, match: dict[str, Any], group_field: str | None, metrics: list[str]
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
        cursor = (
            self.observations.find({"tenant_id": tenant_id, "client_id": client_id})
            .sort("observed_at", DESCENDING)
            .limit(limit)
        )
        return await cursor.to_list(limit)

    async def count(self, tenant_id: str, client_id: str | None = None) -> int:
        query = {"tenant_id": tenant_id} | ({"client_id": client_id} if client_id else {})
        return await self.observations.count_documents(query)
