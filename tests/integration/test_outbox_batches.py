"""Events staged together are one outbox entry (`shared/outbox.py`): on the real database and
Kafka, 1,200 events staged in one call are 3 entries (500 + 500 + 200), relayed in order and
deleted; a publish that fails in the middle of an entry leaves that entry with the count of its
events that went out, and the next run sends the rest."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiokafka.errors import KafkaTimeoutError

from shared import mongo, outbox, topics
from shared.events import MetricsIngested
from tests.integration.conftest import Platform


class FailsOnce(outbox.Outbox):
    """The real outbox, whose producer answers one event with a timeout, once."""

    def __init__(self, *args: Any, fail_event: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail_event = fail_event

    async def _send(self, doc: dict[str, Any]) -> asyncio.Future[Any]:
        if doc["_id"] != self.fail_event:
            return await super()._send(doc)
        self.fail_event = ""
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(KafkaTimeoutError("no answer from the broker"))
        return failed


async def test_events_staged_together_are_one_entry_and_resume_after_a_failure(
    platform: Platform,
) -> None:
    tenant, _ = await platform.new_agency()
    runtime = platform.apps["metrics"].state.runtime
    db = runtime.mongo[f"outbox_batches_{uuid.uuid4().hex[:8]}"]
    events = [
        MetricsIngested.new(producer="tests", tenant_id=tenant, observations=i, totals=[])
        for i in range(1200)
    ]
    ids = [e.event_id for e in events]
    box = FailsOnce(db, runtime.broker, service="tests", fail_event=ids[700])
    topic = runtime.topics(topics.METRICS_INGESTED)
    try:
        async with mongo.transaction(runtime.mongo) as session:
            await box.stage(session, topic, *events)
        entries = await box.collection.find().sort("seq", 1).to_list(None)
        assert [len(e["events"]) for e in entries] == [500, 500, 200]
        assert [ev["_id"] for e in entries for ev in e["events"]] == ids

        try:
            await box.relay()
        except KafkaTimeoutError:
            pass
        else:
            raise AssertionError("the failed publish was not reported")
        left = await box.collection.find().sort("seq", 1).to_list(None)
        # the first entry went out whole; the second up to the failed event (700 - 500)
        assert [(e["_id"], e["done"]) for e in left] == [
            (entries[1]["_id"], 200),
            (entries[2]["_id"], 0),
        ]

        assert await box.relay() == 2
        assert await box.collection.count_documents({}) == 0
        records = await platform.read_topic(topics.METRICS_INGESTED, expect=10**6, timeout=5)
        mine = [
            json.loads(r.value)["event_id"]
            for r in records
            if json.loads(r.value)["tenant_id"] == tenant
        ]
        # events before the failure went out once and in order; every event went out
        assert mine[:700] == ids[:700]
        assert mine.count(ids[0]) == 1 and mine.count(ids[699]) == 1
        assert set(mine) == set(ids)
    finally:
        await runtime.mongo.drop_database(db.name)


async def test_one_event_is_an_entry_of_its_own(platform: Platform) -> None:
    """A single event keeps the plain entry shape (what an older relay reads)."""
    tenant, _ = await platform.new_agency()
    runtime = platform.apps["metrics"].state.runtime
    db = runtime.mongo[f"outbox_single_{uuid.uuid4().hex[:8]}"]
    box = outbox.Outbox(db, runtime.broker, service="tests")
    event = MetricsIngested.new(producer="tests", tenant_id=tenant, observations=1, totals=[])
    try:
        async with mongo.transaction(runtime.mongo) as session:
            await box.stage(session, runtime.topics(topics.METRICS_INGESTED), event)
        [entry] = await box.collection.find().to_list(None)
        assert entry["_id"] == event.event_id and "events" not in entry
        assert await box.relay() == 1
        assert await box.collection.count_documents({}) == 0
    finally:
        await runtime.mongo.drop_database(db.name)
