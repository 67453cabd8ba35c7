"""Transactional outbox: an event is stored in the same transaction as the state change that
caused it, then relayed to Kafka. So a crash can delay an event but never lose it, and the
event keeps its `event_id` through any re-send (consumers drop repeats by that id).

One outbox serves every tenant, so one bad entry must not wedge it: the relay deletes the
entries Kafka took after each batch (a failure re-sends only entries Kafka did not confirm,
from the first of them on), and an entry
Kafka can never take (larger than the producer's limit, a topic that cannot exist) is parked
aside in `outbox_parked` with its reason (`socialops_outbox_parked_total` counts them) while
the entries after it keep flowing. A broker outage stops the relay until the broker is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from faststream.kafka import KafkaBroker
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared import tasks
from shared.broker import encode, event_headers
from shared.envelope import Event
from shared.observability import OUTBOX_PARKED, OUTBOX_PUBLISHED

log = logging.getLogger("socialops.outbox")
COLLECTION = "outbox"
PARKED = "outbox_parked"
MAX_EVENT_BYTES = 1_000_000  # the producer's default max_request_size is 1 MiB, with headers
DELETE_EVERY = 50  # ids in one `$in` deleting sent entries (SecantusDB: cost per id per entry)
PERMANENT_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    UnicodeError,
    TypeError,
    ValueError,
)

INDEXES = {
    COLLECTION: [
        IndexModel([("sent_at", ASCENDING), ("seq", ASCENDING)]),
        IndexModel("sent_expires_at", expireAfterSeconds=0),
    ]
}


def _failed(error: BaseException) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


class Outbox:
    """Stage events inside a transaction; `relay()` publishes what is pending, in order."""

    def __init__(self, db: AsyncDatabase[Any], broker: KafkaBroker, *, service: str) -> None:
        self.collection = db[COLLECTION]
        self.broker = broker
        self.service = service
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def stage(self, session: AsyncClientSession, topic: str, *events: Event) -> None:
        """Write events to the outbox as part of the caller's transaction."""
        now = datetime.now(UTC)
        docs = [
            {
                "_id": e.event_id,
                "seq": f"{now.isoformat()}#{i:06d}",  # sortable: time, then order in the call
                "topic": topic,
                "key": e.partition_key(),
                "value": encode(e),
                "headers": event_headers(e) | {"correlation_id": e.correlation_id},
                "event_type": e.event_type,
                "created_at": now,
                "sent_at": None,
            }
            for i, e in enumerate(events)
        ]
        if docs:
            await self.collection.insert_many(docs, session=session)

    def kick(self) -> None:
        """Ask the relay loop to run now (after a commit) instead of at its next tick."""
        self._wake.set()

    async def relay(self, limit: int = 500) -> int:
        """Publish pending events oldest first, then delete those Kafka took; park the ones
        Kafka can never take. Returns how many left the outbox (sent or parked).

        The batch is handed to the producer in order without waiting for each answer (the
        producer keeps that order per partition), then the answers are awaited in order:
        waiting for each one before the next cost a round trip per event (the relay then
        fell minutes behind a peak of thousands of posts). Entries are deleted as sent up to
        the first one Kafka did not take; that one and those after it are sent again on the next
        run (with their event ids: consumers drop the repeats)."""
        async with self._lock:
            pending = (
                await self.collection.find({"sent_at": None}).sort("seq", ASCENDING).to_list(limit)
            )
            sent: list[str] = []
            parked = 0
            in_flight: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
            failure: BaseException | None = None
            stopped: BaseException | None = None
            try:
                for doc in pending:
                    try:
                        in_flight.append((doc, await self._send(doc)))
                    except PERMANENT_PUBLISH_ERRORS as error:
                        in_flight.append((doc, _failed(error)))
            except Exception as error:  # noqa: BLE001 - the producer took no more: await what it took; re-raised below
                stopped = error
            try:
                for doc, answer in in_flight:
                    try:
                        await answer
                    except PERMANENT_PUBLISH_ERRORS as error:
                        await self._park(doc, error)
                        parked += 1
                        continue
                    except Exception as error:  # noqa: BLE001 - re-raised after the deletes
                        failure = failure or error
                    if failure is not None:
                        continue  # after a failure: sent again next time, in order
                    OUTBOX_PUBLISHED.labels(self.service, doc["event_type"]).inc()
                    sent.append(doc["_id"])
            finally:
                if sent:  # also when a publish failed: what went out is not sent again
                    await self._delete_sent(sent)
            if failure is not None or stopped is not None:
                raise failure or stopped  # type: ignore[misc]
            return len(pending)

    async def _send(self, doc: dict[str, Any]) -> asyncio.Future[Any]:
        """Hand one entry to the producer; the future of Kafka's answer."""
        value: bytes = doc["value"]
        if len(value) > MAX_EVENT_BYTES:
            raise MessageSizeTooLargeError(
                f"{len(value):,} bytes, more than the {MAX_EVENT_BYTES:,} a Kafka message takes"
            )
        headers = dict(doc["headers"])
        future: asyncio.Future[Any] = await self.broker.publish(
            value,
            topic=doc["topic"],
            key=doc["key"],
            headers=headers,
            correlation_id=headers.get("correlation_id"),
            no_confirm=True,
        )
        return future

    async def _delete_sent(self, ids: list[str]) -> None:
        """Sent entries are deleted (Kafka holds them now), `DELETE_EVERY` ids a write: setting
        `sent_at` and `sent_expires_at` rewrote two index entries per event, and in
        SecantusDB that update cost 2.8 ms an entry against 1.1 ms to delete it (50 a write,
        2,000 entries, the same database); with two events a post, marking them was the
        largest cost of a published post. Entries an older version marked sent still expire
        by their TTL index."""
        for start in range(0, len(ids), DELETE_EVERY):
            await self.collection.delete_many({"_id": {"$in": ids[start : start + DELETE_EVERY]}})

    async def _park(self, doc: dict[str, Any], error: BaseException) -> None:
        """Move an entry Kafka can never take aside (kept with its reason for an operator),
        so the entries after it keep flowing."""
        reason = f"{type(error).__name__}: {error}"[:900]
        parked = {**doc, "parked_at": datetime.now(UTC), "reason": reason}
        await self.collection.database[PARKED].replace_one({"_id": doc["_id"]}, parked, upsert=True)
        await self.collection.delete_one({"_id": doc["_id"]})
        OUTBOX_PARKED.labels(self.service, doc["event_type"]).inc()
        log.error("outbox entry %s (%s) parked: %s", doc["_id"], doc["event_type"], reason)

    async def run(self, interval_s: float = 1.0) -> None:
        """Relay forever: on every kick, and every `interval_s` to recover after a crash."""
        while True:
            try:
                while await self.relay() > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                tasks.raise_if_stopping()
                log.exception("outbox relay failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval_s)
            self._wake.clear()
