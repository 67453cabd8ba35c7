"""Operational metrics measured rather than counted: consumer lag read from the broker
(committed offset vs log end offset per group, topic and partition), the outbox backlog and
the age of its oldest entry, HTTP golden signals per route, and the bounded kind of a
dead-letter reason.

Series budget per service (what keeps labels bounded): lag = groups x partitions of their
topics (about 10 groups x 12 partitions = 120 at most); outbox = 2; HTTP = routes (~40) x
methods (~2) x 5 status classes + 12 buckets per route; dead letters = topics (~12) x 6 kinds.
No label carries a client, a post or a tenant id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tasks
from shared.observability import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    HTTP_REQUEST_SECONDS,
    HTTP_REQUESTS,
    LAG_PROBE_FAILURES,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
)

log = logging.getLogger("socialops.ops")

# --------------------------------------------------------------------------- dead letters

REASON_KINDS = (
    "undecodable",
    "schema_invalid",
    "unknown_schema",
    "unknown_tenant",
    "not_stored",
    "other",
)


def reason_kind(reason: str) -> str:
    """The bounded kind of a free-text dead-letter reason (see `shared.delivery.describe`)."""
    text = reason.lower()
    if text.startswith("undecodable"):
        return "undecodable"
    if text.startswith("schema invalid"):
        return "schema_invalid"
    if "event_type" in text or "event_version" in text:
        return "unknown_schema"
    if "unknown tenant" in text:
        return "unknown_tenant"
    if "cannot be stored" in text:
        return "not_stored"
    return "other"


def count_dead_letter(service: str, topic: str, reason: str) -> None:
    DEAD_LETTERS.labels(service, topic, reason_kind(reason)).inc()


# --------------------------------------------------------------------------- consumer lag


def partition_lags(
    committed: dict[TopicPartition, int], end: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Messages behind per partition: log end offset minus the committed offset (never < 0)."""
    return {tp: max(0, end.get(tp, offset) - offset) for tp, offset in committed.items()}


async def measure_lag(bootstrap: str, groups: Iterable[str]) -> dict[tuple[str, str, int], int]:
    """(group, topic, partition) -> lag, as the broker sees it right now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        partitions = {tp for offsets in committed.values() for tp in offsets}
        end = await consumer.end_offsets(list(partitions)) if partitions else {}
        return {
            (group, tp.topic, tp.partition): lag
            for group, offsets in committed.items()
            for tp, lag in partition_lags(offsets, end).items()
        }
    finally:
        await consumer.stop()
        await admin.close()


# --------------------------------------------------------------------------- outbox


async def outbox_backlog(collection: AsyncCollection[Any]) -> tuple[int, float]:
    """Entries not yet relayed (events staged together are one entry) and the age in seconds
    of the oldest (0 when empty)."""
    pending = await collection.count_documents({"sent_at": None})
    oldest = await collection.find_one(
        {"sent_at": None}, projection={"created_at": 1}, sort=[("seq", ASCENDING)]
    )
    if not oldest:
        return pending, 0.0
    created = oldest["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return pending, max(0.0, (datetime.now(UTC) - created).total_seconds())


class OpsProbe:
    """Refreshes the lag and outbox gauges of one service every `interval_s` seconds."""

    def __init__(
        self,
        *,
        service: str,
        bootstrap: str,
        groups: set[str],
        outbox: AsyncCollection[Any],
        interval_s: float = 10.0,
    ) -> None:
        self.service = service
        self.bootstrap = bootstrap
        self.groups = groups
        self.outbox = outbox
        self.interval_s = interval_s

    async def probe(self) -> None:
        pending, age = await outbox_backlog(self.outbox)
        OUTBOX_BACKLOG.labels(self.service).set(pending)
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)
        if self.groups:
            lags = await measure_lag(self.bootstrap, sorted(self.groups))
            for (group, topic, partition), lag in lags.items():
                CONSUMER_LAG.labels(self.service, group, topic, str(partition)).set(lag)

    async def run(self) -> None:
        while True:
            # first wait: a process that lives a few seconds (a test) never pays for a probe
            await asyncio.sleep(self.interval_s)
            try:
                await self.probe()
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker or database is down: the probe tries again
                tasks.raise_if_stopping()
                LAG_PROBE_FAILURES.labels(self.service).inc()
                log.warning("ops probe failed; will retry", exc_info=True)


# --------------------------------------------------------------------------- HTTP


def _status_class(code: int) -> str:
    return f"{code // 100}xx"


class HttpMetrics:
    """ASGI middleware: requests by route template, method and status class, and latency by
    route (the template, e.g. `/clients/{client_id}/posts`, never the raw path)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template not in ("/metrics",):
                HTTP_REQUESTS.labels(
                    self.service, template, scope["method"], _status_class(status)
                ).inc()
                with contextlib.suppress(ValueError):
                    HTTP_REQUEST_SECONDS.labels(self.service, template).observe(
                        time.perf_counter() - started
                    )
