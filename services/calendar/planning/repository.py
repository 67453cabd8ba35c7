"""Slot storage, and the post writes of planning (fill, edit, move, cancel), always scoped by
tenant. Changes check the document's `version` (optimistic concurrency): a stale write
matches nothing and the caller answers 409.

Slots are stored **week by week**: one document per client and ISO week (`slot_weeks`, keyed
`tenant|client|monday`), its slots a map by slot id. SecantusDB's cost is per document read or
written far more than per byte, and every calendar read and write is a client's weeks:

| at 60 clients of a year (1,049 slots each) | a document per slot | a document per week |
| --- | ---: | ---: |
| a client's 12 months generated (one transaction) | 440-557 ms | 75-109 ms |
| an agency's week, 26 clients (520 slots) | 135 ms | 40 ms |
| a client's month | 13.1 ms | 8.4 ms |

A slot's id names the week it was made in (`models.new_slot_id`), so one read by `_id` finds
it; a slot moved to another week leaves a pointer in `slot_moves`. Ids without a week (made
before) are found through the pointers `migrate_slot_documents` writes."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DeleteOne, IndexModel, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.calendar.models import Post
from services.calendar.planning.models import SLOT_ID, Slot, week_in_id, week_of
from shared import mongo
from shared.lru import BoundedCache

ROSTER_TTL_S = 10.0  # a new client shows in agency views within this long
MAX_ROSTERS = 10_000
WEEKS = "slot_weeks"
MOVES = "slot_moves"
LEGACY = "slots"  # one document per slot, before slots were stored by week
FIRST_CHUNK = 16  # clients read at once for an agency's week, before their size is known
MAX_CHUNK = 256

INDEXES = {
    WEEKS: [
        # a client's weeks (its week or month view, regeneration's range, exports)
        IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING), ("week", ASCENDING)]),
        # an agency's week: a range of clients in one read
        IndexModel([("tenant_id", ASCENDING), ("week", ASCENDING), ("client_id", ASCENDING)]),
    ],
    "feeds": [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)])],
}


def _version(version: int) -> dict[str, Any]:
    """Match a document at `version` (documents written before versions existed are 1)."""
    if version == 1:
        return {"$or": [{"version": 1}, {"version": {"$exists": False}}]}
    return {"version": version}


def week_key(tenant_id: str, client_id: str, week: str) -> str:
    return f"{tenant_id}|{client_id}|{week}"


def week_documents(slots: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slot documents (`Slot.model_dump()`) as the week documents that store them."""
    weeks: dict[str, dict[str, Any]] = {}
    for slot in slots:
        week = week_of(slot["local"])
        key = week_key(slot["tenant_id"], slot["client_id"], week)
        if key not in weeks:
            weeks[key] = {"_id": key, "tenant_id": slot["tenant_id"],
                          "client_id": slot["client_id"], "week": week, "slots": {}}  # fmt: skip
        weeks[key]["slots"][slot["slot_id"]] = slot
    return list(weeks.values())


def _in_range(docs: Iterable[dict[str, Any]], start: str, end: str) -> list[dict[str, Any]]:
    """The slots of week documents with local times in [start, end), in (local, id) order."""
    found = [s for d in docs for s in d["slots"].values() if start <= s["local"] < end]
    found.sort(key=lambda s: (s["local"], s["slot_id"]))
    return found


def _weeks(start: str, end: str) -> dict[str, Any]:
    """The weeks holding local times in [start, end)."""
    return {"$gte": week_of(start), "$lt": end}


async def client_slots(
    weeks: AsyncCollection[Any],
    tenant_id: str,
    client_id: str,
    start: str,
    end: str,
    *,
    session: AsyncClientSession | None = None,
) -> list[dict[str, Any]]:
    """A client's slot documents of local times in [start, end), in (local, id) order: one
    indexed read of its weeks."""
    query = {"tenant_id": tenant_id, "client_id": client_id, "week": _weeks(start, end)}
    return _in_range(await weeks.find(query, session=session).to_list(None), start, end)


class PlanningRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.weeks = db[WEEKS]
        self.moves = db[MOVES]
        self.posts = db["posts"]
        self.clients = db["clients"]
        self.feeds = db["feeds"]
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
        not rewritten, nor is a week with nothing changed. Returns (created, kept, replaced,
        unchanged)."""
        query = {"tenant_id": tenant_id, "client_id": client_id, "week": _weeks(start, end)}
        stored = {d["_id"]: d async for d in self.weeks.find(query, session=session)}
        kept: set[tuple[str, str]] = set()
        kept_ids: set[str] = set()
        untouched: dict[str, Slot] = {}
        for doc in _in_range(stored.values(), start, end):
            if doc["at"] < now or doc.get("post_id") or doc.get("edited"):
                kept.add((doc["platform"], doc["local"]))
                kept_ids.add(doc["slot_id"])
            else:
                untouched[doc["slot_id"]] = Slot.model_validate(doc)
        wanted = {
            s.slot_id: s
            for s in slots
            if s.at >= now and s.slot_id not in kept_ids and (s.platform.value, s.local) not in kept
        }
        same = {i for i, s in wanted.items() if untouched.get(i) == s}
        stale = [i for i in untouched if i not in same]
        new = [s.model_dump(mode="python") for i, s in wanted.items() if i not in same]
        changed: dict[str, dict[str, Any]] = {}  # week key -> its new slots
        for slot_id in stale:
            key = week_key(tenant_id, client_id, week_of(untouched[slot_id].local))
            changed.setdefault(key, dict(stored[key]["slots"])).pop(slot_id)
        for doc in week_documents(new):
            if doc["_id"] in stored:
                changed.setdefault(doc["_id"], dict(stored[doc["_id"]]["slots"]))
                changed[doc["_id"]].update(doc["slots"])
            else:
                changed[doc["_id"]] = doc["slots"]
        writes: list[Any] = []
        for key, week_slots in changed.items():
            week = key.rsplit("|", 1)[1]
            doc = {"_id": key, "tenant_id": tenant_id, "client_id": client_id,
                   "week": week, "slots": week_slots}  # fmt: skip
            if key not in stored:
                writes.append(InsertOne(doc))
            elif week_slots:
                writes.append(ReplaceOne({"_id": key, "tenant_id": tenant_id}, doc))
            else:
                writes.append(DeleteOne({"_id": key, "tenant_id": tenant_id}))
        if writes:
            await self.weeks.bulk_write(writes, ordered=False, session=session)
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
        at a time, after (local, id) of a previous page."""
        window_start = max(start, start_after[0]) if start_after else start
        found = await client_slots(self.weeks, tenant_id, client_id, window_start, end)
        return _page(found, filters, limit, start_after)

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

        An ISO week is read a range of clients at a time (the week index), as many clients as
        the page still needs at the slots per client read so far. Any other range reads
        client by client. Not a `$in` of clients: SecantusDB plans only equalities on an
        index's leading fields and one range on the next (a 20-client `$in` read every slot
        of the tenant: 15.9 s at 100 clients)."""
        roster = await self.roster(tenant_id)
        first = bisect.bisect_left(roster, start_after[0]) if start_after else 0
        one_week = week_of(start) == start and date.fromisoformat(start) + timedelta(
            days=7
        ) == date.fromisoformat(end)
        found: list[Slot] = []
        chunk, read_clients, read_slots = FIRST_CHUNK, 0, 0
        while first < len(roster) and len(found) < limit:
            clients = roster[first : first + (chunk if one_week else 1)]
            if one_week:
                query = {"tenant_id": tenant_id, "week": start,
                         "client_id": {"$gte": clients[0], "$lte": clients[-1]}}  # fmt: skip
                docs = await self.weeks.find(query).to_list(None)
                by_client = {d["client_id"]: _in_range([d], start, end) for d in docs}
            else:
                by_client = {
                    clients[0]: await client_slots(self.weeks, tenant_id, clients[0], start, end)
                }
            for client_id in clients:
                after = None
                if start_after and client_id == start_after[0]:
                    after = (start_after[1], start_after[2])
                slots = by_client.get(client_id, [])
                read_slots += len(slots)
                found += _page(slots, filters, limit - len(found), after)
                if len(found) >= limit:
                    break
            first += len(clients)
            read_clients += len(clients)
            per_client = max(read_slots / read_clients, 1.0)
            chunk = min(MAX_CHUNK, max(4, math.ceil((limit - len(found)) / per_client * 1.25)))
        return found

    async def _week_doc(
        self, tenant_id: str, client_id: str, slot_id: str, session: AsyncClientSession | None
    ) -> tuple[str, dict[str, Any]] | None:
        """(week key, slot document) of a slot, from the week its id names or its pointer."""
        if not SLOT_ID.match(slot_id):  # never a path into another field
            return None
        week = week_in_id(slot_id)
        for attempt in ("named", "moved"):
            if attempt == "moved":
                pointer = await self.moves.find_one(
                    {"_id": week_key(tenant_id, client_id, slot_id), "tenant_id": tenant_id},
                    session=session,
                )
                if pointer is None or pointer["week"] == week:
                    return None
                week = pointer["week"]
            if week is None:
                continue
            key = week_key(tenant_id, client_id, week)
            doc = await self.weeks.find_one(
                {"_id": key, "tenant_id": tenant_id}, {f"slots.{slot_id}": 1}, session=session
            )
            if doc and slot_id in doc.get("slots", {}):
                return key, doc["slots"][slot_id]
        return None

    async def get_slot(
        self,
        tenant_id: str,
        client_id: str,
        slot_id: str,
        session: AsyncClientSession | None = None,
    ) -> Slot | None:
        found = await self._week_doc(tenant_id, client_id, slot_id, session)
        return Slot.model_validate(found[1]) if found else None

    async def add_slot(self, slot: Slot, *, session: AsyncClientSession) -> None:
        """Store a new slot (made by hand or imported) in its week."""
        week = week_of(slot.local)
        stored = {"client_id": slot.client_id, "week": week,
                  f"slots.{slot.slot_id}": slot.model_dump(mode="python")}  # fmt: skip
        await self.weeks.update_one(
            {"_id": week_key(slot.tenant_id, slot.client_id, week), "tenant_id": slot.tenant_id},
            {"$set": stored},
            upsert=True,
            session=session,
        )
        if week != week_in_id(slot.slot_id):
            await self._point(slot, week, session)

    async def update_slot(
        self,
        slot: Slot,
        changes: dict[str, Any],
        *,
        version: int,
        session: AsyncClientSession | None = None,
    ) -> Slot | None:
        """Apply changes if the slot is still at `version`; the new slot, or None if stale.
        A slot moved to another week moves to that week's document (one transaction)."""
        updated = Slot.model_validate(slot.model_dump() | changes | {"version": version + 1})
        old, new = week_of(slot.local), week_of(updated.local)
        if old == new:
            key = week_key(slot.tenant_id, slot.client_id, old)
            path = f"slots.{slot.slot_id}"
            query = {"_id": key, "tenant_id": slot.tenant_id, **_slot_version(path, version)}
            sets = {f"{path}.{k}": v for k, v in updated.model_dump(mode="python").items()
                    if k in changes or k == "version"}  # fmt: skip
            result = await self.weeks.update_one(query, {"$set": sets}, session=session)
            return updated if result.modified_count == 1 else None
        if session is None:
            async with mongo.transaction(self.weeks.database.client) as own:
                return await self._move(slot, updated, version, own)
        return await self._move(slot, updated, version, session)

    async def _move(
        self, slot: Slot, updated: Slot, version: int, session: AsyncClientSession
    ) -> Slot | None:
        path = f"slots.{slot.slot_id}"
        old = week_key(slot.tenant_id, slot.client_id, week_of(slot.local))
        query = {"_id": old, "tenant_id": slot.tenant_id, **_slot_version(path, version)}
        result = await self.weeks.update_one(query, {"$unset": {path: ""}}, session=session)
        if result.modified_count != 1:
            return None
        await self.add_slot(updated, session=session)
        return updated

    async def _point(self, slot: Slot, week: str, session: AsyncClientSession) -> None:
        await self.moves.update_one(
            {"_id": week_key(slot.tenant_id, slot.client_id, slot.slot_id),
             "tenant_id": slot.tenant_id},
            {"$set": {"week": week}},
            upsert=True,
            session=session,
        )  # fmt: skip

    async def follow_post(
        self,
        tenant_id: str,
        client_id: str,
        slot_id: str,
        changes: dict[str, Any],
        *,
        session: AsyncClientSession,
    ) -> None:
        """Apply a post's change (its time, its status) to the slot it fills."""
        slot = await self.get_slot(tenant_id, client_id, slot_id, session=session)
        if slot is not None:
            await self.update_slot(slot, changes, version=slot.version, session=session)

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
        found = await client_slots(self.weeks, tenant_id, client_id, start, end)
        return [Slot.model_validate(d) for d in found[:limit]]

    async def posts_by_id(self, tenant_id: str, post_ids: list[str]) -> dict[str, Post]:
        if not post_ids:
            return {}
        cursor = self.posts.find({"_id": {"$in": post_ids}, "tenant_id": tenant_id})
        return {d["_id"]: Post.model_validate(d) async for d in cursor}


def _slot_version(path: str, version: int) -> dict[str, Any]:
    """Match a week document whose slot at `path` is at `version`."""
    return {f"{path}.version": version}


def _page(
    slots: list[dict[str, Any]],
    filters: dict[str, str],
    limit: int,
    after: tuple[str, str] | None,
) -> list[Slot]:
    """Up to `limit` of slot documents (in (local, id) order) matching `filters`, after
    (local, id) of a previous page. Filters are applied here, not in the database: it plans
    only the index's leading equalities and one range, and a client's week or month is a few
    hundred slots at most."""
    docs = [
        d
        for d in slots
        if all(d.get(k) == v for k, v in filters.items())
        and (after is None or (d["local"], d["slot_id"]) > after)
    ][:limit]
    return [Slot.model_validate(d) for d in docs]


async def migrate_slot_documents(db: AsyncDatabase[Any], *, batch: int = 5_000) -> int:
    """Move slots stored one document each (before week documents) into their weeks, with a
    pointer for each id that names no week; idempotent, run at start-up. Returns how many
    slots moved."""
    if LEGACY not in await db.list_collection_names():
        return 0
    legacy, moved = db[LEGACY], 0
    while docs := await legacy.find({}).limit(batch).to_list(None):
        slots = [{k: v for k, v in d.items() if k != "_id"} for d in docs]
        writes = [
            UpdateOne(
                {"_id": w["_id"], "tenant_id": w["tenant_id"]},
                {"$set": {"client_id": w["client_id"], "week": w["week"]}
                 | {f"slots.{i}": s for i, s in w["slots"].items()}},
                upsert=True,
            )
            for w in week_documents(slots)
        ]  # fmt: skip
        await db[WEEKS].bulk_write(writes, ordered=False)
        pointers = [
            UpdateOne(
                {"_id": week_key(s["tenant_id"], s["client_id"], s["slot_id"]),
                 "tenant_id": s["tenant_id"]},
                {"$set": {"week": week_of(s["local"])}},
                upsert=True,
            )
            for s in slots
            if week_in_id(s["slot_id"]) != week_of(s["local"])
        ]  # fmt: skip
        if pointers:
            await db[MOVES].bulk_write(pointers, ordered=False)
        await legacy.delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
        moved += len(docs)
    await legacy.drop()
    return moved
