"""Measuring instruments of the benchmarks: pipelined and paced publishing, waiting until a
store holds N observations, Prometheus histogram quantiles, peak RSS of a process tree."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from bench.payloads import Message
from services.metrics.repository import BucketKey, MetricsRepository

PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 10,
    "max_batch_size": 256 * 1024,
}


def producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)


@dataclass
class Published:
    """What one publish run did: how many, when the first send and the last ack happened, and
    the event id of the last message of each partition (consumed last, so stored last)."""

    count: int
    first_send: float
    last_ack: float
    last_ids: list[str] = field(default_factory=list)

    @property
    def eps(self) -> float:
        return self.count / max(self.last_ack - self.first_send, 1e-9)

    @property
    def seconds(self) -> float:
        return self.last_ack - self.first_send


def _last_per_partition(messages: Sequence[Message], metadata: Sequence[Any]) -> list[str]:
    last: dict[int, tuple[int, str]] = {}
    for m, md in zip(messages, metadata, strict=True):
        if md.offset >= last.get(md.partition, (-1, ""))[0]:
            last[md.partition] = (md.offset, m.event_id)
    return [event_id for _, event_id in last.values()]


async def publish_all(prod: AIOKafkaProducer, topic: str, messages: Sequence[Message]) -> Published:
    """Pipelined: hand every message to the producer at once, then wait for all acks."""
    first = time.perf_counter()
    pending = []
    for i, m in enumerate(messages):
        pending.append(await prod.send(topic, m.value, key=m.key))
        if i % 2000 == 1999:
            await asyncio.sleep(0)  # let the pollers of the same loop run
    metadata = await asyncio.gather(*pending)
    return Published(
        len(messages), first, time.perf_counter(), _last_per_partition(messages, metadata)
    )


async def publish_paced(
    prod: AIOKafkaProducer,
    topic: str,
    messages: Sequence[Message],
    *,
    rate: float,
    sample_every: int = 0,
    send_times: dict[str, float] | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> Published:
    """Publish at `rate` messages/s (ticks of 5 ms); with `sample_every`, note the send time of
    every n-th message by event id in `send_times` as it goes (for a latency measured by
    polling)."""
    first = time.perf_counter()
    pending = []
    send_times = {} if send_times is None else send_times
    i = 0
    while i < len(messages):
        due = min(len(messages), int((time.perf_counter() - first) * rate) + 1)
        while i < due:
            m = messages[i]
            pending.append(await prod.send(topic, m.value, key=m.key))
            if sample_every and i % sample_every == 0:
                send_times[m.event_id] = time.perf_counter()
            i += 1
        if on_sent:
            on_sent(i)
        await asyncio.sleep(0.005)
    metadata = await asyncio.gather(*pending)
    return Published(
        len(messages), first, time.perf_counter(), _last_per_partition(messages, metadata)
    )


class Documents:
    """A baseline consumer's collection: one document per message, `_id` = its event id."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    async def visible(self, ids: Sequence[str]) -> set[str]:
        """Which of these `_id`s a query finds (an index lookup each: cheap, unlike a count)."""
        if not ids:
            return set()
        cursor = self.collection.find({"_id": {"$in": list(ids)}}, {"_id": 1})
        return {d["_id"] async for d in cursor}

    async def stored(self, *, expected: int) -> int:
        """How many documents the collection holds: the cheap estimate when it says
        `expected`, else an exact count (a count scans every document here: seconds)."""
        estimate = int(await self.collection.estimated_document_count())
        return estimate if estimate == expected else int(await self.collection.count_documents({}))


class Observations:
    """The metrics service's storage, read the way the service reads it: by (tenant, client,
    day) bucket through its index (see services/metrics/repository.py)."""

    def __init__(self, db: Any, tenant_id: str) -> None:
        self.repo = MetricsRepository(db)
        self.tenant_id = tenant_id
        self.buckets: dict[str, BucketKey] = {}

    def expect(self, messages: Iterable[Message]) -> Observations:
        self.buckets |= {m.event_id: m.bucket for m in messages}
        return self

    async def visible(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        stored = await self.repo.stored_ids({self.buckets[i] for i in ids})
        return {i for i in ids if i in stored[self.buckets[i]]}

    async def stored(self, *, expected: int) -> int:  # same shape as Documents
        return await self.repo.count(self.tenant_id)


Store = Documents | Observations


async def wait_visible(
    store: Store,
    ids: Sequence[str],
    *,
    limit_s: float,
    interval: float = 0.1,
) -> float | None:
    """Poll until every id is found; the perf_counter time after the query that found the
    last of them, or None after `limit_s` seconds."""
    deadline = time.perf_counter() + limit_s
    missing = set(ids)
    while True:
        missing -= await store.visible(sorted(missing))
        now = time.perf_counter()
        if not missing:
            return now
        if now >= deadline:
            return None
        await asyncio.sleep(interval)


@dataclass(frozen=True)
class Timed:
    published: Published
    seconds: float
    complete: bool


async def timed_ingest(
    prod: AIOKafkaProducer,
    topic: str,
    store: Store,
    messages: Sequence[Message],
    *,
    time_box: float,
    on_progress: Callable[[int], None],
    check: Callable[[], None],
) -> Timed:
    """Publish every message (pipelined) and time from the first send until the last message
    of every partition is queryable: a partition is consumed in order, so all are stored.

    Found by `_id` lookups (four, every 0.1 s; progress marks once a second): counting the
    documents costs this database seconds per poll and would slow down what is measured."""
    step = max(1, len(messages) // 50)
    marks = [m.event_id for m in messages[step - 1 :: step]]
    started = last_look = time.perf_counter()
    publishing = asyncio.create_task(publish_all(prod, topic, messages))
    found_marks = 0
    missing: set[str] | None = None
    try:
        while True:
            now = time.perf_counter()
            if now - last_look >= 1.0 and marks:
                seen = await store.visible(marks)
                marks = [m for m in marks if m not in seen]
                found_marks += len(seen)
                on_progress(found_marks * step)
                last_look = now
            if missing is None and publishing.done():
                missing = set(publishing.result().last_ids)
            if missing is not None:
                missing -= await store.visible(sorted(missing))
                if not missing:
                    ended = time.perf_counter()
                    on_progress(len(messages))
                    return Timed(await publishing, ended - started, complete=True)
            if now - started >= time_box:
                return Timed(await publishing, now - started, complete=False)
            check()
            await asyncio.sleep(0.1)
    finally:
        if not publishing.done():
            publishing.cancel()


async def poll_visible(
    store: Store,
    sent: dict[str, float],
    latencies: list[float],
    *,
    done: asyncio.Event,
    interval: float = 0.05,
) -> None:
    """Append to `latencies` the seconds from send to first seen by a query, for the sampled
    ids in `sent` (filled while publishing), until `done` and every id was seen. Conservative:
    taken after the query that first returned an id."""
    seen: set[str] = set()
    while True:
        finished = done.is_set()
        waiting = [i for i in list(sent) if i not in seen]
        for i in await store.visible(waiting):
            seen.add(i)
            latencies.append(time.perf_counter() - sent[i])
        if finished and len(seen) == len(sent):
            return
        await asyncio.sleep(interval)


def histogram(text: str, name: str) -> dict[float, float] | None:
    """Cumulative bucket counts (le -> count) of a histogram, summed over its label sets;
    None when the exposition has no such histogram."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name or family.type != "histogram":
            continue
        for s in family.samples:
            if s.name == name + "_bucket":
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
    return buckets or None


def histogram_delta(
    before: dict[float, float] | None, after: dict[float, float]
) -> dict[float, float]:
    return {le: n - (before or {}).get(le, 0.0) for le, n in after.items()}


def quantile(q: float, buckets: dict[float, float]) -> tuple[float | None, bool]:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding the
    q-th observation. Returns (value in s, exact); exact is False when it fell into +Inf
    (then the value is the largest finite bound, a lower bound)."""
    les = sorted(buckets)
    total = buckets[les[-1]] if les else 0.0
    if total <= 0:
        return None, False
    rank = q * total
    lower, below = 0.0, 0.0
    for le in les:
        if buckets[le] >= rank:
            if math.isinf(le):
                return lower, False
            inside = buckets[le] - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 1.0), True
        lower, below = le, buckets[le]
    return lower, False


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of raw samples."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def latency_from_histogram(delta: dict[float, float]) -> dict[str, Any]:
    """p50/p99 of the observations a histogram gained during a phase."""
    p99, exact = quantile(0.99, delta)
    p50, _ = quantile(0.50, delta)
    return {
        "p99_ms": _ms(p99),
        "p99_exact": exact,
        "p50_ms": _ms(p50),
        "observations_in_histogram": delta.get(float("inf"), 0.0),
        "buckets_delta": {str(le): n for le, n in sorted(delta.items())},
    }


def latency_from_samples(latencies: Sequence[float]) -> dict[str, Any]:
    """p50/p99/max of latencies measured by polling."""
    return {
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "p99_exact": bool(latencies),
        "p50_ms": _ms(percentile(latencies, 0.50)),
        "max_ms": _ms(max(latencies) if latencies else None),
        "samples": len(latencies),
    }


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


class CpuMeter:
    """Cores used during a phase by each named process, and by everything else on the machine
    (other jobs skew a benchmark on 2 cores: the report says how much)."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.started = time.perf_counter()
        self.busy = _machine_busy_seconds()
        self.cpu = {name: _cpu_seconds(pid) for name, pid in self.pids.items()}

    def read(self) -> dict[str, float]:
        """Average cores used since the meter started: per process, `other`, `machine`."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        used = {n: (_cpu_seconds(p) - self.cpu[n]) / elapsed for n, p in self.pids.items()}
        machine = (_machine_busy_seconds() - self.busy) / elapsed
        other = max(0.0, machine - sum(used.values()))
        return {k: round(v, 2) for k, v in (used | {"other": other, "machine": machine}).items()}


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            out += [int(child), *_descendants(int(child))]
    return out


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process plus its descendants, in MB."""
    total_kb = 0
    for p in (pid, *_descendants(pid)):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
