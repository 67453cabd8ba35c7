"""Strategy storage: every version is a document; the newest carries `latest`. Always scoped
by tenant."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.calendar.strategy.models import Strategy

INDEXES = {
    "strategies": [
        IndexModel([("tenant_id", ASCENDING), ("strategy_id", ASCENDING), ("version", DESCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING), ("latest", ASCENDING)]),
    ],
}
MAX_VERSIONS_LISTED = 500


def version_key(strategy_id: str, version: int) -> str:
    """The document id of one version: two writers of the same next version collide."""
    return f"{strategy_id}:v{version}"


class StrategyRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.strategies = db["strategies"]

    async def add_version(self, strategy: Strategy, *, session: AsyncClientSession) -> None:
        """Store a new version as the latest (DuplicateKeyError: that version exists)."""
        doc = strategy.model_dump(mode="python", exclude={"spec", "end"})
        doc["end"] = strategy.end.isoformat()  # BSON has no date; ISO text sorts the same
        doc["spec"] = strategy.spec.model_dump(mode="json")
        await self.strategies.update_many(
            {"tenant_id": strategy.tenant_id, "strategy_id": strategy.strategy_id, "latest": True},
            {"$set": {"latest": False}},
            session=session,
        )
        await self.strategies.insert_one(
            {"_id": version_key(strategy.strategy_id, strategy.version), **doc, "latest": True},
            session=session,
        )

    async def get(
        self, tenant_id: str, client_id: str, strategy_id: str, version: int | None = None
    ) -> Strategy | None:
        """A version of the client's strategy (the latest when `version` is None)."""
        query: dict[str, Any] = {
            "tenant_id": tenant_id,
            "client_id": client_id,
            "strategy_id": strategy_id,
        }
        if version is not None:
            query["version"] = version
        doc = await self.strategies.find_one(query, sort=[("version", DESCENDING)])
        return Strategy.model_validate(doc) if doc else None

    async def versions(self, tenant_id: str, client_id: str, strategy_id: str) -> list[Strategy]:
        query = {"tenant_id": tenant_id, "client_id": client_id, "strategy_id": strategy_id}
        cursor = self.strategies.find(query).sort("version", DESCENDING)
        return [Strategy.model_validate(d) async for d in cursor.limit(MAX_VERSIONS_LISTED)]

    async def latest_of_client(self, tenant_id: str, client_id: str) -> list[Strategy]:
        query = {"tenant_id": tenant_id, "client_id": client_id, "latest": True}
        cursor = self.strategies.find(query).sort("spec.start", ASCENDING)
        return [Strategy.model_validate(d) async for d in cursor.limit(MAX_VERSIONS_LISTED)]
