"""Consumer lag measured from the real broker: log end offset minus the committed offset, per
group, topic and partition; the outbox backlog read from the real database."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from shared import ops


async def committed_behind(
    bootstrap: str, topic: str, group: str, *, produced: tuple[int, int], committed: tuple[int, int]
) -> None:
    """A two-partition topic with `produced` messages per partition, and `group` having
    committed the `committed` offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    for partition, count in enumerate(produced):
        for _ in range(count):
            await producer.send_and_wait(topic, b"x", partition=partition)
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer.assign([p0, p1])
    await consumer.start()
    await consumer.commit(
        {p0: OffsetAndMetadata(committed[0], ""), p1: OffsetAndMetadata(committed[1], "")}
    )
    await consumer.stop()


async def test_lag_per_partition_matches_what_the_group_left_unread(infra) -> None:  # type: ignore[no-untyped-def]
    topic, group = f"ops-lag-{uuid.uuid4().hex[:8]}", f"ops-lag-group-{uuid.uuid4().hex[:8]}"
    await committed_behind(infra.bootstrap, topic, group, produced=(15, 20), committed=(5, 20))
    lags = await ops.measure_lag(infra.bootstrap, [group])
    assert lags == {(group, topic, 0): 10, (group, topic, 1): 0}
    assert await ops.measure_lag(infra.bootstrap, ["ops-lag-no-such-group"]) == {}
