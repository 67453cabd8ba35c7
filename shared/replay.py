"""Replay dead letters: after a fix, move the records of `<topic>.dlq` back to the topic they
came from (header `x-dlq-source-topic`), optionally only those whose reason or kind matches.

Replaying is safe to repeat: every consumer drops an event it has already processed by its
event id (observations by id per tenant, other events through `run_once`), so a letter
replayed twice has one effect. A replayed record carries `x-replayed-from` (dlq topic,
partition and offset) so its origin stays visible; a record that fails again goes back to the
dead-letter topic with its new reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

DLQ_SUFFIX = ".dlq"


@dataclass
class ReplayReport:
    """What a replay did: records read, replayed, and skipped by the filters."""

    read: int = 0
    replayed: int = 0
    skipped: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LetterFilter:
    """Which dead letters to replay (all when empty)."""

    reason_contains: str | None = None
    kind: str | None = None
    failed_since: datetime | None = None

    def matches(self, headers: dict[str, str]) -> bool:
        if self.reason_contains and self.reason_contains not in headers.get("x-dlq-reason", ""):
            return False
        if self.kind and headers.get("x-dlq-kind") != self.kind:
            return False
        if self.failed_since is not None:
            failed_at = headers.get("x-dlq-failed-at")
            if not failed_at or datetime.fromisoformat(failed_at) < self.failed_since:
                return False
        return True


def _headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {k: bytes(v).decode(errors="replace") for k, v in record.headers or ()}


async def replay_dead_letters(
    bootstrap: str,
    dlq_topic: str,
    *,
    only: LetterFilter | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Replay the letters of `dlq_topic` present now (up to its end offsets at the start, so
    letters that fail again and come back are not replayed in a loop)."""
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"'{dlq_topic}' is not a dead-letter topic (it ends in '{DLQ_SUFFIX}')")
    only = only or LetterFilter()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    report = ReplayReport()
    try:  # started inside: a broker that cannot be reached still gets both closed
        await consumer.start()
        await producer.start()
        partitions = consumer.partitions_for_topic(dlq_topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(dlq_topic)
        if not partitions:
            raise ValueError(f"no topic '{dlq_topic}' on {bootstrap}")
        parts = [TopicPartition(dlq_topic, p) for p in sorted(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        start = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
        total = sum(end[p] - start[p] for p in parts)
        remaining = {p for p in parts if end[p] > start[p]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= end[tp]:
                        remaining.discard(tp)
                        break
                    report.read += 1
                    await _replay_one(producer, record, only, dry_run, report)
                    if record.offset + 1 >= end[tp]:
                        remaining.discard(tp)
            if progress is not None:
                progress(report.read, total)
        return report
    finally:
        await producer.stop()
        await consumer.stop()


async def _replay_one(
    producer: AIOKafkaProducer,
    record: ConsumerRecord[Any, Any],
    only: LetterFilter,
    dry_run: bool,
    report: ReplayReport,
) -> None:
    headers = _headers(record)
    source = headers.get("x-dlq-source-topic") or record.topic.removesuffix(DLQ_SUFFIX)
    if not only.matches(headers):
        report.skipped += 1
        return
    report.replayed += 1
    report.by_topic[source] = report.by_topic.get(source, 0) + 1
    if dry_run:
        return
    kept = [(k, v.encode()) for k, v in headers.items() if not k.startswith("x-dlq-")]
    origin = f"{record.topic}[{record.partition}]@{record.offset}"
    await producer.send_and_wait(
        source, record.value, key=record.key, headers=[*kept, ("x-replayed-from", origin.encode())]
    )
