"""Records a batch took in while it was stored are read again when the batch fails."""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition

from services.metrics.handlers import rewind


class Positions:
    """Where a consumer would read next, per partition (what `seek` sets)."""

    def __init__(self) -> None:
        self.at: dict[TopicPartition, int] = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at[tp] = offset


def rec(partition: int, offset: int, topic: str = "obs") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 0, 0, b"", b"", None, 0, 0, ())


def test_each_partition_goes_back_to_its_first_record_taken_in() -> None:
    consumer = Positions()
    rewind(consumer, [rec(1, 40), rec(0, 7), rec(1, 38), rec(1, 39), rec(0, 8), rec(3, 2, "x")])
    assert consumer.at == {
        TopicPartition("obs", 0): 7,
        TopicPartition("obs", 1): 38,
        TopicPartition("x", 3): 2,
    }


def test_nothing_taken_in_moves_nothing() -> None:
    consumer = Positions()
    rewind(consumer, [])
    assert consumer.at == {}
