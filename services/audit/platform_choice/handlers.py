"""The audit learns each client's strategy platforms, personas and platform review dates from
`StrategyUpdated` (the newest version wins; a repeat changes nothing)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from pymongo.asynchronous.database import AsyncDatabase

from services.audit.platform_choice.reviews import Reviews
from shared import topics
from shared.broker import at_least_once
from shared.events import StrategyUpdated
from shared.runtime import Runtime


class Strategies:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.strategies = db["client_strategies"]

    async def record(self, e: StrategyUpdated) -> None:
        key = f"{e.tenant_id}|{e.client_id}"
        personas = [[p.value for p in persona.platforms] for persona in e.personas]
        doc = {"platforms": [p.value for p in e.platforms], "version": e.version,
               "strategy_id": e.strategy_id, "updated_at": e.occurred_at,
               "personas": personas}  # fmt: skip
        await self.strategies.update_one(
            {"_id": key, "$or": [{"updated_at": {"$lt": e.occurred_at}}, {"updated_at": None}]},
            {"$set": doc},
            upsert=False,
        )
        if await self.strategies.find_one({"_id": key}, {"_id": 1}) is None:
            await self.strategies.update_one({"_id": key}, {"$setOnInsert": doc}, upsert=True)

    async def platforms(self, tenant_id: str, client_id: str) -> set[str]:
        return (await self.audience(tenant_id, client_id))[0]

    async def audience(self, tenant_id: str, client_id: str) -> tuple[set[str], list[set[str]]]:
        """The current strategy's platforms and each persona's platforms (none: no strategy,
        or one recorded before events carried personas)."""
        doc = await self.strategies.find_one({"_id": f"{tenant_id}|{client_id}"})
        if not doc:
            return set(), []
        return set(doc["platforms"]), [set(p) for p in doc.get("personas") or []]


def build_router(runtime: Runtime, strategies: Strategies, reviews: Reviews) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.STRATEGIES, **at_least_once(runtime.group("audit-strategies")))  # type: ignore[untyped-decorator]
    async def on_strategy(event: StrategyUpdated) -> None:
        """Remember the client's current strategy platforms and personas, and arm each
        platform's review date."""
        await runtime.require_tenant(event.tenant_id)
        await strategies.record(event)
        await reviews.record(event)

    return router
