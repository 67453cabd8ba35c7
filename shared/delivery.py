"""Delivery policy for every subscriber: dead-letter permanent failures to `<topic>.dlq` with
the reason; retry transient ones, never dead-lettering them.

Permanent: the message can never succeed (undecodable, schema-invalid, unknown tenant, a bug).
Transient: the world may heal (database or broker unreachable, a failover). The message is
retried with bounded exponential backoff; past the retry budget the exception propagates, the
subscriber's NACK_ON_ERROR policy rewinds the offset and the same records are fetched again
(the partition waits, backing off: a failover of any length diverts nothing to the dead-letter
topic). `socialops_delivery_transient_failures` counts the failures in a row per topic, and
consumer lag grows meanwhile: both are what an alert watches. If even a dead-letter publish
fails, the offset is rewound the same way: nothing is committed past an unprocessed message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, OperationFailure

from shared import tasks, topics
from shared.envelope import unreadable_schema
from shared.logs import correlation_id
from shared.observability import DELIVERY_OUTCOMES, TRANSIENT_FAILURES
from shared.ops import count_dead_letter

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from faststream.kafka import KafkaBroker
    from faststream.message import StreamMessage

log = logging.getLogger("socialops.delivery")


class PermanentError(Exception):
    """A message that can never be processed (e.g. unknown tenant); dead-letter it at once."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,  # includes AutoReconnect, ServerSelectionTimeoutError, NetworkTimeout
    KafkaError,
    ConnectionError,
    TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, OperationFailure):
        return error.has_error_label("TransientTransactionError")
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, PermanentError)


def describe(error: BaseException) -> str:
    """A short, human reason; for schema errors: each field and what is wrong with it."""
    if isinstance(error, ValidationError):
        if unreadable := unreadable_schema(error):
            return unreadable[:900]  # unknown event_type or a newer event_version
        if all(e["type"] == "json_invalid" for e in error.errors()):
            return f"undecodable: {error.errors()[0]['msg']}"[:900]
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or '<body>'}: {e['msg']}" for e in error.errors()
        ]
        return "schema invalid: " + "; ".join(parts)[:900]
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return f"undecodable: {error}"[:900]
    return f"{type(error).__name__}: {error}"[:900]


@dataclass(frozen=True)
class DeadLetters:
    """Publishes a failed record to its topic's `.dlq` with headers saying why and from where."""

    broker: KafkaBroker
    service: str

    async def send(
        self,
        record: ConsumerRecord[Any, Any],
        *,
        reason: str,
        kind: str,
        attempts: int = 1,
        correlation_id: str | None = None,
    ) -> None:
        headers = {
            "x-dlq-reason": reason,
            "x-dlq-kind": kind,
            "x-dlq-service": self.service,
            "x-dlq-source-topic": record.topic,
            "x-dlq-source-partition": str(record.partition),
            "x-dlq-source-offset": str(record.offset),
            "x-dlq-attempts": str(attempts),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
        await self.broker.publish(
            record.value if record.value is not None else b"",
            topic=topics.dlq(record.topic),
            key=record.key,
            headers=headers,
            correlation_id=correlation_id or _header(record, "correlation_id"),
        )
        DELIVERY_OUTCOMES.labels(self.service, record.topic, "dead_lettered").inc()
        count_dead_letter(self.service, record.topic, reason)
        log.warning(
            "dead-lettered %s[%s]@%s: %s",
            record.topic,
            record.partition,
            record.offset,
            reason,
            extra={"fields": {"kind": kind}},
        )


def _header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1)))


class DeliveryMiddleware(BaseMiddleware):
    """One instance per message; built by `Delivery`."""

    def __init__(self, msg: Any, /, *, context: Any, delivery: Delivery) -> None:
        super().__init__(msg, context=context)
        self.delivery = delivery

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        d = self.delivery
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        topic = records[0].topic if records else "?"
        correlation_id.set(msg.correlation_id)
        service = d.dead_letters.service
        failing = TRANSIENT_FAILURES.labels(service, topic)
        for attempt in range(1, d.retry.attempts + 1):
            try:
                result = await call_next(msg)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                tasks.raise_if_stopping()  # a shutdown, not a failure of this message
                if is_transient(error):
                    DELIVERY_OUTCOMES.labels(service, topic, "retried").inc()
                    failing.inc()
                    if attempt < d.retry.attempts:
                        log.warning(
                            "transient failure on %s (attempt %s): %s", topic, attempt, error
                        )
                        await asyncio.sleep(d.retry.delay(attempt))
                        continue
                    log.error(
                        "transient failure on %s persists after %s attempts: rewinding, not "
                        "dead-lettering (%s)", topic, attempt, error,
                    )  # fmt: skip
                    DELIVERY_OUTCOMES.labels(service, topic, "rewound").inc()
                    await asyncio.sleep(d.retry.max_delay_s)
                    raise  # NACK_ON_ERROR seeks back: the same records come again
                if not isinstance(error, ValidationError | PermanentError | ValueError):
                    log.exception("unexpected error handling %s", topic)
                for record in records:
                    await d.dead_letters.send(
                        record,
                        reason=describe(error),
                        kind="permanent",
                        attempts=attempt,
                        correlation_id=msg.correlation_id,
                    )
                failing.set(0)
                return None
            DELIVERY_OUTCOMES.labels(service, topic, "processed").inc()
            failing.set(0)
            return result
        return None


@dataclass(frozen=True)
class Delivery:
    """The broker middleware factory: `broker.add_middleware(Delivery(...))`."""

    dead_letters: DeadLetters
    retry: RetryPolicy

    def __call__(self, msg: Any, /, *, context: Any) -> DeliveryMiddleware:
        return DeliveryMiddleware(msg, context=context, delivery=self)
