"""Audit storage: per (tenant, client, platform) running totals."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import MetricsIngested

INDEXES = {"platform_totals": [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)])]}


class AuditRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.totals = db["platform_totals"]

    async def add_totals(self, event: MetricsIngested, *, session: AsyncClientSession) -> None:
        for t in event.totals:
            inc: dict[str, Any] = {"observations": t.observations}
            inc |= {f"metrics.{name}": value for name, value in t.metrics.items()}
            await self.totals.update_one(
                {"_id": f"{event.tenant_id}:{t.client_id}:{t.platform.value}"},
                {
                    "$inc": inc,
                    "$setOnInsert": {
                        "tenant_id": event.tenant_id,
                        "client_id": t.client_id,
                        "platform": t.platform.value,
                    },
                },
                upsert=True,
                session=session,
            )

    async def for_client(self, tenant_id: str, client_id: str) -> list[dict[str, Any]]:
        cursor = self.totals.find({"tenant_id": tenant_id, "client_id": client_id})
        return await cursor.to_list(None)
