"""Tenancy and API keys. An agency is a tenant. Keys are random, shown once, stored as a
SHA-256 hash (they carry 256 bits of entropy, so a salted slow hash adds nothing) in the
shared tenancy database every service reads.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.lru import BoundedCache

KEY_PREFIX = "sok_"
AGENCIES = "agencies"
API_KEYS = "api_keys"
INDEXES = {AGENCIES: [IndexModel("name")], API_KEYS: [IndexModel("tenant_id")]}
_SLUG = re.compile(r"[^a-z0-9]+")


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str = Field(description="Stable tenant id used on every event and document.")
    name: str
    created_at: datetime


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class AgencyDirectory:
    """Agencies and their API keys; lookups are cached briefly (keys are checked per request).

    Every cache is bounded by `cache_size`; keys found and keys not found are cached apart, so a
    flood of made-up keys only ever evicts other made-up keys, never an agency's real one."""

    def __init__(
        self, db: AsyncDatabase[Any], *, cache_ttl_s: float = 30.0, cache_size: int = 10_000
    ) -> None:
        self.db = db
        self.cache_ttl_s = cache_ttl_s
        self._known: BoundedCache[str, Agency] = BoundedCache(cache_size, cache_ttl_s)
        self._unknown: BoundedCache[str, bool] = BoundedCache(cache_size, cache_ttl_s)
        self._tenants: BoundedCache[str, bool] = BoundedCache(cache_size, cache_ttl_s)

    def cached_keys(self) -> int:
        """How many key digests are cached (known and unknown)."""
        return len(self._known) + len(self._unknown)

    async def create_agency(self, name: str) -> tuple[Agency, str]:
        """Create an agency and its first API key; the key is returned once and never stored."""
        name = name.strip()
        if not name:
            raise ValueError("agency name must not be empty")
        slug = _SLUG.sub("-", name.lower()).strip("-")[:24] or "agency"
        agency = Agency(
            tenant_id=f"{slug}-{uuid.uuid4().hex[:8]}", name=name, created_at=datetime.now(UTC)
        )
        await self.db[AGENCIES].insert_one({"_id": agency.tenant_id, **agency.model_dump()})
        return agency, await self.issue_key(agency.tenant_id)

    async def issue_key(self, tenant_id: str) -> str:
        key = new_key()
        await self.db[API_KEYS].insert_one(
            {
                "_id": hash_key(key),
                "tenant_id": tenant_id,
                "hint": key[: len(KEY_PREFIX) + 4],
                "created_at": datetime.now(UTC),
            }
        )
        return key

    async def authenticate(self, key: str) -> Agency | None:
        """The agency owning this key, or None."""
        digest = hash_key(key)
        known = self._known.get(digest)
        if known is not None or self._unknown.get(digest):
            return known
        agency = None
        doc = await self.db[API_KEYS].find_one({"_id": digest, "revoked_at": None})
        if doc:
            found = await self.db[AGENCIES].find_one({"_id": doc["tenant_id"]})
            agency = Agency.model_validate(found) if found else None
        if agency is None:
            self._unknown.put(digest, True)
        else:
            self._known.put(digest, agency)
        return agency

    async def tenant_exists(self, tenant_id: str) -> bool:
        """Whether a tenant id names a known agency (used to reject events for no tenant)."""
        if self._tenants.get(tenant_id):
            return True
        if await self.db[AGENCIES].find_one({"_id": tenant_id}, {"_id": 1}):
            self._tenants.put(tenant_id, True)
            return True
        return False

    async def list_agencies(self) -> list[Agency]:
        return [Agency.model_validate(d) async for d in self.db[AGENCIES].find().sort("name")]
