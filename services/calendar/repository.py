"""Calendar storage: clients and posts, always filtered by tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.calendar.models import Client, Post, PostStatus
from shared import pages

INDEXES = {
    "clients": [IndexModel([("tenant_id", ASCENDING), ("name", ASCENDING)])],
    "posts": [
        IndexModel(
            [("tenant_id", ASCENDING), ("client_id", ASCENDING), ("scheduled_at", ASCENDING)]
        ),
        # a budget's posts by status: those to pause, and those it paused (found again when it
        # is resumed: `paused_budget_id` is always the post's own `budget_id`)
        IndexModel([("tenant_id", ASCENDING), ("budget_id", ASCENDING), ("status", ASCENDING)]),
    ],
}
# SecantusDB rewrites every index entry of a document on each update, whatever changed: an index
# fewer is a fifth less per post transition. Dropped at start-up where an older version made it.
OBSOLETE_INDEXES = {"posts": ["tenant_id_1_paused_budget_id_1"]}


class CalendarRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.clients = db["clients"]
        self.posts = db["posts"]

    async def add_client(
        self, client: Client, *, session: AsyncClientSession | None = None
    ) -> None:
        await self.clients.insert_one(
            {"_id": client.client_id, **client.model_dump()}, session=session
        )

    async def get_client(self, tenant_id: str, client_id: str) -> Client | None:
        doc = await self.clients.find_one({"_id": client_id, "tenant_id": tenant_id})
        return Client.model_validate(doc) if doc else None

    async def list_clients(
        self, tenant_id: str, *, limit: int, start_after: tuple[str, str] | None = None
    ) -> list[Client]:
        """Up to `limit` clients in (name, id) order, after a position of a previous page."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if start_after:
            query |= pages.after("name", *start_after)
        cursor = self.clients.find(query).sort([("name", ASCENDING), ("_id", ASCENDING)])
        return [Client.model_validate(d) async for d in cursor.limit(limit)]

    async def add_post(self, post: Post, *, session: AsyncClientSession) -> None:
        await self.posts.insert_one({"_id": post.post_id, **post.model_dump()}, session=session)

    async def list_posts(
        self,
        tenant_id: str,
        client_id: str,
        status: PostStatus | None = None,
        *,
        limit: int,
        start_after: tuple[datetime, str] | None = None,
    ) -> list[Post]:
        """Up to `limit` posts in (time, id) order, after a position of a previous page."""
        query: dict[str, Any] = {"tenant_id": tenant_id, "client_id": client_id}
        if status:
            query["status"] = status.value
        if start_after:
            query |= pages.after("scheduled_at", *start_after)
        cursor = self.posts.find(query).sort([("scheduled_at", ASCENDING), ("_id", ASCENDING)])
        return [Post.model_validate(d) async for d in cursor.limit(limit)]

    async def pause_paid_posts(
        self, tenant_id: str, budget_id: str, *, reason: str, session: AsyncClientSession
    ) -> list[dict[str, Any]]:
        """Pause every paid post of this budget not yet handed to a platform (scheduled, or due
        and waiting: the dispatcher's next write on it then matches nothing), marked with the
        budget that paused it (`paused_budget_id`: only those resume with the budget); returns
        the posts as they were (the caller stages a `PostPaused` for each in the same
        transaction)."""
        query: dict[str, Any] = {
            "tenant_id": tenant_id,
            "budget_id": budget_id,
            "status": {"$in": [PostStatus.SCHEDULED.value, PostStatus.DUE.value]},
        }  # only the index's fields (one more equality is a collection scan in SecantusDB)
        found = [d for d in await self.posts.find(query, session=session).to_list(None)
                 if d.get("paid") is True]  # fmt: skip
        query["paid"] = True
        if found:
            await self.posts.update_many(
                {"_id": {"$in": [d["_id"] for d in found]}, **query},  # _id first: planned by it
                {
                    "$set": {
                        "status": PostStatus.PAUSED.value,
                        "paused_reason": reason,
                        "paused_budget_id": budget_id,
                    },
                    "$unset": {"lease": "", "lease_until": ""},
                    "$inc": {"version": 1},
                },
                session=session,
            )
        return found

    async def resume_paid_posts(
        self, tenant_id: str, budget_id: str, *, session: AsyncClientSession
    ) -> list[dict[str, Any]]:
        """Schedule again the posts this budget paused (paused by hand or by another budget:
        left alone). The scheduled time stays: one already passed is due at once, as with the
        resume route. Returns the posts as they were (the caller stages a `PostResumed` each)."""
        # planned on (tenant_id, budget_id, status) only with no other field in the filter
        # (SecantusDB scans the collection for one more equality): which budget paused a post
        # is checked on the posts found
        query = {"tenant_id": tenant_id, "budget_id": budget_id,
                 "status": PostStatus.PAUSED.value}  # fmt: skip
        found = [
            d
            for d in await self.posts.find(query, session=session).to_list(None)
            if d.get("paused_budget_id") == budget_id
        ]
        query["paused_budget_id"] = budget_id
        if found:
            await self.posts.update_many(
                {"_id": {"$in": [d["_id"] for d in found]}, **query},  # _id first: planned by it
                {
                    "$set": {"status": PostStatus.SCHEDULED.value, "paused_reason": None},
                    "$unset": {"paused_budget_id": ""},
                    "$inc": {"version": 1},
                },
                session=session,
            )
        return found
