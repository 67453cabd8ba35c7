"""The two baselines of `bench.ingest`, each run as its own process (as the metrics service is),
so they compete for the same CPUs as the pipeline under test:

- `raw`: the floor any persisting consumer pays: aiokafka `getmany` + `json.loads` +
  `insert_many(ordered=False)` (`_id` = event id), offsets committed per batch; no
  validation, no secondary indexes, no transaction.
- `naive`: a typical first implementation: a FastStream subscriber validating one message
  with the Pydantic event model and `insert_one`-ing it.

`python -m bench.consumers raw|naive --bootstrap ... --topic ... --mongodb-uri ... --database ...
--collection ... --group ...`; runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker

from shared import mongo
from shared.events import AnalyticsObserved

RAW_MAX_RECORDS = 5000


async def raw(args: argparse.Namespace, stop: asyncio.Event) -> None:
    # the services' client settings (durable write concern), so the floor pays what they pay
    client = mongo.connect(args.mongodb_uri, app_name="bench-raw")
    collection = client[args.database][args.collection]
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=RAW_MAX_RECORDS)
            docs = [json.loads(r.value) for records in batches.values() for r in records]
            for doc in docs:  # keyed by event id, as any idempotent consumer must be
                doc["_id"] = doc["event_id"]
            if docs:
                await collection.insert_many(docs, ordered=False)
                await consumer.commit()
    finally:
        await consumer.stop()
        await client.close()


async def naive(args: argparse.Namespace, stop: asyncio.Event) -> None:
    client = mongo.connect(args.mongodb_uri, app_name="bench-naive")
    collection = client[args.database][args.collection]
    quiet = logging.getLogger("bench.naive")
    quiet.setLevel(logging.WARNING)
    broker = KafkaBroker(args.bootstrap, logger=quiet)

    @broker.subscriber(args.topic, group_id=args.group, auto_offset_reset="earliest")  # type: ignore[untyped-decorator]
    async def on_observation(event: AnalyticsObserved) -> None:
        doc = event.model_dump()
        doc["_id"] = doc.pop("event_id")
        await collection.insert_one(doc)

    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.stop()
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("raw", "naive"))
    for name in ("bootstrap", "topic", "mongodb-uri", "database", "collection", "group"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await (raw if args.kind == "raw" else naive)(args, stop)

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(run())


if __name__ == "__main__":
    main()
