"""Fault injection: the database dies under a running consumer (SIGKILL) and comes back.
Messages that arrived meanwhile are retried, not dead-lettered and not skipped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from deploy.local import stack
from services.metrics.app import create_app
from services.metrics.repository import MetricsRepository
from services.metrics.settings import MetricsSettings
from shared import mongo, topics
from shared.auth import AgencyDirectory
from tests.integration.conftest import Infra, delete_topics, eventually
from tests.integration.helpers import observation


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Database:
    """A private SecantusDB process on disk that a test can kill and restart."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(stack.SECANTUS_BIN), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(self.data), "--log-level", "WARNING", "--sync-on-commit"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("private database did not start")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "db")
    db.data.mkdir()
    db.start()
    yield db
    if db.proc and db.proc.poll() is None:
        db.kill()


@pytest.fixture(params=[20])
async def metrics_on_private_db(
    infra: Infra, database: Database, request: pytest.FixtureRequest
) -> AsyncIterator[dict[str, Any]]:
    """The metrics service on a private database; the parameter is its retry budget."""
    prefix = f"o{uuid.uuid4().hex[:8]}_"
    settings = MetricsSettings(
        kafka_bootstrap_servers=infra.bootstrap, mongodb_uri=database.uri, topic_prefix=prefix,
        topic_partitions=2, database=f"{prefix}metrics", tenancy_database=f"{prefix}tenancy",
        retry_attempts=request.param, retry_base_delay_s=0.1, retry_max_delay_s=0.5,
        log_level="WARNING",
    )  # fmt: skip
    client = mongo.connect(database.uri, app_name="tests")
    agency, _ = await AgencyDirectory(client[settings.tenancy_database]).create_agency("Outage")
    await client.close()
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap, acks="all")
    await producer.start()
    async with app.router.lifespan_context(app):
        yield {"app": app, "prefix": prefix, "tenant": agency.tenant_id, "producer": producer,
               "bootstrap": infra.bootstrap}  # fmt: skip
    await producer.stop()
    await delete_topics(infra.bootstrap, prefix)


async def test_database_killed_mid_stream_loses_and_dead_letters_nothing(
    metrics_on_private_db: dict[str, Any], database: Database
) -> None:
    ctx = metrics_on_private_db
    topic = ctx["prefix"] + topics.ANALYTICS_OBSERVATIONS
    send, stored_ids = _sender(ctx, topic), _stored(ctx)

    first = await send("before")
    await eventually(lambda: _contains(stored_ids, {first}), timeout=30)

    retried = {"service": "metrics", "topic": topic, "outcome": "retried"}
    retries_before = REGISTRY.get_sample_value("socialops_messages_total", retried) or 0
    database.kill()
    during = [await send(f"during-{i}") for i in range(3)]
    await asyncio.sleep(6.0)  # longer than server selection (5 s): the consumer must retry
    database.start()

    await eventually(lambda: _contains(stored_ids, {first, *during}), timeout=60)
    dlq = ctx["prefix"] + topics.dlq(topics.ANALYTICS_OBSERVATIONS)
    offsets = await _end_offsets(ctx["bootstrap"], dlq)
    assert offsets == 0, (
        "nothing may be dead-lettered for a database outage shorter than the retries"
    )
    retries = REGISTRY.get_sample_value("socialops_messages_total", retried) or 0
    assert retries > retries_before, "the outage outlasted server selection: a retry was due"


@pytest.mark.parametrize("metrics_on_private_db", [2], indirect=True)
async def test_a_20s_database_outage_outlasting_the_retries_dead_letters_nothing(
    metrics_on_private_db: dict[str, Any], database: Database
) -> None:
    """Issue 14 item 6: a failover longer than the retry budget (2 attempts, well under a
    second) keeps being retried (the offset is rewound and the records come again);
    nothing is dead-lettered, nothing is lost."""
    ctx = metrics_on_private_db
    topic = ctx["prefix"] + topics.ANALYTICS_OBSERVATIONS
    send, stored_ids = _sender(ctx, topic), _stored(ctx)

    first = await send("before")
    await eventually(lambda: _contains(stored_ids, {first}), timeout=30)
    retried = {"service": "metrics", "topic": topic, "outcome": "retried"}
    retries_before = REGISTRY.get_sample_value("socialops_messages_total", retried) or 0

    database.kill()
    during = [await send(f"during-{i}") for i in range(20)]
    await asyncio.sleep(20.0)  # the outage: longer than server selection and every retry
    failing = REGISTRY.get_sample_value(
        "socialops_delivery_transient_failures", {"service": "metrics", "topic": topic}
    )
    database.start()

    await eventually(lambda: _contains(stored_ids, {first, *during}), timeout=90)
    dlq = ctx["prefix"] + topics.dlq(topics.ANALYTICS_OBSERVATIONS)
    assert await _end_offsets(ctx["bootstrap"], dlq) == 0, "an outage dead-letters nothing"
    retries = REGISTRY.get_sample_value("socialops_messages_total", retried) or 0
    assert retries >= retries_before + 2, "the outage outlasted the retry budget: still retried"
    assert failing and failing >= 2, "the failures in a row were visible during the outage"


def _sender(ctx: dict[str, Any], topic: str) -> Any:
    """Publishes one observation of an entity to the service's topic; returns its event id."""

    async def send(entity: str) -> str:
        event = observation(ctx["tenant"], "cl-1", entity_id=entity)
        await ctx["producer"].send_and_wait(
            topic, event.model_dump_json().encode(), key=event.partition_key()
        )
        return event.event_id

    return send


def _stored(ctx: dict[str, Any]) -> Any:
    """The ids the service stored for the test's tenant."""

    async def stored_ids() -> set[str]:
        docs = await MetricsRepository(ctx["app"].state.runtime.db).find(
            {"tenant_id": ctx["tenant"]}
        )
        return {d["_id"] for d in docs}

    return stored_ids


async def _contains(fn, wanted: set[str]) -> bool:  # type: ignore[no-untyped-def]
    return wanted <= await fn()


async def _end_offsets(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return sum(ends.values())
    finally:
        await consumer.stop()
