"""MongoDB plumbing: one AsyncMongoClient per process, Decimal <-> Decimal128, index creation,
transactions, and duplicate-key helpers for idempotent writes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from bson.codec_options import TypeCodec, TypeRegistry
from bson.decimal128 import Decimal128
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

DUPLICATE_KEY = 11000
PROCESSED = "processed_events"
PROCESSED_TTL_S = 14 * 24 * 3600  # replays older than Kafka's retention cannot arrive
T = TypeVar("T")


class DecimalCodec(TypeCodec):
    """Store Python Decimals as BSON Decimal128 so money stays exact in the database."""

    python_type = Decimal
    bson_type = Decimal128

    def transform_python(self, value: Decimal) -> Decimal128:
        return Decimal128(value)

    def transform_bson(self, value: Decimal128) -> Decimal:
        return value.to_decimal()


def connect(uri: str, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """Build the process's one client (lazy: nothing connects until first use)."""
    return AsyncMongoClient(
        uri,
        appname=app_name,
        tz_aware=True,
        type_registry=TypeRegistry([DecimalCodec()]),
        serverSelectionTimeoutMS=5000,
        # Kafka offsets are committed once a write is acknowledged: the acknowledgement must
        # mean durable (journaled on a majority), or a crash loses a committed message.
        w="majority",
        journal=True,
    )


async def ensure_indexes(db: AsyncDatabase[Any], spec: Mapping[str, Iterable[IndexModel]]) -> None:
    """Create the indexes a service declares (idempotent; run at start-up)."""
    spec = {PROCESSED: [IndexModel("at", expireAfterSeconds=PROCESSED_TTL_S)], **spec}
    for collection, indexes in spec.items():
        models = list(indexes)
        if models:
            await db[collection].create_indexes(models)


async def drop_indexes(db: AsyncDatabase[Any], names: Mapping[str, Iterable[str]]) -> None:
    """Drop indexes an older version created and this one no longer uses (idempotent)."""
    for collection, dropped in names.items():
        present = {index["name"] async for index in await db[collection].list_indexes()}
        for name in set(dropped) & present:
            await db[collection].drop_index(name)


async def ping(client: AsyncMongoClient[Any]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True


@asynccontextmanager
async def transaction(client: AsyncMongoClient[Any]) -> AsyncIterator[AsyncClientSession]:
    """A session with a transaction: everything written with `session=` commits together."""
    async with client.start_session() as session, await session.start_transaction():
        yield session


async def retried_transaction(
    client: AsyncMongoClient[Any],
    work: Callable[[AsyncClientSession], Awaitable[T]],
    *,
    attempts: int = 8,
) -> T:
    """Run `work` in a transaction, again from the start (at most `attempts` times) when it
    conflicts with a concurrent write to the same document (a TransientTransactionError:
    nothing of the failed attempt was written). Between attempts it waits a random time up to
    10, 20, 40 ... ms (at most 0.5 s), so writers that collided do not collide again in step."""
    for attempt in range(attempts):
        try:
            async with transaction(client) as session:
                return await work(session)
        except OperationFailure as e:
            if not e.has_error_label("TransientTransactionError") or attempt + 1 == attempts:
                raise
        await asyncio.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))  # noqa: S311 - jitter
    raise AssertionError("unreachable")


def only_duplicates(error: BulkWriteError) -> bool:
    """True when every write error of an unordered bulk write is a duplicate key (a replay)."""
    errors = error.details.get("writeErrors", [])
    return bool(errors) and all(e.get("code") == DUPLICATE_KEY for e in errors)


async def run_once(
    client: AsyncMongoClient[Any],
    db: AsyncDatabase[Any],
    *,
    consumer: str,
    tenant_id: str,
    event_id: str,
    effect: Callable[[AsyncClientSession], Awaitable[T]],
) -> T | None:
    """Run `effect` in a transaction that also records (consumer, tenant, event_id) as
    processed.

    A repeated event finds its record and has no second effect (returns None). The record and
    the effect commit together, so a crash between them cannot leave one without the other.
    Event ids are chosen by producers, so the record is scoped by tenant: one agency reusing
    another's event id cannot suppress that agency's event.
    """
    key = f"{consumer}:{tenant_id}:{event_id}"
    async with transaction(client) as session:
        if await db[PROCESSED].find_one({"_id": key}, {"_id": 1}, session=session):
            return None
        result = await effect(session)
        await db[PROCESSED].insert_one({"_id": key, "at": datetime.now(UTC)}, session=session)
        return result
