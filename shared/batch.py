"""The batch-consumption path: decode a batch of raw Kafka records one by one, so a poison
record is dead-lettered alone while the rest of the batch is processed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from shared.delivery import DeadLetters, PermanentError, describe, is_transient
from shared.envelope import unreadable_schema

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("socialops.batch")


def _where(record: ConsumerRecord[Any, Any]) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


async def decode_batch(
    records: Sequence[ConsumerRecord[Any, Any]],
    model: type[M],
    *,
    dead_letters: DeadLetters,
    check: Callable[[ConsumerRecord[Any, Any], M], Awaitable[None]] | None = None,
    yield_every: int = 250,
) -> list[tuple[ConsumerRecord[Any, Any], M]]:
    """Valid (record, event) pairs in order; every invalid record goes to its `.dlq`.

    Yields to the event loop every `yield_every` records, so that writes already sent (of the
    previous part of a batch) are answered and go on while this one is decoded."""
    valid: list[tuple[ConsumerRecord[Any, Any], M]] = []
    for n, record in enumerate(records, 1):
        if n % yield_every == 0:
            await asyncio.sleep(0)
        try:
            event = model.model_validate_json(record.value or b"")
            if check is not None:
                await check(record, event)
        except ValidationError as e:  # an unknown event_type/version says so, nothing else
            reason = unreadable_schema(e) or describe(e)
            await dead_letters.send(record, reason=reason, kind="permanent")
            continue
        except (json.JSONDecodeError, UnicodeDecodeError, PermanentError) as e:
            await dead_letters.send(record, reason=describe(e), kind="permanent")
            continue
        except Exception as e:  # a check that broke on this record: it alone is dead-lettered
            if is_transient(e):
                raise
            log.exception("unexpected error decoding %s[%s]@%s", *_where(record))
            await dead_letters.send(record, reason=describe(e), kind="permanent")
            continue
        valid.append((record, event))
    return valid


async def raw_records(msg: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
    """Subscriber decoder that hands the handler the raw records of a batch, undecoded."""
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)
