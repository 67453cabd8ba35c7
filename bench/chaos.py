"""`make chaos`: faults injected into the real stack while events stream through it; nothing
may be lost and nothing doubled (issue 13 item 4).

Each scenario gets its own topics and databases (a prefix) on one Kafka broker and one database
server (the `chaos` profile: `.local/chaos`, Kafka 39092, database 37818), and starts the four
services as their own processes (`python -m services.<name>`) with the sandbox platform. Then:

1. an agency with 6 clients, 4 of them with a budget (the other 2 spend without one);
2. 200 posts due over the next 20 s, published by the calendar's dispatcher to the sandbox;
3. 3,000 AnalyticsObserved (bench/payloads.py: organic running totals and paid hourly spend)
   sent to the metrics topic at 150/s, each sent until the broker acknowledges it;
4. at 5 s the scenario's fault; afterwards the harness waits until the end state matches the
   model of what was sent (bench/chaos_model.py) and every consumer group's lag is 0, then
   reads again 5 s later for late duplicates.

The end state is read from the stores and topics: observations in the metrics buckets, the
audit's fold of each (its seen-markers), ledger entries and each budget's spent total, posts on
the sandbox platform and their calendar status, and the events (`PostPublished` per post;
every observation and spend line in exactly one `MetricsIngested`). Prints a table and writes
`bench/results/chaos.json`; exits 1 when any
scenario lost or doubled anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from bench.chaos_model import Tally, tally, total
from bench.measure import free_port
from bench.payloads import Message, Workload
from bench.report import console, run_info, write_results
from deploy.local import stack
from services.metrics.repository import BUCKETS
from shared import mongo, topics
from shared.auth import AgencyDirectory

RESULTS = stack.REPO / "bench" / "results" / "chaos.json"
SERVICES = stack.SERVICES
CLIENTS = 6
BUDGETED = 4
POSTS = 200
OBSERVATIONS = 3000
RATE = 150.0  # observations a second
FAULT_AT_S = 5.0
STALL_S = 150.0  # no progress for this long: the scenario failed


def chaos_profile() -> stack.Profile:
    base = Path(os.environ.get("SOCIALOPS_HOME", stack.REPO / ".local"))
    return stack.Profile(
        "chaos",
        base / "chaos",
        kafka_port=int(os.environ.get("SOCIALOPS_CHAOS_KAFKA_PORT", "39092")),
        mongo_port=int(os.environ.get("SOCIALOPS_CHAOS_MONGO_PORT", "37818")),
    )


# --------------------------------------------------------------------------- the fleet


@dataclass
class Fleet:
    """One scenario's service processes: `replicas` of each service, own topics and databases."""

    profile: stack.Profile
    prefix: str
    sandbox: str
    replicas: int = 1
    procs: dict[tuple[str, int], subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[tuple[str, int], int] = field(default_factory=dict)

    def database(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def url(self, svc: str) -> str:
        return f"http://127.0.0.1:{self.ports[(svc, 0)]}"

    def env(self, svc: str, port: int) -> dict[str, str]:
        upper = svc.upper()
        return {
            **os.environ,
            **stack.service_env(self.profile),
            "SOCIALOPS_TOPIC_PREFIX": self.prefix,
            "SOCIALOPS_TENANCY_DATABASE": self.database("tenancy"),
            "SOCIALOPS_LOG_LEVEL": "WARNING",
            f"{upper}_DATABASE": self.database(svc),
            f"{upper}_PORT": str(port),
            f"{upper}_HOST": "127.0.0.1",
            "CALENDAR_PUBLISH_SANDBOX_URL": self.sandbox,
            "CALENDAR_PUBLISH_LEASE_S": "10",
            "CALENDAR_PUBLISH_TIMEOUT_S": "5",
            "CALENDAR_PUBLISH_IDLE_POLL_S": "0.2",
        }

    def start(self, svc: str, i: int) -> None:
        port = self.ports.setdefault((svc, i), free_port())
        self.profile.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.profile.log_dir / f"{self.prefix}{svc}-{i}.log").open("ab")
        self.procs[(svc, i)] = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", f"services.{svc}"],
            env=self.env(svc, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=stack.REPO,
            start_new_session=True,
        )

    def start_all(self) -> None:
        for svc in SERVICES:
            for i in range(self.replicas):
                self.start(svc, i)

    def signal(self, svc: str, i: int, sig: int) -> None:
        proc = self.procs[(svc, i)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait()

    def stop_all(self, timeout: float = 20) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    async def ready(self, limit_s: float = 120) -> None:
        deadline = time.monotonic() + limit_s
        async with httpx.AsyncClient(timeout=3) as http:
            for (svc, i), port in self.ports.items():
                while True:
                    if self.procs[(svc, i)].poll() is not None:
                        raise RuntimeError(
                            f"{svc} replica {i} exited; see {self.prefix}{svc}-{i}.log"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{svc} replica {i} not ready after {limit_s:.0f} s")
                    await asyncio.sleep(0.3)


# --------------------------------------------------------------------------- what is sent


@dataclass
class Model:
    """What a scenario sent: the effects that must exist exactly once at the end."""

    tenant_id: str = ""
    api_key: str = ""
    clients: list[str] = field(default_factory=list)
    budgets: dict[str, str] = field(default_factory=dict)  # client -> budget id
    posts: list[str] = field(default_factory=list)
    observations: list[Message] = field(default_factory=list)
    poison: list[bytes] = field(default_factory=list)
    spend: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # obs id -> client, EUR

    def spend_of(self, client_id: str) -> Decimal:
        return sum((a for c, a in self.spend.values() if c == client_id), Decimal("0"))

    def booked_ids(self) -> list[str]:
        return [i for i, (c, _) in self.spend.items() if c in self.budgets]


async def setup(fleet: Fleet, db: Any, *, poison_share: float) -> Model:
    """An agency, its clients (announced by the calendar), budgets, due posts and the stream."""
    model = Model()
    agency, key = await AgencyDirectory(db[fleet.database("tenancy")]).create_agency("Chaos")
    model.tenant_id, model.api_key = agency.tenant_id, key
    headers = {"X-API-Key": key}
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(timeout=30, headers=headers) as http:
        for n in range(CLIENTS):
            r = await http.post(f"{fleet.url('calendar')}/clients", json={"name": f"Brand {n}"})
            r.raise_for_status()
            model.clients.append(r.json()["client_id"])
        known = db[fleet.database("budget")]["known_clients"]
        for client_id in model.clients[:BUDGETED]:
            await until(
                lambda c=client_id: known.find_one({"_id": f"{model.tenant_id}|{c}"}),
                what=f"the budget service to learn client {client_id}",
            )
            body = {
                "client_id": client_id,
                "name": "chaos quarter",
                "limit": {"amount": "1000000.00", "currency": "EUR"},
                "period_start": (today - timedelta(days=30)).isoformat(),
                "period_end": (today + timedelta(days=30)).isoformat(),
            }
            r = await http.post(f"{fleet.url('budget')}/budgets", json=body)
            r.raise_for_status()
            model.budgets[client_id] = r.json()["budget_id"]
    model.posts = await seed_posts(fleet, db, model)
    workload = Workload(
        model.tenant_id,
        clients=CLIENTS,
        client_ids=list(model.clients),
        start=datetime(2026, 11, 1, tzinfo=UTC),
    )
    model.observations = workload.take(OBSERVATIONS)
    for m in model.observations:
        event = json.loads(m.value)
        if event.get("spend"):
            model.spend[m.event_id] = (event["client_id"], Decimal(event["spend"]["amount"]))
    rng = random.Random(13)  # noqa: S311 - which messages are poison, reproducibly
    kinds = (
        b"\xff not json",
        json.dumps({"event_type": "AnalyticsObserved", "tenant_id": model.tenant_id}).encode(),
        json.dumps({**json.loads(model.observations[0].value), "metrics": "many"}).encode(),
    )
    model.poison = [rng.choice(kinds) for _ in range(round(OBSERVATIONS * poison_share))]
    return model


async def seed_posts(fleet: Fleet, db: Any, model: Model) -> list[str]:
    """POSTS scheduled posts due 2-22 s from now, written as the calendar API writes them."""
    now = datetime.now(UTC)
    platforms = ("instagram", "facebook", "linkedin", "tiktok")
    docs = []
    for i in range(POSTS):
        at = now + timedelta(seconds=2 + 20 * i / POSTS)
        docs.append(
            {
                "_id": f"po-{fleet.prefix}{i:05d}",
                "post_id": f"po-{fleet.prefix}{i:05d}",
                "tenant_id": model.tenant_id,
                "client_id": model.clients[i % CLIENTS],
                "platform": platforms[i % len(platforms)],
                "scheduled_at": at,
                "local_time": at.isoformat(),
                "timezone": "UTC",
                "content_type": "post",
                "pillar": None,
                "caption": f"chaos post {i}",
                "paid": False,
                "budget_id": None,
                "status": "scheduled",
                "created_at": now,
                "version": 1,
            }
        )
    await db[fleet.database("calendar")].posts.insert_many(docs)
    return [d["_id"] for d in docs]


async def until(check: Callable[[], Awaitable[Any]], *, what: str, limit_s: float = 60) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with contextlib.suppress(PyMongoError, httpx.HTTPError):
            if result := await check():
                return result
        await asyncio.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}")


class Sender:
    """Sends each message until the broker acknowledges it, through broker restarts."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer: AIOKafkaProducer | None = None
        self.retries = 0

    async def _producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            self.producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", request_timeout_ms=5000
            )
            await self.producer.start()
        return self.producer

    async def _drop(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), 10)
            self.producer = None

    async def send(self, topic: str, batch: list[tuple[bytes | None, bytes]]) -> None:
        pending = batch
        while pending:
            try:
                producer = await self._producer()
                futures = [await producer.send(topic, v, key=k) for k, v in pending]
                results = await asyncio.gather(*futures, return_exceptions=True)
                pending = [
                    m for m, r in zip(pending, results, strict=True) if isinstance(r, Exception)
                ]
            except (TimeoutError, KafkaError, OSError):
                await self._drop()
            if pending:
                self.retries += len(pending)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        await self._drop()


async def stream(fleet: Fleet, model: Model, sender: Sender) -> float:
    """Send the observations (and poison, spread among them) at RATE; returns seconds taken."""
    topic = fleet.prefix + topics.ANALYTICS_OBSERVATIONS
    items: list[tuple[bytes | None, bytes]] = [(m.key, m.value) for m in model.observations]
    every = len(items) // (len(model.poison) + 1) if model.poison else 0
    for n, bad in enumerate(model.poison, start=1):
        items.insert(n * every + n - 1, (model.tenant_id.encode(), bad))
    started = time.monotonic()
    step = 15
    for i in range(0, len(items), step):
        await sender.send(topic, items[i : i + step])
        ahead = started + (i + step) / RATE - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    return time.monotonic() - started


# --------------------------------------------------------------------------- the end state


@dataclass
class EndState:
    tallies: dict[str, Tally]
    lag: int
    dead_letters: int
    platform_repeats: int  # requests the sandbox deduped by idempotency key (one post each)
    budgets_spent_ok: bool

    @property
    def complete(self) -> bool:
        return all(t.lost == 0 for t in self.tallies.values()) and self.lag == 0

    def progress(self) -> int:
        return sum(t.stored for t in self.tallies.values())


async def partition_map(bootstrap: str) -> dict[str, list[int]]:
    """Every topic's partition numbers, from the broker's metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        return {
            t["topic"]: sorted(p["partition"] for p in t["partitions"])
            for t in await admin.describe_topics()
            if t["error_code"] == 0
        }
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str) -> list[bytes]:
    tps = [TopicPartition(topic, p) for p in (await partition_map(bootstrap)).get(topic, ())]
    if not tps:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # seek_to_beginning right after assign() races
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        values: list[bytes] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(r.value for r in records if r.value is not None)
        return values
    finally:
        await consumer.stop()


async def lag_and_dead_letters(bootstrap: str, prefix: str) -> tuple[int, int]:
    """Total lag of this scenario's consumer groups, and messages on its dead-letter topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)]
        partitions = await partition_map(bootstrap)
        lag = 0
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            names = {tp.topic for tp in committed}
            tps = [TopicPartition(t, p) for t in names for p in partitions.get(t, ())]
            end = await consumer.end_offsets(tps) if tps else {}
            for tp in tps:
                done = committed[tp].offset if tp in committed else 0
                lag += max(0, end[tp] - max(done, 0))
        dlq = [
            TopicPartition(t, p)
            for t, numbers in partitions.items()
            if t.startswith(prefix) and t.endswith(topics.DLQ_SUFFIX)
            for p in numbers
        ]
        dead = 0
        if dlq:
            ends = await consumer.end_offsets(dlq)
            starts = await consumer.beginning_offsets(dlq)
            dead = sum(ends[tp] - starts[tp] for tp in dlq)
        return lag, dead
    finally:
        await consumer.stop()
        await admin.close()


async def end_state(fleet: Fleet, db: Any, model: Model, bootstrap: str) -> EndState:
    tenant = model.tenant_id
    metrics_db, budget_db = db[fleet.database("metrics")], db[fleet.database("budget")]
    stored: Counter[str] = Counter()
    async for bucket in metrics_db[BUCKETS].find({"tenant_id": tenant}, {"ids": 1}):
        stored.update(bucket["ids"])
    folded: Counter[str] = Counter()  # the audit's seen-markers: `tenant|event id`
    markers = db[fleet.database("audit")]["audit_observations_seen"]
    async for marker in markers.find({"_id": {"$regex": f"^{tenant}\\|"}}, {"_id": 1}):
        folded[marker["_id"].split("|", 1)[1]] += 1
    ledger: Counter[str] = Counter()
    async for entry in budget_db["ledger"].find({"tenant_id": tenant}, {"observation_id": 1}):
        ledger[entry["observation_id"]] += 1
    statuses = {
        d["_id"]: d.get("status")
        async for d in db[fleet.database("calendar")].posts.find(
            {"tenant_id": tenant}, {"status": 1}
        )
    }
    async with httpx.AsyncClient(timeout=30) as http:
        log = (await http.get(f"{fleet.sandbox}/_log")).json()
        spent_ok = True
        for client_id, budget_id in model.budgets.items():
            r = await http.get(
                f"{fleet.url('budget')}/budgets/{budget_id}",
                headers={"X-API-Key": model.api_key},
            )
            spent = Decimal(r.json()["spent"]["amount"]) if r.status_code == 200 else None
            spent_ok = spent_ok and spent == model.spend_of(client_id)
    keys = log["keys"]
    published = {
        post: int(keys.get(post, {}).get("created", 0) > 0 and statuses.get(post) == "published")
        for post in model.posts
    }
    repeats = sum(max(0, keys[k]["accepted"] - 1) for k in model.posts if k in keys)

    events: Counter[str] = Counter()  # post -> distinct PostPublished
    seen: set[str] = set()
    for raw in await read_topic(bootstrap, fleet.prefix + topics.POST_LIFECYCLE):
        e = json.loads(raw)
        if e.get("event_type") == "PostPublished" and e["event_id"] not in seen:
            seen.add(e["event_id"])
            events[e["post_id"]] += 1
    lines: Counter[str] = Counter()  # spend line -> distinct MetricsIngested carrying it
    counted = 0
    for raw in await read_topic(bootstrap, fleet.prefix + topics.METRICS_INGESTED):
        e = json.loads(raw)
        if e.get("tenant_id") == tenant and e["event_id"] not in seen:
            seen.add(e["event_id"])
            counted += e.get("observations", 0)
            lines.update(line["observation_id"] for line in e.get("spend", ()))
    valid = len(model.observations)
    ingested_events = total(
        {"lines": tally(model.spend, lines), "posts": tally(model.posts, events)}
    )
    lag, dead = await lag_and_dead_letters(bootstrap, fleet.prefix)
    return EndState(
        tallies={
            "observations": tally((m.event_id for m in model.observations), stored),
            "audit_folds": tally((m.event_id for m in model.observations), folded),
            "ledger_entries": tally(model.booked_ids(), ledger),
            "published_posts": tally(model.posts, published),
            "events": Tally(
                expected=ingested_events.expected + valid,
                stored=ingested_events.stored + min(counted, valid),
                duplicates=ingested_events.duplicates + max(0, counted - valid),
                lost=ingested_events.lost + max(0, valid - counted),
                unexpected=ingested_events.unexpected,
            ),
        },
        lag=lag,
        dead_letters=dead,
        platform_repeats=repeats,
        budgets_spent_ok=spent_ok,
    )


async def settle(fleet: Fleet, db: Any, model: Model, bootstrap: str) -> tuple[EndState, float]:
    """Wait until the end state is complete (nothing lost, lag 0) while it keeps progressing;
    returns the state read 5 s later (late duplicates show there) and when it completed."""
    last, progressed = -1, time.monotonic()
    while True:
        try:
            state = await end_state(fleet, db, model, bootstrap)
        except (PyMongoError, KafkaError, httpx.HTTPError, OSError, KeyError) as e:
            console.print(f"  [dim]end state not readable yet: {type(e).__name__}[/]")
            await asyncio.sleep(2)
            continue
        if state.complete:
            done = time.monotonic()
            await asyncio.sleep(5)
            return await end_state(fleet, db, model, bootstrap), done
        if state.progress() != last:
            last, progressed = state.progress(), time.monotonic()
        elif time.monotonic() - progressed > STALL_S:
            console.print(f"  [red]no progress for {STALL_S:.0f} s[/]")
            return state, time.monotonic()
        await asyncio.sleep(2)


# --------------------------------------------------------------------------- faults


async def _kill_infra(profile: stack.Profile, name: str, down_s: float) -> float:
    pid = stack.running_pid(profile, name)
    if pid is None:
        raise RuntimeError(f"{name} is not running")
    os.killpg(pid, signal.SIGKILL)
    console.print(f"  SIGKILL {name} (pid {pid}); down for {down_s:.0f} s")
    await asyncio.sleep(down_s)
    start = stack.start_kafka if name == "kafka" else stack.start_mongo
    await asyncio.to_thread(start, profile)
    console.print(f"  {name} restarted")
    return time.monotonic()


def kill_infra(name: str, down_s: float) -> Callable[[Fleet], Awaitable[float]]:
    async def fault(fleet: Fleet) -> float:
        return await _kill_infra(fleet.profile, name, down_s)

    return fault


def kill_service(svc: str, down_s: float = 2.0) -> Callable[[Fleet], Awaitable[float]]:
    async def fault(fleet: Fleet) -> float:
        fleet.signal(svc, 0, signal.SIGKILL)
        console.print(f"  SIGKILL {svc}; restarting it in {down_s:.0f} s")
        await asyncio.sleep(down_s)
        fleet.start(svc, 0)
        return time.monotonic()

    return fault


async def rebalance(fleet: Fleet) -> float:
    """SIGKILL the second replica of every service, then start it again: each consumer group
    rebalances twice mid-stream (once when the member is found gone, once when it rejoins)."""
    for svc in SERVICES:
        fleet.signal(svc, 1, signal.SIGKILL)
    console.print("  SIGKILL the second replica of each service; back in 8 s")
    await asyncio.sleep(8)
    for svc in SERVICES:
        fleet.start(svc, 1)
    return time.monotonic()


async def no_fault(fleet: Fleet) -> float:
    return time.monotonic()


async def reset_groups(bootstrap: str, prefix: str) -> int:
    """Commit offset 0 for every partition every group of this scenario consumed (the groups
    are empty: their services are stopped); returns how many groups were rewound."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)]
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                consumer.assign(list(committed))
                await consumer.commit({tp: 0 for tp in committed})
            finally:
                await consumer.stop()
        return len(groups)
    finally:
        await admin.close()


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    fault: Callable[[Fleet], Awaitable[float]]
    replicas: int = 1
    poison_share: float = 0.0
    replay: bool = False


SCENARIOS = [
    Scenario("baseline", "no fault (the reference run)", no_fault),
    Scenario("kafka-sigkill", "Kafka broker SIGKILLed mid-stream, restarted after 3 s",
             kill_infra("kafka", 3)),
    Scenario("database-down-10s", "database SIGKILLed mid-stream, restarted after 10 s",
             kill_infra("mongo", 10)),
    *[
        Scenario(f"{svc}-sigkill", f"the {svc} service SIGKILLed mid-batch, restarted after 2 s",
                 kill_service(svc))
        for svc in SERVICES
    ],
    Scenario("rebalance", "two replicas of each service; one SIGKILLed and restarted",
             rebalance, replicas=2),
    Scenario("replay-from-0", "after the run: every consumer group rewound to offset 0",
             no_fault, replay=True),
    Scenario("poison-1pct", "1 % poison messages among the observations", no_fault,
             poison_share=0.01),
]  # fmt: skip


async def run_scenario(
    scenario: Scenario, profile: stack.Profile, sandbox: str, n: int
) -> dict[str, Any]:
    prefix = f"chaos{time.strftime('%H%M%S')}{n:02d}_"
    fleet = Fleet(profile, prefix, sandbox, replicas=scenario.replicas)
    bootstrap = profile.kafka_bootstrap
    db = mongo.connect(profile.mongodb_uri, app_name="chaos")
    sender = Sender(bootstrap)
    console.rule(f"{scenario.name}: {scenario.what}")
    try:
        async with httpx.AsyncClient() as http:
            await http.post(f"{sandbox}/_reset")
        fleet.start_all()
        await fleet.ready()
        model = await setup(fleet, db, poison_share=scenario.poison_share)
        console.print(
            f"  sending {len(model.observations):,} observations (+{len(model.poison)} poison) "
            f"at {RATE:g}/s; {len(model.posts)} posts due over 20 s"
        )

        async def fault() -> float:
            await asyncio.sleep(FAULT_AT_S)
            return await scenario.fault(fleet)

        sending = asyncio.create_task(stream(fleet, model, sender))
        lifted = await fault()
        streamed_s = await sending
        console.print(f"  sent in {streamed_s:.1f} s ({sender.retries} sends retried)")
        state, done = await settle(fleet, db, model, bootstrap)
        recovery = done - lifted
        replay: dict[str, Any] = {}
        if scenario.replay and state.complete:
            fleet.stop_all()
            rewound = await reset_groups(bootstrap, prefix)
            console.print(f"  services stopped; {rewound} consumer groups rewound to offset 0")
            fleet.start_all()
            restarted = time.monotonic()
            await fleet.ready()
            state, done = await settle(fleet, db, model, bootstrap)
            recovery = done - restarted
            replay = {"groups_rewound": rewound}
        row = total(state.tallies)
        ok = (
            row.lost == 0
            and row.duplicates == 0
            and row.unexpected == 0
            and state.budgets_spent_ok
            and state.dead_letters == len(model.poison)
        )
        console.print(
            f"  {'[green]ok[/]' if ok else '[red]FAILED[/]'}: "
            f"stored {row.stored:,}/{row.expected:,}, "
            f"duplicates {row.duplicates}, lost {row.lost}, dead-lettered {state.dead_letters}, "
            f"recovered in {recovery:.1f} s"
        )
        return {
            "scenario": scenario.name,
            "what": scenario.what,
            "ok": ok,
            "sent": row.expected,
            "stored": row.stored,
            "duplicates": row.duplicates,
            "lost": row.lost,
            "unexpected": row.unexpected,
            "dead_lettered": state.dead_letters,
            "poison_sent": len(model.poison),
            "recovery_s": round(recovery, 1),
            "effects": {k: t.as_dict() for k, t in state.tallies.items()},
            "budgets_spent_match": state.budgets_spent_ok,
            "platform_repeats_deduped": state.platform_repeats,
            "sends_retried": sender.retries,
            "stream_s": round(streamed_s, 1),
            **replay,
        }
    finally:
        await sender.close()
        fleet.stop_all()
        for name in ("calendar", "metrics", "budget", "audit", "tenancy"):
            with contextlib.suppress(PyMongoError):
                await db.drop_database(fleet.database(name))
        await db.close()


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="make chaos: effects sent vs found at the end, per scenario")
    for col in (
        "scenario",
        "sent",
        "stored",
        "duplicates",
        "lost",
        "dead-lettered",
        "recovery s",
        "",
    ):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for r in rows:
        table.add_row(
            r["scenario"], f"{r['sent']:,}", f"{r['stored']:,}", str(r["duplicates"]),
            str(r["lost"]), f"{r['dead_lettered']} of {r['poison_sent']} poison",
            f"{r['recovery_s']:.1f}", "[green]ok[/]" if r["ok"] else "[red]FAILED[/]",
        )  # fmt: skip
    console.print(table)


async def run(names: list[str], profile: stack.Profile) -> list[dict[str, Any]]:
    chosen = [s for s in SCENARIOS if not names or s.name in names]
    rows = []
    for n, scenario in enumerate(chosen):
        try:
            rows.append(await run_scenario(scenario, profile, stack.sandbox_url(profile), n))
        except RuntimeError as e:
            console.print(f"  [red]{scenario.name} could not run:[/] {e}")
            rows.append({"scenario": scenario.name, "what": scenario.what, "ok": False,
                         "error": str(e), "sent": 0, "stored": 0, "duplicates": 0, "lost": 0,
                         "dead_lettered": 0, "poison_sent": 0, "recovery_s": 0.0})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", help="names to run (default: all)")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    unknown = set(args.scenarios) - {s.name for s in SCENARIOS}
    if unknown:
        p.error(f"unknown scenario(s) {sorted(unknown)}; known: {[s.name for s in SCENARIOS]}")
    profile = chaos_profile()
    started = time.perf_counter()
    # the harness's producer retries through broker restarts itself: no log line per retry
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    for name in ("sandbox", "kafka", "mongo"):  # a fresh stack: no topics of earlier runs
        stack._stop(profile, name)
    shutil.rmtree(profile.data_dir, ignore_errors=True)
    try:
        stack.start_mongo(profile)
        stack.start_kafka(profile)
        stack.start_sandbox(profile)
        rows = asyncio.run(run(args.scenarios, profile))
    except stack.StackError as e:
        console.print(f"[red]chaos failed to start the stack:[/] {e}")
        return 1
    finally:
        for name in ("sandbox", "kafka", "mongo"):
            stack._stop(profile, name)
    print_table(rows)
    write_results(args.output, {"scenarios": rows, "run": run_info(started),
                                "ok": all(r["ok"] for r in rows)})  # fmt: skip
    console.print(f"wrote {args.output}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
