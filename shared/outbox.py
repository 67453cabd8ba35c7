"""Transactional outbox: an event is stored in the same transaction as the state change that
caused it, then relayed to Kafka. So a crash can delay an event but never lose it, and the
event keeps its `event_id` through any re-send (consumers drop repeats by that id).

Events staged together (a claim's `PostDue`s, a group commit's `PostPublished`s) are one
entry with an `events` array: the database's cost is per entry, not per event.

One outbox serves every tenant, so one bad entry must not wedge it: the relay deletes the
entries Kafka took after each batch (a failure re-sends only entries Kafka did not confirm,
from the first of them on), and an event
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
BATCH_EVENTS = 500  # events in one outbox entry at most
BATCH_BYTES = 4_000_000  # and about this many bytes of them (a document holds 16 MiB)
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


def _entry(topic: str, event: Event) -> dict[str, Any]:
    """One event as the relay sends it."""
    return {
        "_id": event.event_id,
        "topic": topic,
        "key": event.partition_key(),
        "value": encode(event),
        "headers": event_headers(event) | {"correlation_id": event.correlation_id},
        "event_type": event.event_type,
    }


def _batch(entries: list[dict[str, Any]], now: datetime, first: int) -> dict[str, Any]:
    """Events staged together, as one outbox entry (sent in order; `done` of them sent)."""
    return {
        "_id": f"batch-{entries[0]['_id']}",
        "seq": f"{now.isoformat()}#{first:06d}",  # sortable: time, then order in the call
        "events": entries,
        "done": 0,
        "created_at": now,
        "sent_at": None,
    }


def _events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an outbox entry still to send, each with its entry's `created_at`."""
    if "events" not in doc:
        return [doc]
    return [e | {"created_at": doc["created_at"]} for e in doc["events"][int(doc["done"]) :]]


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
        """Write events to the outbox as part of the caller's transaction: one entry for a
        single event, one entry per `BATCH_EVENTS` (or `BATCH_BYTES`) for several. SecantusDB
        charges per document written and deleted, not per byte: a claim of 1,000 due posts
        staged 1,000 entries and the relay deleted 1,000 (about 2 ms of the database per
        event); as one entry, about 0.02 ms."""
        if not events:
            return
        now = datetime.now(UTC)
        if len(events) == 1:
            [event] = events
            doc = _entry(topic, event) | {"seq": f"{now.isoformat()}#{0:06d}", "created_at": now,
                                           "sent_at": None}  # fmt: skip
            await self.collection.insert_one(doc, session=session)
            return
        docs: list[dict[str, Any]] = []
        batch: list[dict[str, Any]] = []
        size = 0
        for i, event in enumerate(events):
            entry = _entry(topic, event)
            if batch and (len(batch) >= BATCH_EVENTS or size + len(entry["value"]) > BATCH_BYTES):
                docs.append(_batch(batch, now, i - len(batch)))
                batch, size = [], 0
            batch.append(entry)
            size += len(entry["value"])
        docs.append(_batch(batch, now, len(events) - len(batch)))
        await self.collection.insert_many(docs, session=session)

    def kick(self) -> None:
        """Ask the relay loop to run now (after a commit) instead of at its next tick."""
        self._wake.set()

    async def relay(self, limit: int = 500) -> int:
        """Publish pending events oldest first, then delete the entries Kafka took; park the
        events Kafka can never take. Returns how many entries it handled.

        The batch is handed to the producer in order without waiting for each answer (the
        producer keeps that order per partition), then the answers are awaited in order:
        waiting for each one before the next cost a round trip per event (the relay then
        fell minutes behind a peak of thousands of posts). Entries are deleted as sent up to
        the first event Kafka did not take; a batch entry in which that event lies remembers
        how many of its events went out (`done`), and that event and those after it are sent
        again on the next run (with their event ids: consumers drop the repeats)."""
        async with self._lock:
            pending = (
                await self.collection.find({"sent_at": None}).sort("seq", ASCENDING).to_list(limit)
            )
            events = [(doc, event) for doc in pending for event in _events(doc)]
            through: dict[str, int] = {}  # entry id -> events of it sent or parked, in order
            in_flight: list[tuple[dict[str, Any], dict[str, Any], asyncio.Future[Any]]] = []
            failure: BaseException | None = None
            stopped: BaseException | None = None
            try:
                for doc, event in events:
                    try:
                        in_flight.append((doc, event, await self._send(event)))
                    except PERMANENT_PUBLISH_ERRORS as error:
                        in_flight.append((doc, event, _failed(error)))
            except Exception as error:  # noqa: BLE001 - the producer took no more: await what it took; re-raised below
                stopped = error
            try:
                for doc, event, answer in in_flight:
                    try:
                        await answer
                    except PERMANENT_PUBLISH_ERRORS as error:
                        await self._park(event, error)
                    except Exception as error:  # noqa: BLE001 - re-raised after the deletes
                        failure = failure or error
                    else:
                        OUTBOX_PUBLISHED.labels(self.service, event["event_type"]).inc()
                    if failure is None:  # after a failure: sent again next time, in order
                        through[doc["_id"]] = through.get(doc["_id"], 0) + 1
            finally:  # also when a publish failed: what went out is not sent again
                await self._forget(pending, through)
            if failure is not None or stopped is not None:
                raise failure or stopped  # type: ignore[misc]
            return len(pending)

    async def _forget(self, pending: list[dict[str, Any]], through: dict[str, int]) -> None:
        """Delete the entries all of whose events went out; a batch entry that went out in
        part remembers how far."""
        gone: list[str] = []
        for doc in pending:
            n = through.get(doc["_id"], 0)
            if n and n == len(_events(doc)):
                gone.append(doc["_id"])
            elif n:
                done = int(doc.get("done") or 0) + n
                await self.collection.update_one({"_id": doc["_id"]}, {"$set": {"done": done}})
        if gone:
            await self._delete_sent(gone)

    async def _send(self, doc: dict[str, Any]) -> asyncio.Future[Any]:
        """Hand one event to the producer; the future of Kafka's answer."""
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
        """Move an event Kafka can never take aside (kept with its reason for an operator),
        so the events after it keep flowing. Its entry goes when the rest of it has gone out."""
        reason = f"{type(error).__name__}: {error}"[:900]
        parked = {**doc, "parked_at": datetime.now(UTC), "reason": reason}
        await self.collection.database[PARKED].replace_one({"_id": doc["_id"]}, parked, upsert=True)
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
