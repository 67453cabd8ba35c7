"""Calendar facts of posts (budget, pillar, content type, journey stage), learned from the
calendar's events so observations can be joined to the post they measure:

- `PostScheduled` (calendar.posts.scheduled.v1): the post exists;
- `PostPublished` (calendar.posts.lifecycle.v1): it went out under the platform's own post id,
  so an observation that only knows that id (what every analytics API reports) joins it too;
- `PostRescheduled` / `PostCancelled` (calendar.posts.lifecycle.v1): its time or status moved.

Two collections, both keyed by tenant so one agency can never read another's facts:
`posts` by `post_key(tenant, post_id)` and `platform_posts` by
`platform_key(tenant, platform, platform post id)`. Every write is idempotent (a replay sets the
same values) and order-safe: a reschedule or cancellation carries the post's version and never
goes back to an older one; a late PostScheduled never overwrites a newer time or status.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import (
    EntityLevel,
    PostCancelled,
    PostPublished,
    PostRescheduled,
    PostScheduled,
)

POSTS = "posts"
PLATFORM_POSTS = "platform_posts"
# What an observation takes from its post (stored on the observation as rollup dimensions).
FACTS = ("post_id", "budget_id", "pillar", "content_type", "stage")
# Observations of these levels name a post by its platform id in `entity_id`.
POST_LEVELS = frozenset({EntityLevel.POST, EntityLevel.STORY, EntityLevel.VIDEO})
CHUNK = 200  # ids per `$in` (the local server's `$in` cost grows with the list)


def post_key(tenant_id: str, post_id: str) -> str:
    """A known post's identity: its tenant and its id (tenant ids hold no '|')."""
    return f"{tenant_id}|{post_id}"


def platform_key(tenant_id: str, platform: str, platform_post_id: str) -> str:
    """A published post's identity on its platform. Starts with '@', which no tenant id (a
    slug) does, so it never equals a `post_key` in a cache holding both."""
    return f"@{tenant_id}|{platform}|{platform_post_id}"


def _newer(version: int) -> dict[str, Any]:
    """Match a post whose stored version is older than `version` (or unknown)."""
    return {"$or": [{"version": {"$lt": version}}, {"version": {"$exists": False}}]}


class PostFacts:
    """Reads and writes the post facts of the metrics database."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.posts: AsyncCollection[dict[str, Any]] = db[POSTS]
        self.platform_posts: AsyncCollection[dict[str, Any]] = db[PLATFORM_POSTS]

    async def scheduled(self, event: PostScheduled) -> None:
        """Remember a scheduled post; its time and status only if nothing newer is known."""
        facts = event.model_dump(
            exclude={"event_type", "event_version", "producer", "scheduled_at", "occurred_at"}
        )
        await self.posts.update_one(
            {"_id": post_key(event.tenant_id, event.post_id)},
            {
                "$set": facts,
                "$setOnInsert": {
                    "scheduled_at": event.scheduled_at,
                    "status": "scheduled",
                    "version": 1,
                },
            },
            upsert=True,
        )

    async def published(self, event: PostPublished) -> dict[str, Any]:
        """Record the platform's id of a published post (both ways); returns its facts."""
        facts: dict[str, Any] = {
            "tenant_id": event.tenant_id,
            "client_id": event.client_id,
            "post_id": event.post_id,
            "platform": event.platform.value,
            "platform_post_id": event.platform_post_id,
            "url": event.url,
            "published_at": event.published_at,
            "strategy_id": event.strategy_id,
            "content_type": event.content_type,
            "pillar": event.pillar,
            "stage": event.stage,
            "series": event.series,
            "paid": event.paid,
            "budget_id": event.budget_id,
        }
        await self.posts.update_one(
            {"_id": post_key(event.tenant_id, event.post_id)},
            {"$set": facts | {"status": "published", "scheduled_at": event.scheduled_at}},
            upsert=True,
        )
        key = platform_key(event.tenant_id, event.platform.value, event.platform_post_id)
        await self.platform_posts.update_one({"_id": key}, {"$set": facts}, upsert=True)
        return {f: facts[f] for f in FACTS}

    async def rescheduled(self, event: PostRescheduled) -> bool:
        """Move a post's time, unless a newer version is known; False when stale."""
        return await self._versioned(
            event.tenant_id,
            event.post_id,
            event.version,
            {
                "client_id": event.client_id,
                "platform": event.platform.value,
                "scheduled_at": event.scheduled_at,
                "timezone": event.timezone,
            },
        )

    async def cancelled(self, event: PostCancelled) -> bool:
        """Mark a post cancelled, unless a newer version is known; False when stale."""
        return await self._versioned(
            event.tenant_id,
            event.post_id,
            event.version,
            {
                "client_id": event.client_id,
                "platform": event.platform.value,
                "status": "cancelled",
                "cancelled_reason": event.reason or None,
            },
        )

    async def _versioned(
        self, tenant_id: str, post_id: str, version: int, changes: dict[str, Any]
    ) -> bool:
        query = {"_id": post_key(tenant_id, post_id), **_newer(version)}
        update = {"$set": changes | {"version": version, "tenant_id": tenant_id}}
        try:
            await self.posts.update_one(query, update | {"$setOnInsert": {"post_id": post_id}},
                                        upsert=True)  # fmt: skip
        except DuplicateKeyError:  # the post is stored at this version or a newer one
            return False
        return True

    async def by_key(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Facts of known posts by `post_key` or `platform_key` (either kind, mixed)."""
        wanted = sorted(set(keys))
        found: dict[str, dict[str, Any]] = {}
        projection = dict.fromkeys(FACTS, 1)
        for collection, mine in (
            (self.posts, [k for k in wanted if not k.startswith("@")]),
            (self.platform_posts, [k for k in wanted if k.startswith("@")]),
        ):
            for i in range(0, len(mine), CHUNK):
                cursor = collection.find({"_id": {"$in": mine[i : i + CHUNK]}}, projection)
                found |= {d["_id"]: d async for d in cursor}
        return found
