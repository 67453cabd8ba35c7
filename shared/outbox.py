"""Transactional outbox: an event is stored in the same transaction as the state change that
caused it, then relayed to Kafka. So a crash can delay an event but never lose it, and the
event keeps its `event_id` through any re-send (consumers drop repeats by that id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.broker import encode, event_headers
from shared.envelope import Event
from shared.observability import OUTBOX_PUBLISHED

log = logging.getLogger("socialops.outbox")
COLLECTION = "outbox"
SENT_TTL_S = 7 * 24 * 3600

INDEXES = {
    COLLECTION: [
        IndexModel([("sent_at", ASCENDING), ("seq", ASCENDING)]),
        IndexModel("sent_expires_at", expireAfterSeconds=0),
    ]
}


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
        """Publish pending events oldest first; mark them sent. Returns how many were sent."""
        async with self._lock:
            pending = (
                await self.collection.find({"sent_at": None}).sort("seq", ASCENDING).to_list(limit)
            )
            for doc in pending:
                headers = dict(doc["headers"])
                await self.broker.publish(
                    doc["value"],
                    topic=doc["topic"],
                    key=doc["key"],
                    headers=headers,
                    correlation_id=headers.get("correlation_id"),
                )
                OUTBOX_PUBLISHED.labels(self.service, doc["event_type"]).inc()
            if pending:
                now = datetime.now(UTC)
                await self.collection.update_many(
                    {"_id": {"$in": [d["_id"] for d in pending]}},
                    {
                        "$set": {
                            "sent_at": now,
                            "sent_expires_at": now + timedelta(seconds=SENT_TTL_S),
                        }
                    },
                )
            return len(pending)

    async def run(self, interval_s: float = 1.0) -> None:
        """Relay forever: on every kick, and every `interval_s` to recover after a crash."""
        while True:
            try:
                while await self.relay() > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval_s)
            self._wake.clear()
