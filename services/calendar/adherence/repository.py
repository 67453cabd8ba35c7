"""What adherence reads and keeps, always scoped by tenant: its read model of published posts
(`adherence_published`, one document per post from `PostPublished`), each client's state
(`adherence_states`: threshold, whether it is below it now), and the planning slots."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.calendar.adherence.score import Planned
from services.calendar.planning.models import SlotKind
from services.calendar.planning.repository import WEEKS, client_slots
from shared.events import PostPublished

PUBLISHED = "adherence_published"
STATES = "adherence_states"
SWEEPS = "adherence_sweeps"
INDEXES = {
    PUBLISHED: [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING),
                            ("scheduled_at", ASCENDING)])],
    STATES: [IndexModel([("tenant_id", ASCENDING), ("below", ASCENDING)])],
}  # fmt: skip
MAX_SLOTS = 50_000  # a year of 20 platforms posting 7 times a day stays well below


def state_key(tenant_id: str, client_id: str) -> str:
    return f"{tenant_id}|{client_id}"


class AdherenceRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.published = db[PUBLISHED]
        self.states = db[STATES]
        self.weeks = db[WEEKS]
        self.clients = db["clients"]
        self.sweeps = db[SWEEPS]

    async def claim_sweep(self, *, owner: str, now: datetime, until: datetime) -> bool:
        """Take the sweep until `until` unless another process holds it (one sweep per
        interval across every calendar process)."""
        try:
            await self.sweeps.update_one(
                {"_id": "sweep", "until": {"$lte": now}},
                {"$set": {"until": until, "owner": owner}},
                upsert=True,
            )
        except DuplicateKeyError:  # held by another process
            return False
        return True

    async def below_by_tenant(self) -> dict[str, int]:
        """Clients below their threshold per tenant, as last evaluated (for the gauge)."""
        cursor = await self.states.aggregate(
            [{"$match": {"below": True}}, {"$group": {"_id": "$tenant_id", "n": {"$sum": 1}}}]
        )
        return {d["_id"]: d["n"] async for d in cursor}

    async def record(self, event: PostPublished) -> bool:
        """Remember a published post (a replay changes nothing); True when it was new."""
        try:
            await self.published.insert_one({
                "_id": f"{event.tenant_id}|{event.post_id}",
                "tenant_id": event.tenant_id, "client_id": event.client_id,
                "post_id": event.post_id, "slot_id": event.slot_id,
                "platform": event.platform.value, "scheduled_at": event.scheduled_at,
                "published_at": event.published_at, "pillar": event.pillar,
                "content_type": event.content_type, "stage": event.stage,
                "strategy_id": event.strategy_id,
            })  # fmt: skip
        except DuplicateKeyError:  # a replay (an insert costs a fifth of an upsert)
            return False
        return True

    async def planned(
        self, tenant_id: str, client_id: str, start: str, end: str, *, now: datetime
    ) -> list[Planned]:
        """The client's slots of local dates [start, end) (the planning index); those after
        `now` are upcoming."""
        found = await client_slots(self.weeks, tenant_id, client_id, start, end)
        return [
            Planned(
                d["platform"],
                date.fromisoformat(d["local_date"]),
                d.get("kind") == SlotKind.REACTIVE,
                d["at"] > now,
            )
            for d in found[:MAX_SLOTS]
        ]

    async def published_between(
        self, tenant_id: str, client_id: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        query = {"tenant_id": tenant_id, "client_id": client_id,
                 "scheduled_at": {"$gte": start, "$lt": end}}  # fmt: skip
        return await self.published.find(query).to_list(MAX_SLOTS)

    async def state(self, tenant_id: str, client_id: str) -> dict[str, Any] | None:
        return await self.states.find_one({"_id": state_key(tenant_id, client_id)})

    async def set_threshold(self, tenant_id: str, client_id: str, threshold: Decimal) -> None:
        await self.states.update_one(
            {"_id": state_key(tenant_id, client_id)},
            {"$set": {"tenant_id": tenant_id, "client_id": client_id, "threshold": threshold}},
            upsert=True,
        )

    async def mark(
        self,
        tenant_id: str,
        client_id: str,
        *,
        below: bool,
        figures: dict[str, Any],
        session: AsyncClientSession,
    ) -> bool:
        """Store whether the client is below its threshold; True when that changed (so a drop
        is announced once, whatever the number of evaluations)."""
        key = state_key(tenant_id, client_id)
        update = {"$set": {"tenant_id": tenant_id, "client_id": client_id, "below": below,
                           **figures}}  # fmt: skip
        changed = await self.states.update_one(
            {"_id": key, "below": {"$ne": below}}, update, session=session
        )
        if changed.matched_count:
            return True
        if await self.states.find_one({"_id": key}, {"_id": 1}, session=session):
            await self.states.update_one({"_id": key}, update, session=session)
            return False
        await self.states.insert_one({"_id": key, **update["$set"]}, session=session)
        return below  # first evaluation: a drop only if it starts below

    async def count_below(self, tenant_id: str) -> int:
        return await self.states.count_documents({"tenant_id": tenant_id, "below": True})

    async def client_keys(self, *, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Clients of every tenant in id order, a page at a time (for the sweep)."""
        query: dict[str, Any] = {"_id": {"$gt": after}} if after else {}
        cursor = self.clients.find(query, {"tenant_id": 1, "timezone": 1}).sort("_id", ASCENDING)
        return await cursor.to_list(limit)
