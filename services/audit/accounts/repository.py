"""Accounts under audit (collection `audit_accounts`) and which agency owns each own account
(`own_account_claims`, one document per platform account across all agencies)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.audit.accounts.models import Account, AccountIn
from shared.envelope import utcnow

INDEXES = {
    "audit_accounts": [
        IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING), ("platform", ASCENDING)])
    ],
}


def _key(tenant_id: str, client_id: str, platform: str, account_id: str) -> str:
    return f"{tenant_id}|{client_id}|{platform}|{account_id}"


def _claim(platform: str, account_id: str) -> str:
    return f"{platform}|{account_id}"


class AccountRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.accounts = db["audit_accounts"]
        self.claims = db["own_account_claims"]

    async def claimed_elsewhere(self, tenant_id: str, accounts: list[AccountIn]) -> set[str]:
        """Claim keys (platform|account) of own accounts another agency already holds."""
        keys = [_claim(a.platform.value, a.account_id) for a in accounts if a.owned]
        if not keys:
            return set()
        cursor = self.claims.find({"_id": {"$in": keys}, "tenant_id": {"$ne": tenant_id}})
        return {doc["_id"] async for doc in cursor}

    async def save(self, tenant_id: str, client_id: str, accounts: list[AccountIn]) -> None:
        """Upsert accounts (a repeated request changes nothing) and claim own ones."""
        now = utcnow()
        await self.accounts.bulk_write(
            [
                ReplaceOne(
                    {"_id": _key(tenant_id, client_id, a.platform.value, a.account_id)},
                    {
                        "tenant_id": tenant_id,
                        "client_id": client_id,
                        "platform": a.platform.value,
                        "account_id": a.account_id,
                        "name": a.name,
                        "owned": a.owned,
                        "groups": list(a.groups),
                        "updated_at": now,
                    },
                    upsert=True,
                )
                for a in accounts
            ],
            ordered=False,
        )
        claims = [
            UpdateOne(
                {"_id": _claim(a.platform.value, a.account_id)},
                {"$setOnInsert": {"tenant_id": tenant_id, "client_id": client_id}},
                upsert=True,
            )
            for a in accounts
            if a.owned
        ]
        if claims:
            await self.claims.bulk_write(claims, ordered=False)

    async def for_client(self, tenant_id: str, client_id: str) -> list[Account]:
        cursor = self.accounts.find(
            {"tenant_id": tenant_id, "client_id": client_id},
            {"_id": 0, "tenant_id": 0, "updated_at": 0},
        ).sort([("platform", ASCENDING), ("account_id", ASCENDING)])
        return [Account.model_validate(doc) async for doc in cursor]

    async def delete(self, tenant_id: str, client_id: str, platform: str, account_id: str) -> bool:
        result = await self.accounts.delete_one(
            {"_id": _key(tenant_id, client_id, platform, account_id)}
        )
        if result.deleted_count:
            await self.claims.delete_one(
                {
                    "_id": _claim(platform, account_id),
                    "tenant_id": tenant_id,
                    "client_id": client_id,
                }
            )
        return bool(result.deleted_count)
