"""`make bench-ingest`: sustained end-to-end ingestion throughput of the metrics service,
against two baselines measured in the same run on the same broker and database.

1. raw floor: aiokafka `getmany` + `insert_many` of the same payloads, no validation
   (`bench.consumers raw`, its own process);
2. naive: a FastStream subscriber validating one message and `insert_one`-ing it
   (`bench.consumers naive`, its own process, measured on a subset);
3. pipeline: the real metrics service (`python -m services.metrics`, its own process):
   from the first publish until the last observation is stored, then one HTTP query;
4. latency at half and at a tenth of the load: publish at that rate, p99 publish -> queryable
   from the service's `socialops_ingest_publish_latency_seconds` histogram (or, if the service
   has no such histogram, by polling for sampled observations);
5. peak RSS (VmHWM) of the service process.

Prints a table and writes `bench/results/ingest.json`. Exits 0 even when a target is missed
(it is a measurement); exits 1 only when the run itself failed. Uses its own stack profile
(`.local/bench`, Kafka 49092, database 47818) so it never touches `make up` or the tests; set
KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI to run against external servers instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import measure, service
from bench.consumers import RAW_MAX_RECORDS
from bench.payloads import Message, Workload
from bench.report import console, print_table, summarize, write_results
from deploy.local import stack
from services.metrics.repository import shard_of
from services.metrics.settings import MetricsSettings
from shared import auth, mongo, topics
from shared.auth import AgencyDirectory

RESULTS = stack.REPO / "bench" / "results" / "ingest.json"
PARTITIONS = 4  # as the services create their topics (SOCIALOPS_TOPIC_PARTITIONS default)
LOG_TAIL = 15


class BenchError(RuntimeError):
    """The run could not measure (a process did not start, nothing got stored...)."""


def bench_profile() -> stack.Profile:
    base = Path(os.environ.get("SOCIALOPS_HOME", stack.REPO / ".local"))
    return stack.Profile(
        "bench",
        base / "bench",
        kafka_port=int(os.environ.get("SOCIALOPS_BENCH_KAFKA_PORT", "49092")),
        mongo_port=int(os.environ.get("SOCIALOPS_BENCH_MONGO_PORT", "47818")),
    )


@dataclass
class Bench:
    """One run: its names (unique per run), connections and what it measured."""

    args: argparse.Namespace
    profile: stack.Profile
    run_id: str = field(default_factory=lambda: time.strftime("%H%M%S") + secrets.token_hex(2))
    results: dict[str, Any] = field(default_factory=dict)
    client: AsyncMongoClient[dict[str, Any]] | None = None
    started: float = field(default_factory=time.perf_counter)

    def mark(self, step: str) -> None:
        """Note when a step ended (seconds since the start): where a run's time goes."""
        timeline = self.results.setdefault("timeline_s", {})
        timeline[step] = round(time.perf_counter() - self.started, 1)

    @property
    def prefix(self) -> str:
        return f"bench{self.run_id}."

    @property
    def databases(self) -> dict[str, str]:
        return {
            "baselines": f"bench_{self.run_id}",
            "metrics": f"bench_{self.run_id}_metrics",
            "tenancy": f"bench_{self.run_id}_tenancy",
        }

    def db(self, name: str) -> Any:
        assert self.client is not None
        return self.client[self.databases[name]]

    # ------------------------------------------------------------------ plumbing

    async def create_topic(self, name: str) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.profile.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
        finally:
            await admin.close()

    async def delete_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.profile.kafka_bootstrap)
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> int:
        stack._stop(self.profile, name)  # a leftover of an interrupted run
        return stack._spawn(self.profile, name, cmd, env)

    def log_tail(self, name: str) -> str:
        log = self.profile.log_dir / f"{name}.log"
        lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL:] if log.exists() else []
        return f"log {log}:\n" + "\n".join(lines)

    def progress(self) -> Progress:
        return Progress(
            TextColumn("  {task.description:<34}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console,
        )  # fmt: skip

    def cpu_meter(self, consumer: int) -> measure.CpuMeter:
        """Cores used by the database, Kafka, the consumer under test and this process."""
        return measure.CpuMeter({
            "database": stack.running_pid(self.profile, "mongo"),
            "kafka": stack.running_pid(self.profile, "kafka"),
            "consumer": consumer,
            "bench": os.getpid(),
        })  # fmt: skip

    def check_alive(self, pid: int, name: str) -> None:
        if not stack._alive(pid):
            raise BenchError(f"{name} exited\n{self.log_tail(name)}")

    async def measure_ingest(
        self,
        label: str,
        topic: str,
        store: measure.Store,
        messages: list[Message],
        *,
        warmup: Message,
        pid: int,
        name: str,
        time_box: float,
        on_time_box: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Warm the consumer up (one message stored: group joined, partitions assigned), then
        time from the first publish until every message is queryable (`measure.timed_ingest`).
        The documents are counted once afterwards, untimed, to verify that all were stored."""
        prod = measure.producer(self.profile.kafka_bootstrap)
        await prod.start()
        try:
            await prod.send_and_wait(topic, warmup.value, key=warmup.key)
            if await measure.wait_visible(store, [warmup.event_id], limit_s=90) is None:
                self.check_alive(pid, name)
                raise BenchError(f"{name}: the warm-up message was not stored within 90 s\n"
                                 f"{self.log_tail(name)}")  # fmt: skip
            meter = self.cpu_meter(pid)
            with self.progress() as progress:
                task = progress.add_task(label, total=len(messages))
                timed = await measure.timed_ingest(
                    prod, topic, store, messages, time_box=time_box,
                    on_progress=lambda n: progress.update(task, completed=n),
                    check=lambda: self.check_alive(pid, name),
                )  # fmt: skip
            cpu = meter.read()
            if not timed.complete and on_time_box:
                on_time_box()  # stop consuming, then count what got stored
        finally:
            await prod.stop()
        counted = time.perf_counter()
        stored = await store.stored(expected=1 + len(messages)) - 1  # no warm-up
        counted = time.perf_counter() - counted
        done = max(1, min(stored, len(messages)))
        return {
            "messages": len(messages),
            "stored": stored,
            "complete": stored >= len(messages),
            "seconds": round(timed.seconds, 3),
            "eps": round(min(stored, len(messages)) / timed.seconds, 1),
            "producer_eps": round(timed.published.eps, 1),
            "producer_seconds": round(timed.published.seconds, 3),
            "verify_count_s": round(counted, 1),
            "cpu_cores": cpu,
            "cpu_ms_per_observation": {
                k: round(cpu[k] * timed.seconds / done * 1000, 3)
                for k in ("database", "consumer")
                if k in cpu
            },
        }

    # ------------------------------------------------------------------ phases

    async def baseline(self, kind: str, messages: list[Message], warmup: Message) -> dict[str, Any]:
        topic = f"{self.prefix}bench.{kind}.v1"
        await self.create_topic(topic)
        name = f"bench-{kind}"
        pid = self.spawn(name, [
            sys.executable, "-m", "bench.consumers", kind,
            "--bootstrap", self.profile.kafka_bootstrap, "--topic", topic,
            "--mongodb-uri", self.profile.mongodb_uri, "--database", self.databases["baselines"],
            "--collection", kind, "--group", f"{self.prefix}{kind}",
        ])  # fmt: skip
        try:
            time_box = self.args.naive_seconds if kind == "naive" else self.args.timeout
            label = f"{kind}: stored" + (" (time-boxed)" if kind == "naive" else "")
            return await self.measure_ingest(
                label, topic, measure.Documents(self.db("baselines")[kind]), messages,
                warmup=warmup, pid=pid,
                name=name, time_box=time_box, on_time_box=lambda: stack._stop(self.profile, name),
            )  # fmt: skip
        finally:
            stack._stop(self.profile, name)

    async def start_service(self) -> tuple[int, str]:
        port = measure.free_port()
        env = service.env(self.profile, port=port, prefix=self.prefix, databases=self.databases)
        pid = self.spawn("metrics", [sys.executable, "-m", "services.metrics"], env)
        base = f"http://127.0.0.1:{port}"
        if not await service.wait_ready(base, lambda: stack._alive(pid)):
            raise BenchError(
                f"the metrics service did not become ready\n{self.log_tail('metrics')}"
            )
        return pid, base

    async def half_load(
        self, pid: int, base: str, workload: Workload, rate: float
    ) -> dict[str, Any]:
        """Publish at `rate` for a while; p99 publish -> stored from the service's histogram
        (bucket deltas across the phase), else by polling for every 10th observation."""
        n = max(1, int(rate * self.args.half_load_seconds))
        messages = workload.take(n)
        observations = measure.Observations(self.db("metrics"), workload.tenant_id)
        observations.expect(messages)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            before = await service.latency_histogram(http)
            source = self.args.latency_source
            if source == "auto":
                source = "histogram" if before is not None else "poll"
            if source == "histogram" and before is None:
                raise BenchError(f"the service exposes no {service.LATENCY_HISTOGRAM} histogram")
            sent: dict[str, float] = {}
            latencies: list[float] = []
            done = asyncio.Event()
            if source == "poll":
                poller = asyncio.create_task(
                    measure.poll_visible(observations, sent, latencies, done=done)
                )
            prod = measure.producer(self.profile.kafka_bootstrap)
            await prod.start()
            meter = self.cpu_meter(pid)
            try:
                with self.progress() as progress:
                    task = progress.add_task(f"half load: {rate:,.0f}/s sent", total=n)
                    published = await measure.publish_paced(
                        prod, self.prefix + topics.ANALYTICS_OBSERVATIONS, messages, rate=rate,
                        sample_every=10 if source == "poll" else 0, send_times=sent,
                        on_sent=lambda i: progress.update(task, completed=i),
                    )  # fmt: skip
            finally:
                await prod.stop()
            all_stored = await measure.wait_visible(observations, published.last_ids, limit_s=120)
            done.set()
            result: dict[str, Any] = {
                "target_rate_eps": round(rate, 1),
                "messages": n,
                "achieved_rate_eps": round(published.eps, 1),
                "seconds": round(published.seconds, 3),
                "all_stored": all_stored is not None,
                "latency_source": source,
                "cpu_cores": meter.read(),
            }
            if source == "histogram":
                delta = await service.histogram_gained(http, before, n)
                return result | measure.latency_from_histogram(delta)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(poller, timeout=60)
        return result | measure.latency_from_samples(latencies)

    async def run(self) -> None:
        args = self.args
        self.client = mongo.connect(self.profile.mongodb_uri, app_name="bench")
        directory = AgencyDirectory(self.db("tenancy"))
        await mongo.ensure_indexes(directory.db, auth.INDEXES)
        agency, api_key = await directory.create_agency(f"Bench Agency {self.run_id}")

        console.rule(
            f"[bold]Building {args.observations:,} observations for {args.clients:,} clients"
        )
        t = time.perf_counter()
        workload = Workload(agency.tenant_id, clients=args.clients)
        messages = workload.take(args.observations)
        warmups = Workload(agency.tenant_id, clients=1, seed=1).take(3)
        for i, w in enumerate(warmups):  # its own client: never one of the measured series
            tenant_id, _, day = w.bucket
            client_id = w.key.decode().split(":", 1)[1].replace("client-", "warmup-")
            warmups[i] = Message(w.key.replace(b"client-", b"warmup-"),
                                 w.value.replace(b"client-", b"warmup-"), w.event_id,
                                 (tenant_id, shard_of(client_id), day))  # fmt: skip
        size = sum(len(m.value) for m in messages)
        console.print(f"  built in {time.perf_counter() - t:.1f}s: {size / 1e6:.1f} MB, "
                      f"{size / len(messages):.0f} bytes per message on average")  # fmt: skip
        self.results["payload"] = {
            "observations": len(messages),
            "clients": args.clients,
            "bytes_total": size,
            "bytes_avg": round(size / len(messages), 1),
            "paid_share": round(sum(b'"spend":{' in m.value for m in messages) / len(messages), 3),
        }

        console.rule("[bold]1/4 raw floor: aiokafka getmany + insert_many (own process)")
        self.mark("payloads built")
        raw = await self.baseline("raw", messages, warmups[0])
        self.mark("raw floor measured")
        self.results["raw_floor"] = raw | {"getmany_max_records": RAW_MAX_RECORDS}
        console.print(
            f"  raw floor: {raw['eps']:,.0f} obs/s ({raw['stored']:,} in {raw['seconds']:.1f}s)"
        )

        console.rule("[bold]2/4 naive: FastStream subscriber, validate + insert_one (own process)")
        naive = await self.baseline("naive", messages[: args.naive_messages], warmups[1])
        self.mark("naive measured")
        self.results["naive"] = naive
        console.print(f"  naive: {naive['eps']:,.0f} obs/s, measured on {naive['stored']:,} "
                      f"messages in {naive['seconds']:.1f}s")  # fmt: skip

        console.rule("[bold]3/4 pipeline: the metrics service (own process)")
        pid, base = await self.start_service()
        self.mark("metrics service ready")
        self.results["service"] = {
            "pid": pid,
            "batch_max_records": MetricsSettings().batch_max_records,
            "topic_partitions": PARTITIONS,
        }
        observations = measure.Observations(self.db("metrics"), agency.tenant_id)
        observations.expect([*messages, warmups[2]])

        pipe = await self.measure_ingest(
            "pipeline: stored", self.prefix + topics.ANALYTICS_OBSERVATIONS, observations,
            messages, warmup=warmups[2], pid=pid, name="metrics", time_box=args.timeout,
        )  # fmt: skip
        self.results["pipeline"] = pipe
        self.mark("pipeline measured")
        pipe["query"] = await service.query(base, api_key, workload.clients[0])
        self.mark("query answered")
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            text = (await http.get("/metrics")).text
        self.results["service"]["metrics_after_pipeline"] = service.figures(text)
        console.print(f"  pipeline: {pipe['eps']:,.0f} obs/s ({pipe['stored']:,} in "
                      f"{pipe['seconds']:.1f}s); then GET {pipe['query']['url']} -> "
                      f"{pipe['query']['status']} in {pipe['query']['ms']:.0f} ms")  # fmt: skip
        del messages  # free the payloads before the latency phase

        await self.latency_phases(pid, base, workload, pipe["eps"])

    async def latency_phases(self, pid: int, base: str, workload: Workload, eps: float) -> None:
        """p99 publish -> stored at half and at a tenth of the measured rate."""
        console.rule("[bold]4/4 latency at half and at a tenth of the measured rate")
        for key, share in (("half_load", 2), ("tenth_load", 10)):
            phase = await self.half_load(pid, base, workload, eps / share)
            self.mark(f"{key} measured")
            self.results[key] = phase
            rate, source = phase["achieved_rate_eps"], phase["latency_source"]
            console.print(
                f"  p99 publish -> stored: {phase['p99_ms']} ms at {rate:,.0f}/s ({source})"
            )
        self.results["service"]["peak_rss_mb"] = round(measure.peak_rss_mb(pid), 1)
        stack._stop(self.profile, "metrics")

    async def cleanup(self, *, drop: bool) -> None:
        """Stop this run's processes; with `drop`, drop its databases and delete its topics
        (not needed when the servers are stopped and their data deleted: much faster)."""
        for name in ("metrics", "bench-raw", "bench-naive"):
            stack._stop(self.profile, name)
        if self.client is not None:
            if drop:
                for db in self.databases.values():
                    with contextlib.suppress(Exception):
                        await self.client.drop_database(db)
            await self.client.close()
            self.client = None
        if drop:
            with contextlib.suppress(Exception):
                await self.delete_topics()


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--observations", type=int, default=200_000)
    p.add_argument("--clients", type=int, default=1_000)
    p.add_argument(
        "--naive-messages",
        type=int,
        default=10_000,
        help="the naive baseline is measured on (at most) this many messages",
    )
    p.add_argument("--naive-seconds", type=float, default=30.0, help="time box of the naive run")
    p.add_argument("--half-load-seconds", type=float, default=12.0)
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="give up waiting for a phase to store everything after this long",
    )
    p.add_argument("--latency-source", choices=("auto", "histogram", "poll"), default="auto")
    p.add_argument(
        "--keep-stack",
        action="store_true",
        help="leave Kafka and the database running (and their data) at the end",
    )
    p.add_argument("--output", type=Path, default=RESULTS)
    return p.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = bench_profile()
    # what this run starts it stops (and deletes its data); external servers are left alone
    ours = [name for name in ("kafka", "mongo") if not stack.running_pid(profile, name)]
    bench = Bench(args, profile)
    wipe = not args.keep_stack and not _external() and set(ours) == {"kafka", "mongo"}
    code = 0
    try:
        console.rule("[bold]SocialOps ingestion benchmark: starting Kafka and the database")
        stack.start_mongo(profile)
        stack.start_kafka(profile)
        asyncio.run(_run(bench, drop=not wipe))
    except (BenchError, stack.StackError) as e:
        console.print(f"[red]benchmark failed:[/] {e}")
        code = 1
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        code = 130
    finally:
        for name in ("metrics", "bench-raw", "bench-naive"):  # even if the loop died
            stack._stop(profile, name)
        if not args.keep_stack:
            stopped = [name for name in ours if stack._stop(profile, name)]
            for name in stopped:  # so every run starts empty
                shutil.rmtree(profile.data_dir / name, ignore_errors=True)
            if stopped:
                console.print(f"stopped the benchmark's {' and '.join(stopped)}")
        bench.mark("stack stopped")
    if code == 0:
        r = bench.results
        summary = summarize(r)
        print_table(summary, r)
        out = {
            **summary,
            "run": {
                "id": bench.run_id,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - bench.started, 1),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "kafka": profile.kafka_bootstrap,
                "mongodb": profile.mongodb_uri.split("@")[-1],
            },
            "producer_settings": measure.PRODUCER_SETTINGS,
            **r,
        }
        write_results(args.output, out)
        console.print(f"wrote {args.output}")
    return code


def _external() -> bool:
    return bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("MONGODB_URI"))


async def _run(bench: Bench, *, drop: bool) -> None:
    bench.mark("stack ready")
    try:
        await bench.run()
    finally:
        await bench.cleanup(drop=drop)
        bench.mark("cleaned up")


if __name__ == "__main__":
    sys.exit(main())
