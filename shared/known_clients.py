"""Which clients each agency has, as a service other than the calendar learns them: from
`ClientRegistered` on `calendar.clients.v1`, into its own database (never by reading the
calendar's). Routes that take a client id call `KnownClients.require`, so a client id that is
not one of the agency's clients answers 404 exactly like one that does not exist.

A client is known a moment after the calendar created it (the event travels through the
outbox and Kafka, typically well under a second).

Wiring, in a service's app factory:

    known = KnownClients(runtime.db)
    kafka_router.include_router(known_clients.router(runtime, known, group="budget"))
    indexes = {**INDEXES, **known_clients.INDEXES}
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from faststream.kafka import KafkaRouter
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared import topics
from shared.broker import at_least_once
from shared.envelope import utcnow
from shared.events import ClientRegistered
from shared.runtime import Runtime

COLLECTION = "known_clients"
INDEXES = {COLLECTION: [IndexModel([("tenant_id", ASCENDING), ("name", ASCENDING)])]}


def _key(tenant_id: str, client_id: str) -> str:
    return f"{tenant_id}|{client_id}"


class KnownClients:
    """The service's own copy of each agency's clients (id, name, time zone)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[COLLECTION]

    async def record(self, event: ClientRegistered) -> None:
        """Idempotent: a repeated event changes nothing."""
        await self.collection.update_one(
            {"_id": _key(event.tenant_id, event.client_id)},
            {
                "$setOnInsert": {
                    "tenant_id": event.tenant_id,
                    "client_id": event.client_id,
                    "name": event.name,
                    "timezone": event.timezone,
                    "learned_at": utcnow(),
                }
            },
            upsert=True,
        )

    async def get(self, tenant_id: str, client_id: str) -> dict[str, Any] | None:
        """The client's record (`client_id`, `name`, `timezone`), or None."""
        return await self.collection.find_one({"_id": _key(tenant_id, client_id)}, {"_id": 0})

    async def exists(self, tenant_id: str, client_id: str) -> bool:
        return await self.get(tenant_id, client_id) is not None

    async def require(self, tenant_id: str, client_id: str) -> dict[str, Any]:
        """The client, or HTTP 404 (the same answer for another agency's client)."""
        found = await self.get(tenant_id, client_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"client '{client_id}' not found")
        return found


def router(runtime: Runtime, known: KnownClients, *, group: str) -> KafkaRouter:
    """A subscriber on `calendar.clients.v1` that records each client in `known`; `group` is
    the service's consumer group name (e.g. "budget")."""
    kafka_router = KafkaRouter()

    options = at_least_once(runtime.group(f"{group}-clients"))

    @kafka_router.subscriber(topics.CLIENTS, **options)  # type: ignore[untyped-decorator]
    async def on_client_registered(event: ClientRegistered) -> None:
        """Learn a client (idempotent upsert)."""
        await runtime.require_tenant(event.tenant_id)
        await known.record(event)

    return kafka_router
