"""Idempotency keys of the HTTP intake: a request sent again with the same `Idempotency-Key`
and the same body gets the stored answer and publishes nothing; the same key with another body
is refused. Keys are scoped by tenant and expire after a day (TTL index)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.envelope import utcnow

COLLECTION = "idempotency_keys"
TTL_S = 24 * 3600
PENDING_TIMEOUT = timedelta(seconds=60)  # a request that died half-way frees its key after this
MAX_KEY_LENGTH = 128
KEY_PATTERN = r"^[!-~]+$"  # printable ASCII, no spaces
INDEXES = {COLLECTION: [IndexModel("created_at", expireAfterSeconds=TTL_S)]}


class KeyReusedError(Exception):
    """The key was used before with a different body."""


class KeyInFlightError(Exception):
    """A request with this key is still being handled."""


def fingerprint(body: Any) -> str:
    """SHA-256 of a JSON body in canonical form (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.keys = db[COLLECTION]

    @staticmethod
    def _id(tenant_id: str, key: str) -> dict[str, str]:
        return {"tenant_id": tenant_id, "key": key}

    async def begin(self, tenant_id: str, key: str, digest: str) -> dict[str, Any] | None:
        """Claim the key for this request (None), or the answer stored for it before."""
        doc_id = self._id(tenant_id, key)
        now = utcnow()
        try:
            await self.keys.insert_one(
                {"_id": doc_id, **doc_id, "fingerprint": digest, "state": "pending",
                 "created_at": now}
            )  # fmt: skip
            return None
        except DuplicateKeyError:
            pass
        stored = await self.keys.find_one({"_id": doc_id})
        if stored is None:  # expired in between: claim it again
            return await self.begin(tenant_id, key, digest)
        if stored["fingerprint"] != digest:
            raise KeyReusedError
        if stored["state"] == "done":
            answer: dict[str, Any] = stored["response"]
            return answer
        taken = await self.keys.find_one_and_update(
            {"_id": doc_id, "state": "pending", "created_at": {"$lt": now - PENDING_TIMEOUT}},
            {"$set": {"created_at": now}},
        )
        if taken is None:
            raise KeyInFlightError
        return None

    async def complete(self, tenant_id: str, key: str, response: dict[str, Any]) -> None:
        """Store the answer given under the key."""
        await self.keys.update_one(
            {"_id": self._id(tenant_id, key)}, {"$set": {"state": "done", "response": response}}
        )

    async def release(self, tenant_id: str, key: str) -> None:
        """Free the key of a request that failed, so that its retry runs."""
        await self.keys.delete_one({"_id": self._id(tenant_id, key), "state": "pending"})
