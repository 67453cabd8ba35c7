"""Slot storage, and the post writes of planning (fill, edit, move, cancel), always scoped by
tenant. Changes check the document's `version` (optimistic concurrency): a stale write
matches nothing and the caller answers 409."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.calendar.models import Post
from services.calendar.planning.models import Slot
from shared.lru import BoundedCache

ROSTER_TTL_S = 10.0  # a new client shows in agency views within this long
MAX_ROSTERS = 10_000

INDEXES = {
    "slots": [
        # a client's week or month, regeneration's range, and agency views (read client by
        # client): (tenant, client, local time). No (tenant, local) index: nothing reads by it
        # and each index entry costs the database as much as a small document on every write.
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("client_id", ASCENDING),
                ("local", ASCENDING),
                ("_id", ASCENDING),
            ]
        ),
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
        self.clients = db["clients"]
        self._rosters: BoundedCache[str, list[str]] = BoundedCache(MAX_ROSTERS, ROSTER_TTL_S)

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
                {"_id": {"$in": stale}, "tenant_id": tenant_id}, session=session
            )
        if new:
            await self.slots.insert_many(new, ordered=False, session=session)
        return len(new), len(kept_ids), len(stale), len(same)

    async def list_slots(
        self,
        tenant_id: str,
        client_id: str,
        *,
        start: str,
        end: str,
        filters: dict[str, str],
        limit: int,
        start_after: tuple[str, str] | None = None,
    ) -> list[Slot]:
        """A client's slots of local times in [start, end) in (local time, id) order, a page
        at a time."""
        return await self._client_range(
            tenant_id, client_id, start, end, filters=filters, limit=limit, after=start_after
        )

    async def _client_range(
        self,
        tenant_id: str,
        client_id: str,
        start: str,
        end: str,
        *,
        filters: dict[str, str],
        limit: int,
        after: tuple[str, str] | None = None,
    ) -> list[Slot]:
        """Up to `limit` of a client's slots of local times in [start, end) matching `filters`,
        in (local time, id) order, after (local, id) of a previous page.

        The database is asked only (tenant, client, local range): SecantusDB plans a filter on
        the slots index only when it is equalities on the index's leading fields and one range
        on the next. Any other field (a platform filter, a `$in` of clients) or operator (the
        `$or` of a page's position) made it read every slot of the tenant or of the collection
        (a 20-client `$in` over a week: 15.9 s at 100 clients, against ~2 ms per client here).
        The filters, the order and the position are applied here instead: a client's week
        or month is at most a few hundred slots, and sorting them here is cheaper than asking
        (the database sorts every match in memory and re-checks the sort paths: 14 % of the
        read, 26 reads of a week 153 -> 132 ms on a loaded machine)."""
        window = {"$gte": max(start, after[0]) if after else start, "$lt": end}
        query = {"tenant_id": tenant_id, "client_id": client_id, "local": window}
        found = await self.slots.find(query).to_list(None)
        found.sort(key=lambda d: (d["local"], d["_id"]))
        docs = [
            d
            for d in found
            if all(d.get(k) == v for k, v in filters.items())
            and (after is None or (d["local"], d["_id"]) > after)
        ][:limit]
        return [Slot.model_validate(d) for d in docs]

    async def roster(self, tenant_id: str) -> list[str]:
        """The tenant's client ids in order (cached briefly: read on every agency view)."""
        ids = self._rosters.get(tenant_id)
        if ids is None:
            cursor = self.clients.find({"tenant_id": tenant_id}, {"_id": 1})
            ids = sorted([d["_id"] async for d in cursor])
            self._rosters.put(tenant_id, ids)
        return ids

    async def agency_slots(
        self,
        tenant_id: str,
        *,
        start: str,
        end: str,
        filters: dict[str, str],
        limit: int,
        start_after: tuple[str, str, str] | None = None,
    ) -> list[Slot]:
        """An agency's slots of local times in [start, end), client by client (in client id
        order, each in local time order), after (client, local, id) of a previous page.

        One indexed range read per client, in turn, until the page is full (see
        `_client_range`). Not a `$in` of clients: SecantusDB does not plan it on the index and
        read every slot of the tenant for it (15.9 s for a week of 20 clients at 100 clients).
        Reading clients concurrently gained nothing (a page of 500 from 26 clients: p50 52-53
        ms 26 at once, 51-56 ms in turn): the database serves the reads one at a time."""
        roster = await self.roster(tenant_id)
        found: list[Slot] = []
        first = bisect.bisect_left(roster, start_after[0]) if start_after else 0
        for client_id in roster[first:]:
            after = None
            if start_after and client_id == start_after[0]:
                after = (start_after[1], start_after[2])
            found += await self._client_range(
                tenant_id, client_id, start, end,
                filters=filters, limit=limit - len(found), after=after,
            )  # fmt: skip
            if len(found) >= limit:
                break
        return found

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
        cursor = self.posts.find({"_id": {"$in": post_ids}, "tenant_id": tenant_id})
        return {d["_id"]: Post.model_validate(d) async for d in cursor}
