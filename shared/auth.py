"""Tenancy and API keys. An agency is a tenant. Keys are random, shown once, stored as a
SHA-256 hash (they carry 256 bits of entropy, so a salted slow hash adds nothing) in the
shared tenancy database every service reads. Each key has a public `key_id`, a role (admin,
editor, analyst) and optionally the clients it is restricted to; a key stored before roles
existed is an admin key for every client. Lookups are cached per process for `cache_ttl_s`
(30 s): a revocation or rotation reaches the other processes within that time, and an expiry
time is checked on every request, also on a cached key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.lru import BoundedCache

KEY_PREFIX = "sok_"
AGENCIES = "agencies"
API_KEYS = "api_keys"
INDEXES = {
    AGENCIES: [IndexModel("name")],
    API_KEYS: [IndexModel("tenant_id"), IndexModel([("tenant_id", 1), ("key_id", 1)])],
}
_SLUG = re.compile(r"[^a-z0-9]+")
TOUCH_EVERY_S = 60.0  # last_used_at is written at most this often per key per process


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str = Field(description="Stable tenant id used on every event and document.")
    name: str
    created_at: datetime


class Role(StrEnum):
    """What a key may do: admin everything; editor everything but key management; analyst
    read only (GET and HEAD)."""

    ADMIN = "admin"
    EDITOR = "editor"
    ANALYST = "analyst"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the agency and the key it sent."""

    agency: Agency
    key_id: str
    role: Role = Role.ADMIN
    clients: frozenset[str] | None = None  # None: every client of the agency
    expires_at: datetime | None = None

    @property
    def tenant_id(self) -> str:
        return self.agency.tenant_id

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))


class KeyRecord(BaseModel):
    """A key as its agency sees it: never the key nor its hash."""

    key_id: str = Field(description="Public id of the key (not a secret).", examples=["key-1a2b"])
    name: str
    role: Role
    clients: list[str] | None = Field(
        default=None, description="Clients the key is restricted to; null: every client."
    )
    hint: str = Field(description="The key's first characters, to recognise it.")
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


def _aware(value: datetime | None) -> datetime | None:
    """Datetimes read back from the database are naive UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _key_id(doc: dict[str, Any]) -> str:
    """The stored key id; a key from before key ids gets one derived from its hash."""
    return str(doc.get("key_id") or f"key-{doc['_id'][:16]}")


def record_of(doc: dict[str, Any]) -> KeyRecord:
    clients = doc.get("clients")
    return KeyRecord(
        key_id=_key_id(doc),
        name=doc.get("name") or "agency key",
        role=Role(doc.get("role") or Role.ADMIN),
        clients=list(clients) if clients is not None else None,
        hint=doc.get("hint", ""),
        created_at=_aware(doc["created_at"]) or datetime.now(UTC),
        expires_at=_aware(doc.get("expires_at")),
        revoked_at=_aware(doc.get("revoked_at")),
        last_used_at=_aware(doc.get("last_used_at")),
    )


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
        self._known: BoundedCache[str, Principal] = BoundedCache(cache_size, cache_ttl_s)
        self._touched: BoundedCache[str, bool] = BoundedCache(cache_size, TOUCH_EVERY_S)
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
        """An admin key for every client (the first key of an agency)."""
        key, _ = await self.create_key(tenant_id, name="first key")
        return key

    async def create_key(
        self,
        tenant_id: str,
        *,
        name: str,
        role: Role = Role.ADMIN,
        clients: list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, KeyRecord]:
        """A new key (returned once, never stored) and its record."""
        key = new_key()
        doc: dict[str, Any] = {
            "_id": hash_key(key),
            "key_id": f"key-{secrets.token_hex(8)}",
            "tenant_id": tenant_id,
            "name": name,
            "role": role.value,
            "clients": sorted(set(clients)) if clients is not None else None,
            "hint": key[: len(KEY_PREFIX) + 4],
            "created_at": datetime.now(UTC),
            "expires_at": expires_at,
            "revoked_at": None,
            "last_used_at": None,
        }
        await self.db[API_KEYS].insert_one(doc)
        return key, record_of(doc)

    async def list_keys(
        self, tenant_id: str, *, limit: int = 500, after: tuple[datetime, str] | None = None
    ) -> list[KeyRecord]:
        """The agency's keys newest first (revoked and expired ones too), at most `limit`,
        starting after the (created_at, key_id) position `after` of a previous page."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if after is not None:
            created, key_id = after
            query["$or"] = [
                {"created_at": {"$lt": created}},
                {"created_at": created, "key_id": {"$gt": key_id}},
            ]
        cursor = (
            self.db[API_KEYS].find(query).sort([("created_at", -1), ("key_id", 1)]).limit(limit)
        )
        docs = [doc async for doc in cursor]
        for doc in docs:
            await self._backfill_key_id(doc)
        return [record_of(doc) for doc in docs]

    async def _find_key(self, tenant_id: str, key_id: str) -> dict[str, Any] | None:
        """The key's document; another agency's key id finds nothing, like a missing one."""
        doc: dict[str, Any] | None = await self.db[API_KEYS].find_one(
            {"tenant_id": tenant_id, "key_id": key_id}
        )
        return doc

    async def _backfill_key_id(self, doc: dict[str, Any]) -> None:
        """Store the derived id of a key from before key ids (listing or using it shows it)."""
        if not doc.get("key_id"):
            doc["key_id"] = _key_id(doc)
            await self.db[API_KEYS].update_one(
                {"_id": doc["_id"], "key_id": None}, {"$set": {"key_id": doc["key_id"]}}
            )

    async def get_key(self, tenant_id: str, key_id: str) -> KeyRecord | None:
        doc = await self._find_key(tenant_id, key_id)
        return record_of(doc) if doc else None

    async def rotate_key(
        self, tenant_id: str, key_id: str, *, overlap_s: float
    ) -> tuple[str, KeyRecord] | None:
        """A new key with the same role and clients; the old one expires after `overlap_s`
        (sooner if it already expires sooner). None when the key is unknown or revoked."""
        doc = await self._find_key(tenant_id, key_id)
        if doc is None or doc.get("revoked_at") is not None:
            return None
        old = record_of(doc)
        ends = datetime.now(UTC) + timedelta(seconds=overlap_s)
        if old.expires_at is None or ends < old.expires_at:
            await self.db[API_KEYS].update_one(
                {"_id": doc["_id"], "tenant_id": tenant_id}, {"$set": {"expires_at": ends}}
            )
            self._known.pop(doc["_id"])
        return await self.create_key(
            tenant_id,
            name=old.name,
            role=old.role,
            clients=old.clients,
            expires_at=old.expires_at,
        )

    async def revoke_key(self, tenant_id: str, key_id: str) -> KeyRecord | None:
        """Revoke a key (at once here, within the cache TTL elsewhere); None when unknown."""
        doc = await self._find_key(tenant_id, key_id)
        if doc is None:
            return None
        if doc.get("revoked_at") is None:
            doc["revoked_at"] = datetime.now(UTC)
            await self.db[API_KEYS].update_one(
                {"_id": doc["_id"], "tenant_id": tenant_id},
                {"$set": {"revoked_at": doc["revoked_at"]}},
            )
        self._known.pop(doc["_id"])
        return record_of(doc)

    async def authenticate(self, key: str) -> Principal | None:
        """Who this key acts as (also when it has expired: the caller says so), or None."""
        digest = hash_key(key)
        known = self._known.get(digest)
        if known is None and not self._unknown.get(digest):
            known = await self._lookup(digest)
            if known is None:
                self._unknown.put(digest, True)
            else:
                self._known.put(digest, known)
        if known is not None and not known.expired() and self._touched.get(digest) is None:
            self._touched.put(digest, True)
            await self.db[API_KEYS].update_one(
                {"_id": digest}, {"$set": {"last_used_at": datetime.now(UTC)}}
            )
        return known

    async def _lookup(self, digest: str) -> Principal | None:
        doc = await self.db[API_KEYS].find_one({"_id": digest, "revoked_at": None})
        if not doc:
            return None
        found = await self.db[AGENCIES].find_one({"_id": doc["tenant_id"]})
        if not found:
            return None
        await self._backfill_key_id(doc)
        record = record_of(doc)
        return Principal(
            agency=Agency.model_validate(found),
            key_id=record.key_id,
            role=record.role,
            clients=frozenset(record.clients) if record.clients is not None else None,
            expires_at=record.expires_at,
        )

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
