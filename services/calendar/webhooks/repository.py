"""Subscriptions and deliveries in MongoDB, every query scoped by tenant (an agency never sees
another's subscription: it answers like a missing one).

`webhook_deliveries` is the persisted queue and the delivery log at once: `_id` is
`<subscription>:<event id>`, so an event redelivered by Kafka (or fanned out twice by two
calendar processes) is one delivery. A sender claims due ones by moving their `next_attempt_at`
a lease ahead in one atomic update: if the sender dies, the delivery is due again after the
lease, so nothing is lost across restarts and no two senders hold it at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.calendar.webhooks.models import DeliveryStatus, SubscriptionStatus
from shared import mongo
from shared.lru import BoundedCache

SUBSCRIPTIONS = "webhook_subscriptions"
DELIVERIES = "webhook_deliveries"
MAX_LOG_ERROR = 300
INDEXES = {
    SUBSCRIPTIONS: [IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)])],
    DELIVERIES: [
        # the senders' queue: due pending deliveries, oldest due first
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        # a subscription's delivery log, newest first
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("subscription_id", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
    ],
}


def delivery_id(subscription_id: str, event_id: str) -> str:
    return f"{subscription_id}:{event_id}"


ActiveSubscription = tuple[str, frozenset[str], frozenset[str]]  # id, event types, clients


class WebhookRepository:
    def __init__(self, db: AsyncDatabase[Any], *, cache_ttl_s: float = 5.0) -> None:
        self.subscriptions = db[SUBSCRIPTIONS]
        self.deliveries = db[DELIVERIES]
        # every lifecycle event asks which subscriptions want it: most tenants have none, so
        # a tenant's active subscriptions are cached briefly (changes here drop the entry)
        self._active: BoundedCache[str, list[ActiveSubscription]] = BoundedCache(
            10_000, cache_ttl_s
        )

    # subscriptions ---------------------------------------------------------------------------

    async def create(
        self, tenant_id: str, fields: dict[str, Any], *, now: datetime
    ) -> dict[str, Any]:
        sub_id = "wh_" + uuid.uuid4().hex[:20]
        doc = {
            "_id": sub_id,
            "subscription_id": sub_id,
            "tenant_id": tenant_id,
            "status": SubscriptionStatus.ACTIVE.value,
            "consecutive_failures": 0,
            "created_at": now,
            **fields,
        }
        await self.subscriptions.insert_one(doc)
        self._active.pop(tenant_id)
        return doc

    async def get(self, tenant_id: str, sub_id: str) -> dict[str, Any] | None:
        return await self.subscriptions.find_one({"_id": sub_id, "tenant_id": tenant_id})

    async def of_tenant(self, tenant_id: str, *, limit: int) -> list[dict[str, Any]]:
        cursor = self.subscriptions.find({"tenant_id": tenant_id}).sort("_id", ASCENDING)
        return await cursor.to_list(limit)

    async def matching(self, tenant_id: str, event_type: str, client_id: str | None) -> list[str]:
        """Ids of the tenant's active subscriptions that want this event (a subscription
        made in another process is seen within the cache's time to live)."""
        active = self._active.get(tenant_id)
        if active is None:
            query = {"tenant_id": tenant_id, "status": SubscriptionStatus.ACTIVE.value}
            cursor = self.subscriptions.find(query, {"event_types": 1, "client_ids": 1})
            active = [
                (d["_id"], frozenset(d["event_types"]), frozenset(d.get("client_ids") or ()))
                async for d in cursor
            ]
            self._active.put(tenant_id, active)
        return [
            sub_id
            for sub_id, types, clients in active
            if event_type in types and (not clients or client_id is None or client_id in clients)
        ]

    async def update(self, tenant_id: str, sub_id: str, changes: dict[str, Any]) -> bool:
        result = await self.subscriptions.update_one(
            {"_id": sub_id, "tenant_id": tenant_id}, {"$set": changes}
        )
        return result.matched_count == 1

    async def delete(self, tenant_id: str, sub_id: str) -> bool:
        """Delete a subscription; its deliveries not yet made are cancelled (the log stays)."""
        result = await self.subscriptions.delete_one({"_id": sub_id, "tenant_id": tenant_id})
        self._active.pop(tenant_id)
        if result.deleted_count:
            await self.deliveries.update_many(
                {"tenant_id": tenant_id, "subscription_id": sub_id,
                 "status": {"$in": [DeliveryStatus.PENDING.value, DeliveryStatus.SUSPENDED.value]}},
                {"$set": {"status": DeliveryStatus.CANCELLED.value, "next_attempt_at": None}},
            )  # fmt: skip
        return bool(result.deleted_count)

    async def enable(self, tenant_id: str, sub_id: str, *, now: datetime) -> bool:
        """Turn a disabled subscription back on; its suspended deliveries are due again."""
        result = await self.subscriptions.update_one(
            {"_id": sub_id, "tenant_id": tenant_id},
            {"$set": {"status": SubscriptionStatus.ACTIVE.value, "consecutive_failures": 0,
                      "disabled_reason": None}},
        )  # fmt: skip
        if not result.matched_count:
            return False
        self._active.pop(tenant_id)
        await self.deliveries.update_many(
            {"tenant_id": tenant_id, "subscription_id": sub_id,
             "status": DeliveryStatus.SUSPENDED.value},
            {"$set": {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now}},
        )  # fmt: skip
        return True

    async def record_success(self, sub_id: str) -> None:
        await self.subscriptions.update_one(
            {"_id": sub_id, "consecutive_failures": {"$ne": 0}},
            {"$set": {"consecutive_failures": 0}},
        )

    async def record_failures(
        self, sub_id: str, failures: int, *, reset: bool = False
    ) -> dict[str, Any] | None:
        """Count failed attempts (`reset`: a success came between, the count starts over at
        these); the subscription after it (None if deleted meanwhile)."""
        change = {"$set": {"consecutive_failures": failures}} if reset else {
            "$inc": {"consecutive_failures": failures}}  # fmt: skip
        return await self.subscriptions.find_one_and_update(
            {"_id": sub_id}, change, return_document=ReturnDocument.AFTER
        )

    async def disable(self, sub_id: str, *, reason: str, session: AsyncClientSession) -> bool:
        """Disable an active subscription and suspend its pending deliveries; False when it
        was not active (so the caller announces a disabling once)."""
        result = await self.subscriptions.update_one(
            {"_id": sub_id, "status": SubscriptionStatus.ACTIVE.value},
            {"$set": {"status": SubscriptionStatus.DISABLED.value, "disabled_reason": reason}},
            session=session,
        )
        if not result.modified_count:
            return False
        self._active.clear()  # rare; the tenant is not at hand here
        await self.deliveries.update_many(
            {"subscription_id": sub_id, "status": DeliveryStatus.PENDING.value},
            {"$set": {"status": DeliveryStatus.SUSPENDED.value}},
            session=session,
        )
        return True

    # deliveries -------------------------------------------------------------------------------

    async def enqueue(
        self,
        *,
        tenant_id: str,
        subscription_ids: list[str],
        event_id: str,
        event_type: str,
        body: bytes,
        now: datetime,
    ) -> int:
        """One pending delivery per subscription; a repeat of the event adds nothing.
        Returns how many were new."""
        docs = [
            {
                "_id": delivery_id(sub_id, event_id),
                "tenant_id": tenant_id,
                "subscription_id": sub_id,
                "event_id": event_id,
                "event_type": event_type,
                "body": body,
                "status": DeliveryStatus.PENDING.value,
                "created_at": now,
                "next_attempt_at": now,
                "attempts": [],
            }
            for sub_id in subscription_ids
        ]
        if not docs:
            return 0
        try:
            await self.deliveries.insert_many(docs, ordered=False)
        except BulkWriteError as e:
            if not mongo.only_duplicates(e):
                raise
            return len(docs) - len(e.details.get("writeErrors", []))
        return len(docs)

    async def claim(
        self, *, now: datetime, lease_s: float, owner: str, limit: int = 1
    ) -> list[dict[str, Any]]:
        """Take up to `limit` of the most overdue pending deliveries for `lease_s`: one read,
        one update of those still due (a document is updated by one sender only: once taken,
        it is no longer due), one read of what this claim got. Three round trips a batch
        instead of a write per delivery (each write waits for the journal)."""
        due = {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}}
        cursor = self.deliveries.find(due, {"_id": 1}).sort("next_attempt_at", ASCENDING)
        ids = [d["_id"] for d in await cursor.to_list(limit)]
        if not ids:
            return []
        token = f"{owner}:{uuid.uuid4().hex[:12]}"
        await self.deliveries.update_many(
            {"_id": {"$in": ids}, **due},
            {"$set": {"next_attempt_at": now + timedelta(seconds=lease_s), "claimed_by": token}},
        )
        return await self.deliveries.find({"_id": {"$in": ids}, "claimed_by": token}).to_list(None)

    async def subscriptions_by_id(self, ids: set[str]) -> dict[str, dict[str, Any]]:
        cursor = self.subscriptions.find({"_id": {"$in": sorted(ids)}})
        return {d["_id"]: d async for d in cursor}

    async def finish_many(
        self,
        done: list[tuple[dict[str, Any], dict[str, Any], DeliveryStatus, datetime | None]],
    ) -> None:
        """Log each (delivery, attempt, status, next attempt) in one unordered bulk write (one
        wait for the journal), each only if the claim it was sent under still holds (a sender
        whose lease ran out changes nothing)."""
        ops = []
        for delivery, attempt, status, next_attempt_at in done:
            logged = attempt | {"error": str(attempt["error"])[:MAX_LOG_ERROR]
                                if attempt.get("error") else None}  # fmt: skip
            changes: dict[str, Any] = {"status": status.value, "next_attempt_at": next_attempt_at}
            if status is DeliveryStatus.DELIVERED:
                changes["delivered_at"] = attempt["at"]
            ops.append(UpdateOne(
                {"_id": delivery["_id"], "claimed_by": delivery["claimed_by"],
                 "status": DeliveryStatus.PENDING.value},
                {"$set": changes, "$push": {"attempts": logged}},
            ))  # fmt: skip
        if ops:
            await self.deliveries.bulk_write(ops, ordered=False)

    async def set_status(self, delivery_id_: str, status: DeliveryStatus) -> None:
        await self.deliveries.update_one(
            {"_id": delivery_id_}, {"$set": {"status": status.value, "next_attempt_at": None}}
        )

    async def log(
        self,
        tenant_id: str,
        sub_id: str,
        *,
        status: str | None,
        limit: int,
        before: tuple[datetime, str] | None,
    ) -> list[dict[str, Any]]:
        """A subscription's deliveries, newest first, after the keyset position `before`."""
        query: dict[str, Any] = {"tenant_id": tenant_id, "subscription_id": sub_id}
        if status:
            query["status"] = status
        if before:
            at, last_id = before
            older = {
                "$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": last_id}}]
            }
            query = {"$and": [query, older]}
        cursor = self.deliveries.find(query, {"body": 0}).sort(
            [("created_at", DESCENDING), ("_id", DESCENDING)]
        )
        return await cursor.to_list(limit)
