"""Batch decoding: each raw record is validated alone, so one poison record is dead-lettered
while the rest of the batch goes on, in order."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from pymongo.errors import AutoReconnect

from shared import topics
from shared.batch import decode_batch, raw_records
from shared.delivery import PermanentError
from shared.events import (
    AnalyticsObserved,
    EntityLevel,
    MetricValue,
    ObservationSource,
    Platform,
)

TOPIC = topics.ANALYTICS_OBSERVATIONS
KNOWN_TENANTS = {"acme"}


@dataclass
class FakeDeadLetters:
    """Records what `DeadLetters.send` would publish."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send(
        self, record: ConsumerRecord[Any, Any], *, reason: str, kind: str, attempts: int = 1
    ) -> None:
        self.sent.append({"record": record, "reason": reason, "kind": kind, "attempts": attempts})


def record(offset: int, value: bytes | None, key: bytes = b"acme:c1") -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=TOPIC,
        partition=0,
        offset=offset,
        timestamp=1_770_000_000_000 + offset,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value) if value is not None else -1,
        headers=[],
    )


def observation(tenant_id: str = "acme", views: str = "10") -> AnalyticsObserved:
    return AnalyticsObserved.new(
        producer="pipeline",
        tenant_id=tenant_id,
        client_id="c1",
        platform=Platform.INSTAGRAM,
        account_id="acc1",
        entity_level=EntityLevel.POST,
        entity_id="m1",
        observed_at=datetime(2026, 2, 10, 12, tzinfo=UTC),
        source=ObservationSource(api="instagram_graph"),
        metrics=(MetricValue(name="views", value=Decimal(views)),),
    )


def wire(event: AnalyticsObserved) -> bytes:
    return event.model_dump_json().encode()


async def require_known_tenant(_record: ConsumerRecord, event: AnalyticsObserved) -> None:
    if event.tenant_id not in KNOWN_TENANTS:
        raise PermanentError(f"unknown tenant {event.tenant_id}")


async def test_valid_records_come_back_in_order_and_each_bad_one_is_dead_lettered() -> None:
    ok = [observation(views=str(n)) for n in (1, 2, 3)]
    negative_views = json.loads(wire(observation()))
    negative_views["metrics"][0]["value"] = "-5"
    batch = [
        record(0, wire(ok[0])),
        record(1, b"{not json"),
        record(2, wire(ok[1])),
        record(3, json.dumps(negative_views).encode()),
        record(4, wire(observation(tenant_id="ghost"))),
        record(5, None),  # a tombstone
        record(6, wire(ok[2])),
    ]
    dead_letters = FakeDeadLetters()

    valid = await decode_batch(
        batch, AnalyticsObserved, dead_letters=dead_letters, check=require_known_tenant
    )

    assert [r.offset for r, _ in valid] == [0, 2, 6]
    assert [e for _, e in valid] == ok
    assert all(r is batch[r.offset] for r, _ in valid)

    reasons = {d["record"].offset: d["reason"] for d in dead_letters.sent}
    assert sorted(reasons) == [1, 3, 4, 5]
    assert reasons[1].startswith("undecodable: ") and "Invalid JSON" in reasons[1]
    assert (
        reasons[3] == "schema invalid: metrics.0.value: Input should be greater than or equal to 0"
    )
    assert reasons[4] == "PermanentError: unknown tenant ghost"
    assert reasons[5].startswith("undecodable: ")
    assert {(d["kind"], d["attempts"]) for d in dead_letters.sent} == {("permanent", 1)}
    assert all(d["record"] is batch[d["record"].offset] for d in dead_letters.sent)


async def test_check_runs_only_for_schema_valid_events() -> None:
    checked: list[str] = []

    async def check(_record: ConsumerRecord, event: AnalyticsObserved) -> None:
        checked.append(event.event_id)

    good = observation()
    valid = await decode_batch(
        [record(0, b"[]"), record(1, wire(good))],
        AnalyticsObserved,
        dead_letters=FakeDeadLetters(),
        check=check,
    )

    assert checked == [good.event_id]
    assert len(valid) == 1


async def test_without_check_every_schema_valid_event_passes() -> None:
    stranger = observation(tenant_id="ghost")

    valid = await decode_batch(
        [record(0, wire(stranger))], AnalyticsObserved, dead_letters=FakeDeadLetters()
    )

    assert [e.tenant_id for _, e in valid] == ["ghost"]


async def test_a_transient_failure_in_check_is_not_dead_lettered_but_fails_the_batch() -> None:
    """The middleware must retry the whole batch; dead-lettering here would lose the record."""
    dead_letters = FakeDeadLetters()

    async def flaky(_record: ConsumerRecord, event: AnalyticsObserved) -> None:
        raise AutoReconnect("tenancy database unreachable")

    with pytest.raises(AutoReconnect):
        await decode_batch(
            [record(0, wire(observation()))],
            AnalyticsObserved,
            dead_letters=dead_letters,
            check=flaky,
        )
    assert dead_letters.sent == []


async def test_empty_batch() -> None:
    dead_letters = FakeDeadLetters()

    assert await decode_batch([], AnalyticsObserved, dead_letters=dead_letters) == []
    assert dead_letters.sent == []


async def test_raw_records_hands_over_batches_and_single_records_as_tuples() -> None:
    one, two = record(0, b"{}"), record(1, b"{}")

    assert await raw_records(SimpleNamespace(raw_message=(one, two))) == (one, two)
    assert await raw_records(SimpleNamespace(raw_message=one)) == (one,)
