"""Exact deduplication with bucketed storage, on the real database: a consumer that starts cold
finds what was stored before, and two consumers racing on the same Kafka records (a rebalance)
store them once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import ConsumerRecord

from services.metrics.pipeline import Ingestion
from services.metrics.repository import MetricsRepository
from shared.events import AnalyticsObserved
from tests.integration.conftest import Platform
from tests.integration.helpers import observation

T0 = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # readings straddle two UTC days


def records(
    events: list[AnalyticsObserved], *, partition: int = 0, first_offset: int = 0
) -> list[tuple[ConsumerRecord[bytes, bytes], AnalyticsObserved]]:
    """The events as consumed from one partition, at consecutive offsets."""

    def record(offset: int, e: AnalyticsObserved) -> ConsumerRecord[bytes, bytes]:
        value = e.model_dump_json().encode()
        return ConsumerRecord(
            topic="metrics.observations.v1", partition=partition, offset=offset, timestamp=0,
            timestamp_type=0, key=e.partition_key(), value=value, checksum=None,
            serialized_key_size=0, serialized_value_size=len(value), headers=(),
        )  # fmt: skip

    return [(record(first_offset + i, e), e) for i, e in enumerate(events)]


def readings(tenant: str, n: int, *, start: datetime = T0) -> list[AnalyticsObserved]:
    return [
        observation(tenant, "cl-1", entity_id=f"media-{i % 2}", metrics={"likes": 10 + i},
                    observed_at=start + timedelta(minutes=20 * i))
        for i in range(n)
    ]  # fmt: skip


def consumer(platform: Platform) -> Ingestion:
    """A second ingestion of the metrics service's runtime, with empty caches."""
    runtime = platform.apps["metrics"].state.runtime
    return Ingestion(runtime=runtime, repo=MetricsRepository(runtime.db))


async def test_a_cold_consumer_drops_what_was_stored_before(platform: Platform) -> None:
    tenant, _ = await platform.new_agency()
    batch = records(readings(tenant, 6))
    assert await consumer(platform).ingest(batch) == 6

    again = consumer(platform)  # a restart: nothing cached
    assert await again.ingest(batch) == 0
    assert await again.ingest(batch[2:] + records(readings(tenant, 1, start=T0 - timedelta(days=3)),
                                                  first_offset=6)) == 1  # fmt: skip
    stored = await platform.observations(tenant)
    assert len(stored) == 7
    assert len({d["_id"] for d in stored}) == 7


async def test_two_consumers_racing_on_the_same_records_store_them_once(
    platform: Platform,
) -> None:
    tenant, _ = await platform.new_agency()
    batch = records(readings(tenant, 8), first_offset=100)
    zombie, successor = consumer(platform), consumer(platform)
    # the successor stored earlier records of the same client and days before the zombie
    # committed: it believes it knows everything stored for them
    earlier = [observation(tenant, "cl-1", entity_id="other", observed_at=T0 + timedelta(hours=h))
               for h in (0, 1)]  # fmt: skip
    assert await successor.ingest(records(earlier, first_offset=50)) == 2
    assert await zombie.ingest(batch[:5]) == 5

    # its bucket ids collide with the zombie's, it reloads what is stored, stores the rest
    assert await successor.ingest(batch) == 3
    stored = [d for d in await platform.observations(tenant) if d["entity_id"] != "other"]
    assert sorted(d["_id"] for d in stored) == sorted(e.event_id for _, e in batch)

    totals = {d["entity_id"]: 0 for d in stored}
    for d in stored:
        totals[d["entity_id"]] += d["contrib"]["likes"]
    assert totals == {"media-0": 16, "media-1": 17}  # running totals counted once


async def test_racing_consumers_collide_on_a_partition_even_when_their_chunks_begin_elsewhere(
    platform: Platform,
) -> None:
    """A bucket holds every partition's records of a chunk and is named after the chunk's first
    record, so two writers of the same records of partition 2 name their buckets differently
    when the other partitions in their chunks differ (the old owner also read partition 1, the
    new one partition 0). Their marks of partition 2 still collide: the new owner reloads what
    is stored and stores the rest once."""
    tenant, _ = await platform.new_agency()
    shared = records(readings(tenant, 8), partition=2, first_offset=100)
    only_old = records([observation(tenant, "cl-1", entity_id="old", observed_at=T0)],
                       partition=1, first_offset=3)  # fmt: skip
    only_new = records([observation(tenant, "cl-1", entity_id="new", observed_at=T0)],
                       partition=0, first_offset=1)  # fmt: skip
    zombie, successor = consumer(platform), consumer(platform)
    # the successor believes it knows everything stored for this client on both days
    warm = [observation(tenant, "cl-1", entity_id="warm", observed_at=T0 + timedelta(hours=h))
            for h in (0, 1)]  # fmt: skip
    assert await successor.ingest(records(warm, partition=3)) == 2
    assert await zombie.ingest(only_old + shared[:5]) == 6

    assert await successor.ingest(only_new + shared) == 4
    ids = [d["_id"] for d in await platform.observations(tenant)]
    expected = [e.event_id for _, e in only_old + only_new + shared]
    assert len(ids) == len(set(ids)) == len(warm) + len(expected)
    assert set(expected) <= set(ids)
