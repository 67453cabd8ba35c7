"""Metrics storage: observations (one document each, `_id` = event id) and known posts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.metrics.ingest import SeriesState
from shared.events import PostScheduled

INDEXES = {
    "observations": [
        IndexModel(
            [("tenant_id", ASCENDING), ("client_id", ASCENDING), ("observed_at", DESCENDING)]
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("entity_id", ASCENDING), ("observed_at", DESCENDING)]
        ),
    ],
    "posts": [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)])],
}


class MetricsRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.observations = db["observations"]
        self.posts = db["posts"]
        self.series = db["series_latest"]

    async def upsert_post(self, event: PostScheduled) -> None:
        """Remember a post (idempotent: keyed by post id)."""
        await self.posts.update_one(
            {"_id": event.post_id},
            {"$set": event.model_dump(exclude={"event_type", "event_version", "producer"})},
            upsert=True,
        )

    async def posts_by_id(self, post_ids: set[str]) -> dict[str, dict[str, Any]]:
        """Calendar facts of known posts (budget, pillar, content type), by post id."""
        if not post_ids:
            return {}
        cursor = self.posts.find(
            {"_id": {"$in": sorted(post_ids)}}, {"budget_id": 1, "pillar": 1, "content_type": 1}
        )
        return {d["_id"]: d async for d in cursor}

    async def new_ids(self, ids: list[str], *, session: AsyncClientSession) -> set[str]:
        """Which of these observation ids are not stored yet (replays are filtered out)."""
        seen = {
            d["_id"]
            async for d in self.observations.find(
                {"_id": {"$in": ids}}, {"_id": 1}, session=session
            )
        }
        return set(ids) - seen

    async def insert(self, docs: list[dict[str, Any]], *, session: AsyncClientSession) -> None:
        if docs:
            await self.observations.insert_many(docs, ordered=True, session=session)

    async def series_states(
        self, keys: list[str], *, session: AsyncClientSession
    ) -> dict[str, SeriesState]:
        """The latest reading of each cumulative series named (one query per batch)."""
        cursor = self.series.find({"_id": {"$in": keys}}, session=session)
        return {
            d["_id"]: SeriesState(d["observed_at"], d["metrics"], d.get("spend"), d.get("revenue"))
            async for d in cursor
        }

    async def save_series_states(
        self, states: dict[str, SeriesState], *, session: AsyncClientSession
    ) -> None:
        """One upsert per series changed in the batch (coalesced, not one per observation)."""
        if states:
            await self.series.bulk_write(
                [
                    ReplaceOne(
                        {"_id": key},
                        {
                            "observed_at": s.observed_at,
                            "metrics": s.metrics,
                            "spend": s.spend,
                            "revenue": s.revenue,
                        },
                        upsert=True,
                    )
                    for key, s in states.items()
                ],
                ordered=False,
                session=session,
            )

    async def rollup(
        self, match: dict[str, Any], group_field: str | None, metrics: list[str]
    ) -> list[dict[str, Any]]:
        """Sums of contributions per group (and spend currency), one aggregation."""
        group: dict[str, Any] = {
            "_id": {"key": f"${group_field}" if group_field else None, "cur": "$spend_currency"},
            "observations": {"$sum": 1},
            "spend": {"$sum": "$spend_contrib"},
            "revenue": {"$sum": "$revenue_contrib"},
            "revenue_seen": {"$sum": "$has_revenue"},
        }
        group |= {m: {"$sum": f"$contrib.{m}"} for m in metrics}
        cursor = await self.observations.aggregate([{"$match": match}, {"$group": group}])
        return await cursor.to_list(None)

    async def levels(
        self, match: dict[str, Any], group_field: str | None, metrics: list[str]
    ) -> dict[str | None, dict[str, Decimal]]:
        """Levels of stock metrics (e.g. followers) per group: every contribution up to a time."""
        if not metrics:
            return {}
        rows = await self.rollup(
            match | {"$or": [{f"contrib.{m}": {"$exists": True}} for m in metrics]},
            group_field,
            metrics,
        )
        out: dict[str | None, dict[str, Decimal]] = {}
        for row in rows:
            bucket = out.setdefault(row["_id"]["key"], {})
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
