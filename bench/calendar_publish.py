"""`make bench-calendar` (publishing part, issue 9): due posts to the sandbox platform with
`--stored` posts in the database (default 1,000,000: scheduled months ahead or published).

Runs the calendar service (`python -m services.calendar`, its own process) and the sandbox
platform (its own process) on the benchmark stack profile, then measures:

- `due_lag_p99_ms`: posts due at `--rate` per second (default 200) for `--seconds`; the lag of
  each is (created on the sandbox) - (its due instant); p50/p99 over all;
- `top_of_hour_20k_s`: `--peak` posts (default 20,000) due at one instant: seconds from that
  instant until every one is `published` in the database;
- the same peak for a **naive baseline** in the same run, on the same database (the service
  stopped): poll every second, then for each due post one by one: a transaction moving it to
  publishing with its `PostDue`, the HTTP publish (through the service's own sandbox
  connector), a transaction recording it published with its `PostPublished`.
  `ratio_vs_naive` = naive / ours.

Each phase also reports where the service's dispatcher spent its time (the calendar's
`socialops_calendar_dispatch_seconds` per stage: scan, claim, request, record) and, for the
steady phase, the lag split into due -> claimed and claimed -> on the sandbox.

Adds a `publishing` section (and the three headline figures) to `bench/results/calendar.json`
(written by bench/calendar_views.py first) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import ASCENDING, AsyncMongoClient

from bench import service
from bench.ingest import bench_profile
from bench.report import console, print_figures, run_info, write_results
from deploy.local import stack
from services.calendar.publishing import lifecycle
from services.calendar.publishing.connectors.sandbox import SandboxConnector
from services.calendar.publishing.repository import INDEXES as DUE_INDEXES
from services.calendar.repository import INDEXES as POST_INDEXES
from services.calendar.settings import CalendarSettings
from shared import mongo, outbox, topics
from shared.auth import AgencyDirectory

RESULTS = stack.REPO / "bench" / "results" / "calendar.json"
PORT = 18112
PLATFORMS = ("instagram", "facebook", "linkedin", "tiktok", "x")
TARGETS = {"due_lag_p99_ms": 1000, "ratio_vs_naive": 10}


def post(tenant_id: str, i: int, at: datetime, *, status: str = "scheduled") -> dict[str, Any]:
    """A post as the calendar stores it (500 clients, five platforms)."""
    post_id = f"po-{i:09d}"
    doc = {
        "_id": post_id,
        "post_id": post_id,
        "tenant_id": tenant_id,
        "client_id": f"cl-{i % 500:04d}",
        "platform": PLATFORMS[i % len(PLATFORMS)],
        "scheduled_at": at,
        "local_time": at.isoformat(),
        "timezone": "UTC",
        "content_type": "post",
        "pillar": "Recipes",
        "caption": f"Fresh bread, batch {i}",
        "paid": False,
        "budget_id": None,
        "status": status,
        "created_at": at,
        "version": 1,
    }
    if status == "published":
        doc |= {"platform_post_id": f"old-{i}", "published_at": at, "attempts": 1}
    return doc


async def insert(db: Any, docs: list[dict[str, Any]], chunk: int = 5000) -> None:
    for start in range(0, len(docs), chunk):
        await db.posts.insert_many(docs[start : start + chunk], ordered=False)


async def store(db: Any, tenant_id: str, count: int, first: int) -> float:
    """`count` posts that are not due: two thirds scheduled 1-12 months ahead, a third
    published last month."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    for start in range(0, count, 20_000):
        docs = []
        for i in range(start, min(count, start + 20_000)):
            if i % 3 == 2:
                docs.append(post(tenant_id, first + i, now - timedelta(days=1 + i % 30),
                                 status="published"))  # fmt: skip
            else:
                docs.append(post(tenant_id, first + i, now + timedelta(days=30 + i % 330)))
        await insert(db, docs)
        console.print(f"  stored {min(count, start + 20_000):,} / {count:,}", end="\r")
    console.print()
    return round(time.perf_counter() - started, 1)


async def sandbox_posts(http: httpx.AsyncClient, base: str) -> dict[str, float]:
    data: dict[str, float] = (await http.get(f"{base}/_posts")).json()
    return data


async def wait_published(
    db: Any, http: httpx.AsyncClient, base: str, docs: list[dict[str, Any]], limit_s: float
) -> bool:
    """Until all of `docs` are published in the database. Waits on the sandbox first (its own
    process) and counts in the database only once the sandbox has every post: counting them
    every 0.2 s from the start took ~60 ms of the database each time at 2,000 posts (it
    decodes every match), a third of the database's time while it was being measured (the
    naive baseline is not measured that way)."""
    deadline = time.monotonic() + limit_s
    keys = {d["_id"] for d in docs}
    while time.monotonic() < deadline:
        if len(keys & (await sandbox_posts(http, base)).keys()) >= len(keys):
            break
        await asyncio.sleep(0.2)
    query = {"_id": {"$gte": min(keys), "$lte": max(keys)}, "status": "published"}
    while time.monotonic() < deadline:
        if await db.posts.count_documents(query) >= len(keys):
            return True
        await asyncio.sleep(0.2)
    return False


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def steady(db: Any, http: httpx.AsyncClient, tenant_id: str, args: argparse.Namespace,
                 first: int) -> dict[str, Any]:  # fmt: skip
    """Posts due at `rate` a second for `seconds`, written ahead; lag due -> on the sandbox."""
    count = args.rate * args.seconds
    t0 = datetime.now(UTC) + timedelta(seconds=5)
    docs = [post(tenant_id, first + i, t0 + timedelta(seconds=i / args.rate)) for i in range(count)]
    await insert(db, docs)
    ok = await wait_published(db, http, args.sandbox_url, docs, args.seconds + 120)
    created = await sandbox_posts(http, args.sandbox_url)
    lags = [
        (created[d["_id"]] - d["scheduled_at"].timestamp()) * 1000
        for d in docs
        if d["_id"] in created
    ]
    # where the lag is spent: due -> claimed (the claim's `due_at`), claimed -> on the sandbox
    claimed = {
        d["_id"]: d["due_at"].timestamp()
        async for d in db.posts.find({"_id": {"$gte": docs[0]["_id"], "$lte": docs[-1]["_id"]}},
                                     {"due_at": 1})
        if d.get("due_at")
    }  # fmt: skip
    to_claim = [(claimed[d["_id"]] - d["scheduled_at"].timestamp()) * 1000
                for d in docs if d["_id"] in claimed]  # fmt: skip
    to_sandbox = [(created[i] - at) * 1000 for i, at in claimed.items() if i in created]
    return {
        "posts": count,
        "rate_per_s": args.rate,
        "all_published": ok,
        "due_lag_p50_ms": round(pct(lags, 0.50), 1),
        "due_lag_p99_ms": round(pct(lags, 0.99), 1),
        "due_lag_max_ms": round(max(lags), 1),
        "due_to_claimed_p50_p99_ms": [round(pct(to_claim, q), 1) for q in (0.5, 0.99)],
        "claimed_to_sandbox_p50_p99_ms": [round(pct(to_sandbox, q), 1) for q in (0.5, 0.99)],
    }


async def peak(
    db: Any, http: httpx.AsyncClient, sandbox_url: str, tenant_id: str, count: int, first: int
) -> dict[str, Any]:
    """`count` posts due at one instant (written ahead); seconds until all are published."""
    at = datetime.now(UTC) + timedelta(seconds=5)
    docs = [post(tenant_id, first + i, at) for i in range(count)]
    await insert(db, docs)
    ok = await wait_published(db, http, sandbox_url, docs, 1800)
    return {"posts": count, "all_published": ok,
            "seconds": round((datetime.now(UTC) - at).total_seconds(), 2)}  # fmt: skip


class Naive:
    """The baseline: poll every second, publish due posts one by one (same lifecycle writes)."""

    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], db: Any, prefix: str, sandbox_url: str
    ) -> None:
        self.sandbox_url = sandbox_url
        self.client = client
        self.db = db
        self.outbox = outbox.Outbox(db, None, service="calendar")  # type: ignore[arg-type]
        self.topic = prefix + topics.POST_LIFECYCLE

    async def run(self, count: int, first: int, limit_s: float) -> float:
        """Publishes through the service's own connector (the same HTTP client and request)."""
        at = datetime.now(UTC) + timedelta(seconds=5)
        await insert(self.db, [post("naive", first + i, at) for i in range(count)])
        done = 0
        started = time.monotonic()
        async with aiohttp.ClientSession() as http:
            token = CalendarSettings.model_fields["publish_sandbox_token"].default
            sandbox = SandboxConnector(http, base_url=self.sandbox_url, token=token)
            while done < count and time.monotonic() - started < limit_s:
                done += await self._round(sandbox)
        return round((datetime.now(UTC) - at).total_seconds(), 2)

    async def _round(self, sandbox: SandboxConnector) -> int:
        """One poll, then every post it found, one by one."""
        done = 0
        await asyncio.sleep(1.0)
        due = self.db.posts.find(
            {"status": "scheduled", "scheduled_at": {"$lte": datetime.now(UTC)}}
        )
        async for doc in due.sort("scheduled_at", ASCENDING):
            async with mongo.transaction(self.client) as s:
                await self.db.posts.update_one(
                    {"_id": doc["_id"], "status": "scheduled"},
                    {"$set": {"status": "publishing"}, "$inc": {"attempts": 1}}, session=s,
                )  # fmt: skip
                await self.outbox.stage(s, self.topic, lifecycle.due(doc))
            result = await sandbox.publish(lifecycle.publication(doc))
            now = datetime.now(UTC)
            async with mongo.transaction(self.client) as s:
                await self.db.posts.update_one(
                    {"_id": doc["_id"], "status": "publishing"},
                    {"$set": {"status": "published", "published_at": now,
                              "platform_post_id": result.platform_post_id}}, session=s,
                )  # fmt: skip
                await self.outbox.stage(
                    s, self.topic, lifecycle.published(doc | {"attempts": 1}, result, at=now)
                )
            done += 1
        return done


async def stage_totals(http: httpx.AsyncClient) -> dict[str, tuple[float, float]]:
    """The calendar service's `socialops_calendar_dispatch_seconds` (sum, count) per stage."""
    text = (await http.get(f"http://127.0.0.1:{PORT}/metrics")).text
    totals: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "socialops_calendar_dispatch_seconds":
            continue
        for sample in family.samples:
            at = 0 if sample.name.endswith("_sum") else 1 if sample.name.endswith("_count") else -1
            if at >= 0:
                totals.setdefault(sample.labels["stage"], [0.0, 0.0])[at] = sample.value
    return {stage: (v[0], v[1]) for stage, v in totals.items()}


def stage_means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, str]:
    """Per stage between two readings: how many, and the mean in ms."""
    means = {}
    for stage, (total, count) in sorted(after.items()):
        total0, count0 = before.get(stage, (0.0, 0.0))
        if count > count0:
            means[stage] = (
                f"{count - count0:.0f} x {1000 * (total - total0) / (count - count0):.1f} ms"
            )
    return means


async def with_stages(
    http: httpx.AsyncClient, phase: Coroutine[Any, Any, dict[str, Any]]
) -> dict[str, Any]:
    """A phase's figures, with the dispatcher's stages while it ran."""
    before = await stage_totals(http)
    figures = await phase
    figures["stages"] = stage_means(before, await stage_totals(http))
    return figures


async def run(args: argparse.Namespace, profile: stack.Profile, *, drop: bool) -> dict[str, Any]:
    run_id = time.strftime("%H%M%S") + secrets.token_hex(2)
    databases = {"calendar": f"benchpub_{run_id}_calendar", "tenancy": f"benchpub_{run_id}_tenancy"}
    prefix = f"benchpub{run_id}."
    client: AsyncMongoClient[dict[str, Any]] = mongo.connect(profile.mongodb_uri, app_name="bench")
    db = client[databases["calendar"]]
    agency, _ = await AgencyDirectory(client[databases["tenancy"]]).create_agency("Bench")
    stack.start_sandbox(profile)
    sandbox_url = stack.sandbox_url(profile)
    env = {
        **stack.service_env(profile),
        "SOCIALOPS_TOPIC_PREFIX": prefix,
        "SOCIALOPS_TENANCY_DATABASE": databases["tenancy"],
        "SOCIALOPS_LOG_LEVEL": "WARNING",
        "CALENDAR_PORT": str(PORT),
        "CALENDAR_DATABASE": databases["calendar"],
        "CALENDAR_PUBLISH_SANDBOX_URL": sandbox_url,
    }
    args.sandbox_url = sandbox_url
    results: dict[str, Any] = {"stored": args.stored}
    try:
        # the posts' indexes first, as a running service has had them since its first post:
        # built at start-up over 1,000,000 stored posts, they kept the service from getting
        # ready within 900 s (2026-11-29)
        await mongo.ensure_indexes(db, {"posts": [*POST_INDEXES["posts"], *DUE_INDEXES["posts"]]})
        console.rule(f"storing {args.stored:,} posts")
        results["storing_s"] = await store(db, agency.tenant_id, args.stored, 0)
        pid = stack._spawn(profile, "calendar", [sys.executable, "-m", "services.calendar"], env)
        ready = await service.wait_ready(
            f"http://127.0.0.1:{PORT}", lambda: stack._alive(pid), limit_s=900
        )
        if not ready:
            raise RuntimeError("the calendar service did not get ready")
        async with httpx.AsyncClient(timeout=30) as http:
            console.rule(f"steady: {args.rate}/s for {args.seconds} s")
            results["steady"] = await with_stages(
                http, steady(db, http, agency.tenant_id, args, 10**8)
            )
            console.print(results["steady"])
            console.rule(f"top of the hour: {args.peak:,} posts at one instant")
            results["peak"] = await with_stages(
                http, peak(db, http, sandbox_url, agency.tenant_id, args.peak, 2 * 10**8)
            )
            console.print(results["peak"])
            stack._stop(profile, "calendar")
            console.rule(f"naive baseline: {args.naive_peak:,} posts at one instant")
            naive = Naive(client, db, prefix, sandbox_url)
            seconds = await naive.run(args.naive_peak, 3 * 10**8, args.naive_limit_s)
            published = await db.posts.count_documents(
                {"tenant_id": "naive", "status": "published"}
            )
            results["naive"] = {"posts": args.naive_peak, "published": published,
                                "seconds": seconds}  # fmt: skip
            console.print(results["naive"])
    finally:
        stack._stop(profile, "calendar")
        stack._stop(profile, "sandbox")
        if drop:
            for name in databases.values():
                await client.drop_database(name)
        await client.close()
    ours = results["peak"]["seconds"] / results["peak"]["posts"]
    theirs = results["naive"]["seconds"] / max(1, results["naive"]["published"])
    results["due_lag_p99_ms"] = results["steady"]["due_lag_p99_ms"]
    results["top_of_hour_20k_s"] = round(ours * 20_000, 2)
    results["naive_top_of_hour_20k_s"] = round(theirs * 20_000, 2)
    results["naive_extrapolated"] = results["naive"]["published"] < 20_000
    results["ratio_vs_naive"] = round(theirs / ours, 1)
    return results


def print_table(r: dict[str, Any]) -> None:
    lag, ratio, peak, naive = r["due_lag_p99_ms"], r["ratio_vs_naive"], r["peak"], r["naive"]
    note = " (extrapolated to 20,000)" if r["naive_extrapolated"] else ""
    print_figures(
        f"publishing with {r['stored']:,} posts stored",
        [
            ("due_lag_p50_ms", f"{r['steady']['due_lag_p50_ms']:,}", "", None),
            ("due_lag_p99_ms", f"{lag:,}", "<= 1000", lag <= TARGETS["due_lag_p99_ms"]),
            ("top_of_hour_20k_s", f"{r['top_of_hour_20k_s']:,}", "", None),
            ("naive_top_of_hour_20k_s", f"{r['naive_top_of_hour_20k_s']:,}", "", None),
            ("ratio_vs_naive", f"{ratio:,}", ">= 10", ratio >= TARGETS["ratio_vs_naive"]),
            ("peak measured", f"{peak['posts']:,} posts in {peak['seconds']} s", "", None),
            ("naive measured",
             f"{naive['published']:,} posts in {naive['seconds']} s{note}", "", None),
        ],
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stored", type=int, default=1_000_000, help="posts in the database")
    p.add_argument("--rate", type=int, default=200, help="posts due per second (steady)")
    p.add_argument("--seconds", type=int, default=30, help="length of the steady phase")
    p.add_argument("--peak", type=int, default=20_000, help="posts due at one instant")
    p.add_argument("--naive-peak", type=int, default=20_000, help="the naive baseline's peak")
    p.add_argument("--naive-limit-s", type=float, default=900, help="stop the naive run after")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    profile = bench_profile()
    ours = [name for name in ("kafka", "mongo") if not stack.running_pid(profile, name)]
    started = time.perf_counter()
    try:
        stack.start_mongo(profile)
        stack.start_kafka(profile)
        external = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("MONGODB_URI"))
        results = asyncio.run(run(args, profile, drop=external or "mongo" not in ours))
    except (RuntimeError, stack.StackError) as e:
        console.print(f"[red]benchmark failed:[/] {e}")
        return 1
    finally:
        for name in ours:
            if stack._stop(profile, name):
                shutil.rmtree(profile.data_dir / name, ignore_errors=True)
    print_table(results)
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    headline = ("due_lag_p99_ms", "top_of_hour_20k_s", "naive_top_of_hour_20k_s", "ratio_vs_naive")
    out = {
        **previous,
        **{k: results[k] for k in headline},
        "publishing": {
            **results,
            "targets": TARGETS,
            "run": run_info(started),
        },
    }
    write_results(args.output, out)
    console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
