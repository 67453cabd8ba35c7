"""The shared delivery middleware, through FastStream's in-memory Kafka broker: permanent
failures go to `<topic>.dlq` at once, transient ones are retried with a bound, then the
offset is rewound (never dead-lettered). (The in-memory broker runs broker middlewares added
with `add_middleware`.)"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo.errors import AutoReconnect

from shared import topics
from shared.broker import at_least_once, make_broker
from shared.delivery import PermanentError
from shared.events import Platform, PostScheduled
from shared.observability import registry
from shared.settings import ServiceSettings

ATTEMPTS = 3


@dataclass(frozen=True)
class DeadLetter:
    body: bytes
    key: bytes | None
    headers: dict[str, Any]
    correlation_id: str


def make_test_broker() -> KafkaBroker:
    return make_broker(
        ServiceSettings(
            service_name="t",
            retry_attempts=ATTEMPTS,
            retry_base_delay_s=0.001,
            retry_max_delay_s=0.01,
        )
    )


def capture_dead_letters(broker: KafkaBroker, topic: str) -> list[DeadLetter]:
    """Subscribe (in another group) to the topic's .dlq and collect what arrives."""
    seen: list[DeadLetter] = []

    @broker.subscriber(topics.dlq(topic), group_id="dlq-probe")
    async def on_dead_letter(msg: KafkaMessage) -> None:
        seen.append(DeadLetter(msg.body, msg.raw_message.key, msg.headers, msg.correlation_id))

    return seen


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic per test, so the outcome counters start at zero."""
    return f"test.{request.node.name}.v1"


def outcomes(topic: str) -> dict[str, float]:
    return {
        outcome: registry.get_sample_value(
            "socialops_messages_total", {"service": "t", "topic": topic, "outcome": outcome}
        )
        or 0.0
        for outcome in ("processed", "retried", "dead_lettered")
    }


def post_json(**overrides: Any) -> dict[str, Any]:
    event = PostScheduled.new(
        producer="calendar",
        tenant_id="acme",
        client_id="c1",
        post_id="p1",
        platform=Platform.INSTAGRAM,
        scheduled_at=datetime(2026, 5, 1, 7, tzinfo=UTC),
    )
    return event.model_dump(mode="json") | overrides


async def test_schema_invalid_message_is_dead_lettered_naming_the_field(topic: str) -> None:
    broker = make_test_broker()
    handled: list[PostScheduled] = []

    @broker.subscriber(topic, **at_least_once("g"))
    async def on_post(event: PostScheduled) -> None:
        handled.append(event)

    dead = capture_dead_letters(broker, topic)
    payload = post_json()
    del payload["client_id"]
    raw = json.dumps(payload).encode()

    async with TestKafkaBroker(broker) as br:
        await br.publish(raw, topic=topic, key=b"acme:c1")

    assert handled == []
    [letter] = dead
    assert letter.body == raw
    assert letter.key == b"acme:c1"
    reason = letter.headers["x-dlq-reason"]
    assert "client_id" in reason and "Field required" in reason
    assert "post_id" not in reason
    assert letter.headers["x-dlq-kind"] == "permanent"
    assert letter.headers["x-dlq-source-topic"] == topic
    assert letter.headers["x-dlq-attempts"] == "1"
    assert letter.headers["x-dlq-service"] == "t"
    assert outcomes(topic) == {"processed": 0, "retried": 0, "dead_lettered": 1}


async def test_undecodable_message_is_dead_lettered_as_undecodable(topic: str) -> None:
    broker = make_test_broker()

    @broker.subscriber(topic, **at_least_once("g"))
    async def on_post(event: PostScheduled) -> None:
        raise AssertionError("never called")

    dead = capture_dead_letters(broker, topic)

    async with TestKafkaBroker(broker) as br:
        await br.publish(b"\xff{not json", topic=topic)

    [letter] = dead
    assert letter.body == b"\xff{not json"
    assert letter.headers["x-dlq-reason"].startswith("undecodable: ")
    assert letter.headers["x-dlq-kind"] == "permanent"


async def test_transient_failure_is_retried_until_it_succeeds(topic: str) -> None:
    broker = make_test_broker()
    calls: list[str] = []

    @broker.subscriber(topic, **at_least_once("g"))
    async def on_post(event: PostScheduled) -> None:
        calls.append(event.post_id)
        if len(calls) <= 2:
            raise AutoReconnect("primary stepped down")

    dead = capture_dead_letters(broker, topic)

    async with TestKafkaBroker(broker) as br:
        await br.publish(json.dumps(post_json()).encode(), topic=topic)

    assert calls == ["p1", "p1", "p1"]
    assert dead == []
    assert outcomes(topic) == {"processed": 1, "retried": 2, "dead_lettered": 0}


async def test_transient_failure_that_never_heals_is_never_dead_lettered(topic: str) -> None:
    """Issue 14 item 6: a failover outlasting the retry budget rewinds the offset (the records
    come again) instead of dead-lettering live traffic."""
    broker = make_test_broker()
    calls = 0

    @broker.subscriber(topic, **at_least_once("g"))
    async def on_post(event: PostScheduled) -> None:
        nonlocal calls
        calls += 1
        raise AutoReconnect("no primary")

    dead = capture_dead_letters(broker, topic)

    async with TestKafkaBroker(broker) as br:
        with contextlib.suppress(AutoReconnect):  # the in-memory broker hands the nack back
            await br.publish(json.dumps(post_json()).encode(), topic=topic)

    assert calls == ATTEMPTS
    assert dead == []
    assert outcomes(topic) == {"processed": 0, "retried": ATTEMPTS, "dead_lettered": 0}
    failing = registry.get_sample_value(
        "socialops_delivery_transient_failures", {"service": "t", "topic": topic}
    )
    assert failing == ATTEMPTS


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PermanentError("unknown tenant ghost"), "PermanentError: unknown tenant ghost"),
        (KeyError("budget_id"), "KeyError: 'budget_id'"),  # a bug in the handler: never heals
    ],
    ids=["PermanentError", "unexpected"],
)
async def test_permanent_failure_is_dead_lettered_without_retry(
    topic: str, error: Exception, reason: str
) -> None:
    broker = make_test_broker()
    calls = 0

    @broker.subscriber(topic, **at_least_once("g"))
    async def on_post(event: PostScheduled) -> None:
        nonlocal calls
        calls += 1
        raise error

    dead = capture_dead_letters(broker, topic)

    async with TestKafkaBroker(broker) as br:
        await br.publish(json.dumps(post_json()).encode(), topic=topic)

    assert calls == 1
    [letter] = dead
    assert letter.headers["x-dlq-kind"] == "permanent"
    assert letter.headers["x-dlq-reason"] == reason
    assert letter.headers["x-dlq-attempts"] == "1"
    assert outcomes(topic)["retried"] == 0


async def test_dead_letter_keeps_the_correlation_id(topic: str) -> None:
    broker = make_test_broker()

    @broker.subscriber(topic, **at_least_once("g"))
    async def on_post(event: PostScheduled) -> None:
        raise PermanentError("unknown tenant")

    dead = capture_dead_letters(broker, topic)

    async with TestKafkaBroker(broker) as br:
        await br.publish(json.dumps(post_json()).encode(), topic=topic, correlation_id="corr-7")

    [letter] = dead
    assert letter.correlation_id == "corr-7"
