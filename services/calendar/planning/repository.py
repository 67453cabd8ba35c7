"""Slot storage, and the post writes of planning (fill, edit, move, cancel), always scoped by
tenant. Changes check the document's `version` (optimistic concurrency): a stale write
matches nothing and the caller answers 409."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.calendar.models import Post
from services.calendar.planning.models import Slot
from shared import pages

INDEXES = {
    "slots": [
        # a client's week or month, and regeneration's range: (tenant, client, local time)
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("client_id", ASCENDING),
                ("local", ASCENDING),
                ("_id", ASCENDING),
            ]
        ),
        # an agency's week across its clients, in local time of each client
        IndexModel([("tenant_id", ASCENDING), ("local", ASCENDING), ("_id", ASCENDING)]),
    ],
    "feeds": [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)])],
}


def _version(version: int) -> dict[str, Any]:
    """Match a document at `version` (documents written before versions existed are 1)."""
    if version == 1:
        return {"$or": [{"version": 1}, {"version": {"$exists": False}}]}
    return {"version": version}


def _doc(slot: Slot) -> dict[str, Any]:
    return {"_id": slot.slot_id, **slot.model_dump(mode="python")}


class PlanningRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.slots = db["slots"]
        self.posts = db["posts"]

    async def regenerate(
        self,
        tenant_id: str,
        client_id: str,
        *,
        start: str,
        end: str,
        slots: list[Slot],
        now: datetime,
        session: AsyncClientSession,
    ) -> tuple[int, int, int, int]:
        """Replace the untouched future slots of local dates [start, end) by `slots`; keep the
        past and every slot with content or a hand edit. A slot generated again unchanged is
        not rewritten. Returns (created, kept, replaced, unchanged)."""
        scope = {
            "tenant_id": tenant_id,
            "client_id": client_id,
            "local": {"$gte": start, "$lt": end},
        }
        kept: set[tuple[str, str]] = set()
        kept_ids: set[str] = set()
        untouched: dict[str, Slot] = {}
        async for doc in self.slots.find(scope, session=session):
            if doc["at"] < now or doc.get("post_id") or doc.get("edited"):
                kept.add((doc["platform"], doc["local"]))
                kept_ids.add(doc["_id"])
            else:
                untouched[doc["_id"]] = Slot.model_validate(doc)
        wanted = {
            s.slot_id: s
            for s in slots
            if s.at >= now and s.slot_id not in kept_ids and (s.platform.value, s.local) not in kept
        }
        same = {i for i, s in wanted.items() if untouched.get(i) == s}
        stale = [i for i in untouched if i not in same]
        new = [_doc(s) for i, s in wanted.items() if i not in same]
        if stale and not same:  # e.g. a new version: one range delete (an $in costs per id)
            untouched_now = {"at": {"$gte": now}, "post_id": None, "edited": {"$ne": True}}
            await self.slots.delete_many(scope | untouched_now, session=session)
        elif stale:
            await self.slots.delete_many(
                {"tenant_id": tenant_id, "_id": {"$in": stale}}, session=session
            )
        if new:
            await self.slots.insert_many(new, ordered=False, session=session)
        return len(new), len(kept_ids), len(stale), len(same)

    async def list_slots(
        self,
        tenant_id: str,
        client_id: str | None,
        *,
        start: str,
        end: str,
        filters: dict[str, str],
        limit: int,
        start_after: tuple[str, str] | None = None,
    ) -> list[Slot]:
        """Slots of local times in [start, end) in (local time, id) order, a page at a time."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if client_id is not None:
            query["client_id"] = client_id
        query["local"] = {"$gte": start, "$lt": end}
        query |= filters
        if start_after:
            query = {"$and": [query, pages.after("local", *start_after)]}
        cursor = self.slots.find(query).sort([("local", ASCENDING), ("_id", ASCENDING)])
        return [Slot.model_validate(d) async for d in cursor.limit(limit)]

    async def get_slot(
        self,
        tenant_id: str,
        client_id: str,
        slot_id: str,
        session: AsyncClientSession | None = None,
    ) -> Slot | None:
        query = {"_id": slot_id, "tenant_id": tenant_id, "client_id": client_id}
        doc = await self.slots.find_one(query, session=session)
        return Slot.model_validate(doc) if doc else None

    async def update_slot(
        self,
        slot: Slot,
        changes: dict[str, Any],
        *,
        version: int,
        session: AsyncClientSession | None = None,
    ) -> Slot | None:
        """Apply changes if the slot is still at `version`; the new slot, or None if stale."""
        query = {"_id": slot.slot_id, "tenant_id": slot.tenant_id, **_version(version)}
        result = await self.slots.update_one(
            query, {"$set": {**changes, "version": version + 1}}, session=session
        )
        if result.modified_count != 1:
            return None
        return Slot.model_validate(slot.model_dump() | changes | {"version": version + 1})

    async def get_post(
        self,
        tenant_id: str,
        client_id: str,
        post_id: str,
        session: AsyncClientSession | None = None,
    ) -> Post | None:
        query = {"_id": post_id, "tenant_id": tenant_id, "client_id": client_id}
        doc = await self.posts.find_one(query, session=session)
        return Post.model_validate(doc) if doc else None

    async def update_post(
        self, post: Post, changes: dict[str, Any], *, version: int, session: AsyncClientSession
    ) -> Post | None:
        """Apply changes if the post is still at `version`; the new post, or None if stale."""
        query = {"_id": post.post_id, "tenant_id": post.tenant_id, **_version(version)}
        result = await self.posts.update_one(
            query, {"$set": {**changes, "version": version + 1}}, session=session
        )
        if result.modified_count != 1:
            return None
        return Post.model_validate(post.model_dump() | changes | {"version": version + 1})

    async def slots_of_client(
        self, tenant_id: str, client_id: str, *, start: str, end: str, limit: int
    ) -> list[Slot]:
        """All slots of local times in [start, end), in time order (for feeds and exports)."""
        query = {
            "tenant_id": tenant_id,
            "client_id": client_id,
            "local": {"$gte": start, "$lt": end},
        }
        cursor = self.slots.find(query).sort([("local", ASCENDING), ("_id", ASCENDING)])
        return [Slot.model_validate(d) async for d in cursor.limit(limit)]

    async def posts_by_id(self, tenant_id: str, post_ids: list[str]) -> dict[str, Post]:
        if not post_ids:
            return {}
        cursor = self.posts.find({"tenant_id": tenant_id, "_id": {"$in": post_ids}})
        return {d["_id"]: Post.model_validate(d) async for d in cursor}
