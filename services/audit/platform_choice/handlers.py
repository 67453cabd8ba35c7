"""The audit learns each client's strategy platforms from `StrategyUpdated` (the newest
version wins; a repeat changes nothing)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter
from pymongo.asynchronous.database import AsyncDatabase

from shared import topics
from shared.broker import at_least_once
from shared.events import StrategyUpdated
from shared.runtime import Runtime


class Strategies:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.strategies = db["client_strategies"]

    async def record(self, e: StrategyUpdated) -> None:
        key = f"{e.tenant_id}|{e.client_id}"
        doc = {"platforms": [p.value for p in e.platforms], "version": e.version,
               "strategy_id": e.strategy_id, "updated_at": e.occurred_at}  # fmt: skip
        await self.strategies.update_one(
            {"_id": key, "$or": [{"updated_at": {"$lt": e.occurred_at}}, {"updated_at": None}]},
            {"$set": doc},
            upsert=False,
        )
        if await self.strategies.find_one({"_id": key}, {"_id": 1}) is None:
            await self.strategies.update_one({"_id": key}, {"$setOnInsert": doc}, upsert=True)

    async def platforms(self, tenant_id: str, client_id: str) -> set[str]:
        doc = await self.strategies.find_one({"_id": f"{tenant_id}|{client_id}"})
        return set(doc["platforms"]) if doc else set()


def build_router(runtime: Runtime, strategies: Strategies) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.STRATEGIES, **at_least_once(runtime.group("audit-strategies")))  # type: ignore[untyped-decorator]
    async def on_strategy(event: StrategyUpdated) -> None:
        """Remember the client's current strategy platforms (its personas chose them)."""
        await runtime.require_tenant(event.tenant_id)
        await strategies.record(event)

    return router
