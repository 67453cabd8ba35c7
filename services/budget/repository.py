"""Budget storage: budgets and the spend ledger (one entry per observation and budget)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.budget.models import Budget
from shared.envelope import utcnow

INDEXES = {
    "budgets": [IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)])],
    "ledger": [IndexModel([("tenant_id", ASCENDING), ("budget_id", ASCENDING)])],
}


def _to_doc(budget: Budget) -> dict[str, Any]:
    doc = budget.model_dump()
    doc["_id"] = budget.budget_id
    # BSON has no date type: store calendar dates as ISO strings (sortable, exact)
    doc["period_start"] = budget.period_start.isoformat()
    doc["period_end"] = budget.period_end.isoformat()
    return doc


class BudgetRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.budgets = db["budgets"]
        self.ledger = db["ledger"]

    async def add(self, budget: Budget) -> None:
        await self.budgets.insert_one(_to_doc(budget))

    async def get(self, tenant_id: str, budget_id: str) -> Budget | None:
        doc = await self.budgets.find_one({"_id": budget_id, "tenant_id": tenant_id})
        return Budget.model_validate(doc) if doc else None

    async def list(
        self,
        tenant_id: str,
        client_id: str | None = None,
        *,
        limit: int,
        start_after: tuple[str, str] | None = None,
    ) -> list[Budget]:
        """Up to `limit` budgets in (name, id) order, after a position of a previous page."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if client_id:
            query["client_id"] = client_id
        if start_after:
            name, last_id = start_after
            query["$or"] = [{"name": {"$gt": name}}, {"name": name, "_id": {"$gt": last_id}}]
        cursor = self.budgets.find(query).sort([("name", ASCENDING), ("_id", ASCENDING)])
        return [Budget.model_validate(d) async for d in cursor.limit(limit)]

    async def for_clients(
        self, tenant_id: str, client_ids: set[str], *, session: AsyncClientSession
    ) -> list[Budget]:
        cursor = self.budgets.find(
            {"tenant_id": tenant_id, "client_id": {"$in": sorted(client_ids)}}, session=session
        )
        return [Budget.model_validate(d) async for d in cursor]

    async def book(
        self, entries: list[dict[str, Any]], *, session: AsyncClientSession
    ) -> list[dict[str, Any]]:
        """Insert ledger entries not booked before; return those that were new."""
        ids = {e["_id"] for e in entries}
        seen = {
            d["_id"]
            async for d in self.ledger.find(
                {"_id": {"$in": sorted(ids)}}, {"_id": 1}, session=session
            )
        }
        fresh = [e for e in entries if e["_id"] not in seen]
        if fresh:
            await self.ledger.insert_many(fresh, session=session)
        return fresh

    async def record_spend(
        self, budget_id: str, spent: Decimal, crossed: list[int], *, session: AsyncClientSession
    ) -> None:
        await self.budgets.update_one(
            {"_id": budget_id},
            {
                "$set": {"spent.amount": spent, "updated_at": utcnow()},
                "$addToSet": {"crossed_pct": {"$each": crossed}},
            },
            session=session,
        )
