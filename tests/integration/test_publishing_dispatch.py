"""Several calendar processes dispatch together (real subprocesses: `python -m services.calendar`
against the real broker and database, publishing to the sandbox platform in its own process):
2,000 due posts (SOCIALOPS_TEST_PUBLISH_POSTS=5000 for issue 9's figure; the 20,000 peak is
`make bench-calendar`'s),
each published exactly once on the sandbox (its idempotency log), once each on Kafka; and the
same with one process SIGKILLed mid-dispatch: its claims are taken over after their lease,
still nothing posted twice. The waits follow progress (a slow machine passes, a stall fails)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared import mongo, topics
from shared.auth import AgencyDirectory
from tests.integration.conftest import Infra, delete_topics, eventually, while_progressing
from tests.integration.test_publishing_lifecycle import free_port, start_sandbox

# issue 9 asks for 5,000 posts: SOCIALOPS_TEST_PUBLISH_POSTS=5000 passes; on 2026-11-29 (2 cores
# shared with other engineers' benchmarks) this test took 240 s with the outbox relay's batch
# in flight (load 3-5; 718 s at load 5-6 before its deletes), and the SIGKILL test below
# scales with it too, so CI keeps 2,000 (the two together 50 s + 102 s on a quieter machine)
POSTS = int(os.environ.get("SOCIALOPS_TEST_PUBLISH_POSTS", "2000"))
LEASE_S = 10.0
STALL_S = 60.0  # reading the lifecycle topic fails only after this long with no new event
EVENTS_CAP_S = 900.0  # ... or after this long in all
pytestmark = pytest.mark.timeout(1800)  # the waits below fail first, on a stall


@dataclass
class Fleet:
    """Calendar processes sharing one database and topic prefix, and the sandbox."""

    infra: Infra
    prefix: str
    sandbox: str
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap,
            "MONGODB_URI": self.infra.mongodb_uri,
            "SOCIALOPS_TOPIC_PREFIX": self.prefix,
            "SOCIALOPS_TENANCY_DATABASE": f"{self.prefix}tenancy",
            "SOCIALOPS_TOPIC_PARTITIONS": "2",
            "SOCIALOPS_LOG_LEVEL": "WARNING",
            "CALENDAR_DATABASE": f"{self.prefix}calendar",
            "CALENDAR_PORT": str(port),
            "CALENDAR_PUBLISH_SANDBOX_URL": self.sandbox,
            "CALENDAR_PUBLISH_LEASE_S": str(LEASE_S),
            "CALENDAR_PUBLISH_TIMEOUT_S": "5",
            "CALENDAR_PUBLISH_IDLE_POLL_S": "0.1",
        }

    async def start(self, n: int) -> None:
        ports = [free_port() for _ in range(n)]
        for i, port in enumerate(ports):
            out = (self.logs / f"calendar-{i}.log").open("wb")
            self.procs.append(
                subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                    [sys.executable, "-m", "services.calendar"],
                    env=self.env(port),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        async with httpx.AsyncClient() as http:

            async def ready() -> bool:
                for port in ports:
                    try:
                        r = await http.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    except httpx.HTTPError:
                        return False
                    if r.status_code != 200:
                        return False
                return True

            await eventually(ready, timeout=45, interval=0.3)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
async def fleet(infra: Infra, tmp_path: Path) -> AsyncIterator[Fleet]:
    sandbox, url = start_sandbox()
    fleet = Fleet(infra, f"t{uuid.uuid4().hex[:10]}_", url, tmp_path)
    try:
        yield fleet
    finally:
        fleet.stop()  # before the databases go: no process writes into a dropped database
        sandbox.terminate()
        sandbox.wait(10)
        client = mongo.connect(infra.mongodb_uri, app_name="tests")
        for db in ("calendar", "tenancy"):
            await client.drop_database(f"{fleet.prefix}{db}")
        await client.close()
        await delete_topics(infra.bootstrap, fleet.prefix)


async def seed(fleet: Fleet, count: int) -> list[str]:
    """`count` posts due now for 250 clients (several platforms), written as the API does."""
    client = mongo.connect(fleet.infra.mongodb_uri, app_name="tests")
    agency, _ = await AgencyDirectory(client[f"{fleet.prefix}tenancy"]).create_agency("Peak")
    now = datetime.now(UTC)
    platforms = ("instagram", "facebook", "linkedin", "tiktok")
    docs = [
        {
            "_id": f"po-{i:06d}",
            "post_id": f"po-{i:06d}",
            "tenant_id": agency.tenant_id,
            "client_id": f"cl-{i % 250:04d}",
            "platform": platforms[i % len(platforms)],
            "scheduled_at": now,
            "local_time": now.isoformat(),
            "timezone": "UTC",
            "content_type": "post",
            "pillar": None,
            "caption": f"post {i}",
            "paid": False,
            "budget_id": None,
            "status": "scheduled",
            "created_at": now,
            "version": 1,
        }
        for i in range(count)
    ]
    await client[f"{fleet.prefix}calendar"].posts.insert_many(docs)
    await client.close()
    return [d["_id"] for d in docs]


async def sandbox_log(fleet: Fleet) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        data: dict[str, Any] = (await http.get(f"{fleet.sandbox}/_log", timeout=10)).json()
        return data


async def published_count(fleet: Fleet) -> int:
    client = mongo.connect(fleet.infra.mongodb_uri, app_name="tests")
    try:
        posts = client[f"{fleet.prefix}calendar"].posts
        return await posts.count_documents({"status": "published"})
    finally:
        await client.close()


async def lifecycle_events(
    fleet: Fleet, ids: list[str], *, stall: float = STALL_S, cap: float = EVENTS_CAP_S
) -> list[dict[str, Any]]:
    """The lifecycle topic from the start, read until every post's `PostPublished` is in.

    The read follows progress, like the waits above: the outbox relays the events after the
    posts are published in the database, so with thousands of posts the last ones reach
    Kafka a while later (at 5,000 posts a fixed 60 s read missed ~500). It keeps reading while
    events still arrive and stops only after `stall` seconds without a new one (or at `cap`
    in all); the asserts of the caller then show what is missing."""
    consumer = AIOKafkaConsumer(
        fleet.prefix + topics.POST_LIFECYCLE,
        bootstrap_servers=fleet.infra.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    waiting = set(ids)
    try:
        start = time.monotonic()
        moved = start
        while waiting and time.monotonic() - moved < stall and time.monotonic() - start < cap:
            for part in (await consumer.getmany(timeout_ms=300)).values():
                for record in part:
                    event = json.loads(record.value)
                    events.append(event)
                    moved = time.monotonic()
                    if event["event_type"] == "PostPublished":
                        waiting.discard(event["post_id"])
        # and a little longer: a duplicate would come right after
        for part in (await consumer.getmany(timeout_ms=1000)).values():
            events.extend(json.loads(r.value) for r in part)
    finally:
        await consumer.stop()
    return events


async def attempts_by_post(fleet: Fleet) -> dict[str, int]:
    client = mongo.connect(fleet.infra.mongodb_uri, app_name="tests")
    try:
        cursor = client[f"{fleet.prefix}calendar"].posts.find({}, {"attempts": 1})
        return {d["_id"]: d.get("attempts", 0) async for d in cursor}
    finally:
        await client.close()


async def owners(fleet: Fleet) -> Counter[str]:
    client = mongo.connect(fleet.infra.mongodb_uri, app_name="tests")
    try:
        cursor = client[f"{fleet.prefix}calendar"].posts.find({}, {"published_by": 1})
        return Counter([d.get("published_by") async for d in cursor])
    finally:
        await client.close()


async def test_two_processes_publish_thousands_of_due_posts_once_each(fleet: Fleet) -> None:
    await fleet.start(2)
    ids = await seed(fleet, POSTS)

    await while_progressing(lambda: published_count(fleet), POSTS)
    log = await sandbox_log(fleet)
    assert log["created"] == POSTS
    assert all(log["keys"][k]["created"] == 1 for k in ids)
    attempts = await attempts_by_post(fleet)
    # never handed to two publishers at once: every request the sandbox saw is an attempt
    # the database counted for that post (a claim counts it before the request is sent)
    assert [k for k in ids if log["keys"][k]["requests"] > attempts[k]] == []
    by = await owners(fleet)
    assert len(by) == 2 and min(by.values()) > POSTS // 10, by  # both processes took a share

    events = await lifecycle_events(fleet, ids)
    # each relay delivers at least once (two processes may both relay an entry before either
    # marks it sent): a repeat carries the same event id, which consumers drop
    kinds = Counter({(e["event_type"], e["post_id"], e["event_id"]) for e in events})
    per_post = Counter((kind, post) for kind, post, _ in kinds)
    # published once each; a post whose lease expired under load (its process too slow to
    # record the answer in time) is due again in the taker's claim, so PostDue may repeat
    assert [i for i in ids if per_post[("PostPublished", i)] != 1] == []
    assert [i for i in ids if per_post[("PostDue", i)] < 1] == []
    assert all(per_post[("PostFailed", i)] <= attempts[i] - 1 for i in ids)


async def test_a_process_killed_mid_dispatch_leaves_nothing_stuck(fleet: Fleet) -> None:
    await fleet.start(2)
    ids = await seed(fleet, POSTS)

    async def created() -> int:
        return int((await sandbox_log(fleet))["created"])

    await while_progressing(created, POSTS // 5, interval=0.2)
    victim = fleet.procs[0]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    killed_at = await published_count(fleet)
    assert killed_at < POSTS  # it died mid-dispatch

    await while_progressing(lambda: published_count(fleet), POSTS)
    log = await sandbox_log(fleet)
    assert log["created"] == POSTS
    assert all(log["keys"][k]["created"] == 1 for k in ids)
    # only posts in flight at the kill were sent again (and deduped by their idempotency key)
    resent = [k for k in ids if log["keys"][k]["requests"] > 1]
    assert len(resent) <= POSTS * 2 // 5, len(resent)

    events = await lifecycle_events(fleet, ids)
    published = Counter(e["post_id"] for e in events if e["event_type"] == "PostPublished")
    assert set(published) == set(ids)
    # an event the dead process sent but did not mark sent is relayed again with its event id
    distinct = {(e["post_id"], e["event_id"]) for e in events if e["event_type"] == "PostPublished"}
    assert len(distinct) == POSTS
