"""Kafka plumbing: the broker factory (idempotent producer, acks=all, delivery middleware)
and the subscriber defaults that make consumption explicitly at-least-once.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from shared import topics
from shared.batch import raw_records
from shared.delivery import DeadLetters, Delivery, RetryPolicy
from shared.envelope import Event
from shared.observability import kafka_prometheus
from shared.settings import ServiceSettings


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """A KafkaBroker whose producer is idempotent with acks=all and whose subscribers share
    the retry/dead-letter policy and Prometheus metrics. Connects only on `start()`."""
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"socialops-{settings.service_name}",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=None,
        graceful_timeout=10.0,
        logger=logging.getLogger("socialops.faststream"),
        middlewares=[kafka_prometheus(settings.service_name)],
    )
    broker.add_middleware(
        Delivery(
            dead_letters=DeadLetters(broker=broker, service=settings.service_name),
            retry=RetryPolicy(
                attempts=settings.retry_attempts,
                base_delay_s=settings.retry_base_delay_s,
                max_delay_s=settings.retry_max_delay_s,
            ),
        )
    )
    return broker


HEARTBEAT_INTERVAL_MS = 300


def at_least_once(group_id: str, **overrides: Any) -> dict[str, Any]:
    """Subscriber options: a named consumer group, offsets committed only after the handler
    (and so its database write) succeeded; a failure that escapes the delivery middleware
    rewinds the offset instead of committing past the message."""
    return {
        "group_id": group_id,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "decoder": strict_json,
        "auto_offset_reset": "earliest",
        # A group rebalances whenever a member joins (a replica starts, or a service's second
        # subscriber in the same group); members learn of it at their next heartbeat, so
        # aiokafka's default of 3 s made every start-up wait 3 s per join. A third of a second
        # is still ~30 heartbeats per session timeout (10 s).
        "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
    } | overrides


async def strict_json(msg: Any) -> Any:
    """Decode a message body as JSON, failing loudly (-> dead letter "undecodable") instead of
    handing raw bytes to the schema. The event model then refuses another event_type or a
    newer event_version before reading the payload (`Event._known_schema`) -> dead letter."""
    return json.loads(msg.body)


def batch_at_least_once(
    group_id: str, *, max_records: int = 2000, **overrides: Any
) -> dict[str, Any]:
    """Batch subscriber options for high-volume topics: one commit per batch after it is stored.
    The handler gets the raw records (see `shared.batch`) so it can dead-letter them one by one."""
    return at_least_once(
        group_id,
        batch=True,
        decoder=raw_records,
        max_records=max_records,
        batch_timeout_ms=50,
        max_partition_fetch_bytes=4 * 1024 * 1024,  # bounds what is prefetched (memory)
        **overrides,
    )


def event_headers(event: Event) -> dict[str, str]:
    return {
        "event_type": event.event_type,
        "event_version": str(event.event_version),
        "tenant_id": event.tenant_id,
    }


def encode(event: Event) -> bytes:
    """Wire format of an event: its JSON (money as strings, datetimes ISO 8601 with zone)."""
    return event.model_dump_json().encode()


async def publish(broker: KafkaBroker, topic: str, event: Event) -> None:
    """Publish one event keyed by its entity (order per entity), waiting for acks=all."""
    await broker.publish(
        encode(event),
        topic=topic,
        key=event.partition_key(),
        headers=event_headers(event),
        correlation_id=event.correlation_id,
    )


async def ensure_topics(
    bootstrap: str, names: list[str], *, partitions: int, replication: int
) -> None:
    """Create topics (and their dead-letter twins) up front, so the first publish and the
    consumer group see every partition. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = {n for name in names for n in (name, topics.dlq(name))} - existing
        new = [
            NewTopic(n, num_partitions=partitions, replication_factor=replication)
            for n in sorted(wanted)
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service was first
                await admin.create_topics(new)
    finally:
        await admin.close()
