"""Integration fixtures: the real Kafka broker and database server, started once per test
session by the project's own stack script, and the four services running in-process against
them with a unique topic prefix and unique database names per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from deploy.local import stack
from services.audit.app import create_app as audit_app
from services.audit.settings import AuditSettings
from services.budget.app import create_app as budget_app
from services.budget.settings import BudgetSettings
from services.calendar.app import create_app as calendar_app
from services.calendar.settings import CalendarSettings
from services.metrics.app import create_app as metrics_app
from services.metrics.repository import MetricsRepository
from services.metrics.settings import MetricsSettings
from shared import mongo
from shared.auth import AgencyDirectory
from shared.envelope import Event

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Infra:
    bootstrap: str
    mongodb_uri: str


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Start (or reuse) the test profile's Kafka and database; stop what we started."""
    profile = stack.profile("test")
    started = (
        not stack.running_pid(profile, "kafka") and "KAFKA_BOOTSTRAP_SERVERS" not in os.environ
    )
    stack.up(profile, with_services=False)
    yield Infra(profile.kafka_bootstrap, profile.mongodb_uri)
    if started and not os.environ.get("SOCIALOPS_KEEP_TEST_STACK"):
        stack.down(profile)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, interval: float = 0.1
) -> Any:
    """Poll `check` until it returns a truthy value or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


async def while_progressing(
    count: Callable[[], Awaitable[int]], target: int, *, stall: float = 90.0, interval: float = 0.5
) -> float:
    """Poll `count` until it reaches `target`; fail only when it stops moving for `stall` s.

    For work whose pace depends on the machine (thousands of posts through real processes):
    a slow machine that keeps going passes, a stuck one fails with where it stopped.
    Returns the seconds it took."""
    start = time.monotonic()
    last, moved = -1, start
    while True:
        value = await count()
        if value >= target:
            return time.monotonic() - start
        now = time.monotonic()
        if value != last:
            last, moved = value, now
        elif now - moved > stall:
            raise AssertionError(
                f"stuck at {value} of {target} for {stall}s ({now - start:.0f}s in all)"
            )
        await asyncio.sleep(interval)


@dataclass
class Platform:
    """The four services of one test, plus helpers to reach them and the broker."""

    infra: Infra
    prefix: str
    apps: dict[str, FastAPI]
    http: dict[str, httpx.AsyncClient]
    mongo: AsyncMongoClient[dict[str, Any]]
    producer: AIOKafkaProducer
    directory: AgencyDirectory
    databases: list[str] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return self.prefix + name

    def db(self, service: str) -> Any:
        return self.mongo[f"{self.prefix}{service}"]

    async def observations(self, tenant_id: str, **match: Any) -> list[dict[str, Any]]:
        """Observation documents the metrics service stored for a tenant."""
        repo = MetricsRepository(self.db("metrics"))
        return await repo.find({"tenant_id": tenant_id, **match})

    async def new_agency(self, name: str = "Agency") -> tuple[str, dict[str, str]]:
        """A new agency: its tenant id and the headers carrying its API key."""
        agency, key = await self.directory.create_agency(name)
        return agency.tenant_id, {"X-API-Key": key}

    async def send(self, topic: str, value: bytes | Event, key: bytes | None = None) -> None:
        """Produce one raw message (bytes as given, an event as its JSON) and wait for acks."""
        if isinstance(value, Event):
            payload, key = value.model_dump_json().encode(), key or value.partition_key()
        else:
            payload = value
        await self.producer.send_and_wait(self.topic(topic), payload, key=key or b"raw")

    async def read_topic(self, topic: str, *, expect: int, timeout: float = 20.0) -> list[Any]:
        """Read `expect` records from the start of a topic (fails after `timeout`)."""
        consumer = AIOKafkaConsumer(
            self.topic(topic),
            bootstrap_servers=self.infra.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while len(records) < expect and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for part in batch.values():
                    records.extend(part)
        finally:
            await consumer.stop()
        return records


SERVICES = {
    "calendar": (calendar_app, CalendarSettings),
    "metrics": (metrics_app, MetricsSettings),
    "budget": (budget_app, BudgetSettings),
    "audit": (audit_app, AuditSettings),
}


@pytest.fixture
async def platform(infra: Infra) -> AsyncIterator[Platform]:
    """All four services in this process, isolated by a unique topic prefix and databases."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    common = {
        "kafka_bootstrap_servers": infra.bootstrap,
        "mongodb_uri": infra.mongodb_uri,
        "topic_prefix": prefix,
        "tenancy_database": f"{prefix}tenancy",
        "topic_partitions": 2,
        "retry_attempts": 2,
        "retry_base_delay_s": 0.05,
        "log_level": "WARNING",
    }
    client = mongo.connect(infra.mongodb_uri, app_name="tests")
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap, acks="all")
    apps: dict[str, FastAPI] = {}
    http: dict[str, httpx.AsyncClient] = {}
    async with contextlib.AsyncExitStack() as stack_:
        await producer.start()
        stack_.push_async_callback(producer.stop)
        for name, (factory, settings_cls) in SERVICES.items():
            app = factory(settings_cls(database=f"{prefix}{name}", **common))
            await stack_.enter_async_context(app.router.lifespan_context(app))
            apps[name] = app
            http[name] = await stack_.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            )
        platform = Platform(
            infra=infra,
            prefix=prefix,
            apps=apps,
            http=http,
            mongo=client,
            producer=producer,
            directory=AgencyDirectory(client[f"{prefix}tenancy"], cache_ttl_s=0),
            databases=[f"{prefix}{n}" for n in (*SERVICES, "tenancy")],
        )
        await _wait_for_consumers(apps)
        yield platform
    for db in platform.databases:
        await client.drop_database(db)
    await client.close()
    await delete_topics(infra.bootstrap, prefix)


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Drop a test's topics so a long test session does not pile up partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def _wait_for_consumers(apps: dict[str, FastAPI]) -> None:
    """Wait until every subscriber has its partitions, so no test message precedes a join."""

    async def assigned() -> bool:
        for app in apps.values():
            for sub in app.state.runtime.broker.subscribers:
                consumer = getattr(sub, "consumer", None)
                if consumer is None or not consumer.assignment():
                    return False
        return True

    await eventually(assigned, timeout=30)
