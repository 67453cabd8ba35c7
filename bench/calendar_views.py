"""`make bench-calendar`: calendar reads and generation at scale (issue 8).

Stores a year of slots for 1,000 clients of one agency (5 platforms, 20 slots a week each:
~1,040,000 slots, every other one filled with a post: ~520,000 posts), written straight into
the calendar's collections in the shape the service writes, then measures through the running
calendar service (`python -m services.calendar`, its own process) over HTTP:

- `month_view_p95_ms`: one client's month (`GET /clients/{id}/calendar/month`, one page);
- `agency_week_view_p95_ms`: a week across all the agency's clients, first page of 500;
- `warmup_ms`: the first month view after seeding, and the slowest of the 20 warm-up ones
  (not in the percentiles);
- `generate_12_months_ms`: `POST /clients/{id}/calendar/generate` of 12 months for a new
  client with 5 platforms (~1,050 slots written), the median over 5 new clients (and their
  max); then the last one's again 4 times (`regenerate_unchanged_ms`, median: every slot
  found unchanged, nothing rewritten).

Prints a table and writes `bench/results/calendar.json`. Uses the benchmark stack profile
(`.local/bench`, Kafka 49092, database 47818) and stops what it started; `--clients` scales it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench import measure, service
from bench.ingest import bench_profile
from bench.report import ceiling_rows, console, print_figures, run_info, write_results
from deploy.local import stack
from services.calendar.planning.generate import generate
from services.calendar.planning.models import new_slot_id
from services.calendar.planning.repository import WEEKS, week_documents
from services.calendar.strategy.models import Strategy, StrategyIn
from shared import mongo
from shared.auth import AgencyDirectory
from shared.envelope import derived_event_id

RESULTS = stack.REPO / "bench" / "results" / "calendar.json"
PORT = int(os.environ.get("SOCIALOPS_BENCH_CALENDAR_PORT", "18111"))
ZONE = "Europe/Berlin"
YEAR = 2027
TARGETS = {"month_view_p95_ms": 50, "agency_week_view_p95_ms": 100, "generate_12_months_ms": 500}
STRATEGY: dict[str, Any] = {
    "period": "year",
    "start": f"{YEAR}-01-01",
    "platforms": [
        {"platform": "instagram", "frequency": {"per_week": 5}},
        {"platform": "facebook", "frequency": {"per_week": 3, "times": ["10:00"]}},
        {"platform": "linkedin", "frequency": {"per_week": 3, "times": ["08:30"]}},
        {"platform": "tiktok", "frequency": {"per_week": 4, "times": ["18:00"]}},
        {"platform": "x", "frequency": {"per_week": 5, "times": ["12:15"]}},
    ],
    "pillars": [
        {"name": "Recipes", "share": 40},
        {"name": "Behind the scenes", "share": 30},
        {"name": "Offers", "share": 20},
        {"name": "Community", "share": 10},
    ],
    "content_types": [
        {"name": "visual", "share": 50},
        {"name": "video_how_to", "share": 30},
        {"name": "quiz_poll", "share": 20},
    ],
    "stages": [
        {"stage": "awareness", "share": 40},
        {"stage": "consideration", "share": 30},
        {"stage": "conversion", "share": 20},
        {"stage": "retention", "share": 10},
    ],
    "holidays": {"country": "DE", "subdivision": "BE"},
    "reactive_share": 10,
}


def template(tenant_id: str) -> list[dict[str, Any]]:
    """One client's year of slots as documents (client and ids replaced per client)."""
    spec = StrategyIn.model_validate(STRATEGY)
    strategy = Strategy(
        strategy_id="st-bench",
        tenant_id=tenant_id,
        client_id="cl-template",
        version=1,
        end=spec.end,
        spec=spec,
        created_at=datetime.now(UTC),
    )
    slots = generate(strategy, zone_name=ZONE, start=spec.start, end=spec.end)
    return [s.model_dump() for s in slots]


def documents(
    tenant_id: str, client_id: str, slots: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A client's slots, every other one filled with a scheduled post."""
    out_slots, posts = [], []
    now = datetime.now(UTC)
    for i, base in enumerate(slots):
        name = derived_event_id("bench", client_id, i)
        slot_id = new_slot_id(date.fromisoformat(base["local_date"]), name)
        doc = base | {"slot_id": slot_id, "client_id": client_id}
        if i % 2 == 0 and doc["status"] == "open":
            post_id = f"po-{client_id[3:]}-{i}"
            doc |= {"post_id": post_id, "status": "scheduled"}
            posts.append(
                {
                    "_id": post_id,
                    "post_id": post_id,
                    "tenant_id": tenant_id,
                    "client_id": client_id,
                    "platform": doc["platform"],
                    "scheduled_at": doc["at"],
                    "local_time": doc["local"],
                    "timezone": ZONE,
                    "content_type": doc["content_type"] or "post",
                    "pillar": doc["pillar"],
                    "caption": f"Post {i} of {client_id}",
                    "paid": False,
                    "budget_id": None,
                    "status": "scheduled",
                    "created_at": now,
                    "version": 1,
                    "slot_id": slot_id,
                    "strategy_id": "st-bench",
                    "stage": doc["stage"],
                }
            )
        out_slots.append(doc)
    return out_slots, posts


async def seed(db: Any, tenant_id: str, clients: int) -> dict[str, Any]:
    """Store the clients, their slots and posts; returns counts and seconds."""
    started = time.perf_counter()
    slots_template = template(tenant_id)
    client_ids = [f"cl-bench{n:05d}" for n in range(clients)]
    await db["clients"].insert_many(
        [
            {
                "_id": c,
                "client_id": c,
                "tenant_id": tenant_id,
                "name": f"Client {n:05d}",
                "timezone": ZONE,
                "created_at": datetime.now(UTC),
            }
            for n, c in enumerate(client_ids)
        ]
    )
    totals = {WEEKS: 0, "posts": 0}
    queue: asyncio.Queue[tuple[str, list[dict[str, Any]]] | None] = asyncio.Queue(maxsize=8)

    async def writer() -> None:
        while (item := await queue.get()) is not None:
            collection, docs = item
            await db[collection].insert_many(docs, ordered=False)
            totals[collection] += (
                len(docs) if collection == "posts" else sum(len(d["slots"]) for d in docs)
            )

    writers = [asyncio.create_task(writer()) for _ in range(3)]
    for n, client_id in enumerate(client_ids):
        slots, posts = documents(tenant_id, client_id, slots_template)
        await queue.put((WEEKS, week_documents(slots)))
        await queue.put(("posts", posts))
        if n % 100 == 99:
            console.print(f"  stored {n + 1} clients ({totals[WEEKS]:,} slots so far)")
    for _ in writers:
        await queue.put(None)
    await asyncio.gather(*writers)
    return {
        "slots": totals[WEEKS],
        "posts": totals["posts"],
        "clients": clients,
        "seconds": round(time.perf_counter() - started, 1),
        "slots_per_client": len(slots_template),
    }


async def timed(http: httpx.AsyncClient, method: str, url: str, **kw: Any) -> float:
    t = time.perf_counter()
    try:
        r = await http.request(method, url, **kw)
    except httpx.TimeoutException as e:  # name the request (a bare ReadTimeout was misread)
        raise RuntimeError(f"{method} {url} {kw.get('params', '')}: no answer in time") from e
    ms = (time.perf_counter() - t) * 1000
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {url}: {r.status_code} {r.text[:300]}")
    return ms


async def measure_views(
    http: httpx.AsyncClient, clients: int, rng: random.Random
) -> dict[str, Any]:
    months, weeks, warm = [], [], []
    for _ in range(20):  # warm-up: connections, caches, index pages
        warm.append(
            await timed(
                http,
                "GET",
                f"/clients/cl-bench{rng.randrange(clients):05d}/calendar/month",
                params={"date": f"{YEAR}-03-01", "limit": 500},
            )
        )
    for _ in range(200):
        month = rng.randint(1, 12)
        months.append(
            await timed(
                http,
                "GET",
                f"/clients/cl-bench{rng.randrange(clients):05d}/calendar/month",
                params={"date": f"{YEAR}-{month:02d}-01", "limit": 500},
            )
        )
    for _ in range(100):
        day = date(YEAR, 1, 4) + timedelta(weeks=rng.randint(0, 50))
        weeks.append(
            await timed(
                http, "GET", "/calendar/week", params={"date": day.isoformat(), "limit": 500}
            )
        )
    return {
        "month_view_p95_ms": round(measure.percentile(months, 0.95) or 0, 1),
        "month_view_p50_ms": round(statistics.median(months), 1),
        "agency_week_view_p95_ms": round(measure.percentile(weeks, 0.95) or 0, 1),
        "agency_week_view_p50_ms": round(statistics.median(weeks), 1),
        # the first request after seeding (a cold start shows here): not in the percentiles
        "warmup_ms": {"first": round(warm[0], 1), "max": round(max(warm), 1)},
    }


async def measure_generation(http: httpx.AsyncClient, clients: int = 5) -> dict[str, Any]:
    """12 months generated for `clients` new clients one after another (each run writes every
    slot: the figure is their median, one run alone varies 2x on a shared machine), then the
    last client's generation 4 more times (every slot found unchanged, nothing rewritten)."""
    firsts: list[float] = []
    for n in range(clients):
        r = await http.post("/clients", json={"name": f"Generated {n}", "timezone": ZONE})
        client_id = r.json()["client_id"]
        r = await http.post(f"/clients/{client_id}/strategies", json=STRATEGY)
        strategy_id = r.json()["strategy_id"]
        body = {"strategy_id": strategy_id, "start": f"{YEAR}-01-01", "end": f"{YEAR + 1}-01-01"}
        url = f"/clients/{client_id}/calendar/generate"
        firsts.append(await timed(http, "POST", url, json=body))
    again = [await timed(http, "POST", url, json=body) for _ in range(4)]
    return {
        "generate_12_months_ms": round(statistics.median(firsts), 1),
        "generate_12_months_max_ms": round(max(firsts), 1),
        "generate_first_runs_ms": [round(x, 1) for x in firsts],
        "regenerate_unchanged_ms": round(statistics.median(again), 1),
        "regenerate_runs_ms": [round(x, 1) for x in again],
    }


async def run(args: argparse.Namespace, profile: stack.Profile, *, drop: bool) -> dict[str, Any]:
    run_id = time.strftime("%H%M%S") + secrets.token_hex(2)
    databases = {"calendar": f"bench_{run_id}_calendar", "tenancy": f"bench_{run_id}_tenancy"}
    client: AsyncMongoClient[dict[str, Any]] = mongo.connect(profile.mongodb_uri, app_name="bench")
    directory = AgencyDirectory(client[databases["tenancy"]])
    agency, key = await directory.create_agency("Bench agency")
    env = {
        **stack.service_env(profile),
        "SOCIALOPS_TOPIC_PREFIX": f"bench{run_id}.",
        "SOCIALOPS_TENANCY_DATABASE": databases["tenancy"],
        "SOCIALOPS_LOG_LEVEL": "WARNING",
        "CALENDAR_PORT": str(PORT),
        "CALENDAR_DATABASE": databases["calendar"],
        # one client measures: the per-agency rate limit is not what is measured here
        "CALENDAR_RATE_LIMIT_PER_S": "100000",
        "CALENDAR_RATE_LIMIT_BURST": "100000",
    }
    pid = stack._spawn(profile, "calendar", [sys.executable, "-m", "services.calendar"], env)
    base = f"http://127.0.0.1:{PORT}"
    try:
        if not await service.wait_ready(base, lambda: stack._alive(pid)):
            raise RuntimeError("the calendar service did not get ready")
        console.rule(f"seeding {args.clients:,} clients")
        seeded = await seed(client[databases["calendar"]], agency.tenant_id, args.clients)
        # a service is measured in its steady state, not while the storage engine still writes
        # out the million documents just loaded: force that checkpoint first (its time is shown)
        flushed = time.perf_counter()
        await client.admin.command("fsync")
        seeded["checkpoint_seconds"] = round(time.perf_counter() - flushed, 1)
        console.rule("measuring")
        passes = []
        async with httpx.AsyncClient(base_url=base, timeout=60, headers={"X-API-Key": key}) as http:
            for n in range(args.repeat):
                if args.repeat > 1:
                    console.rule(f"pass {n + 1} of {args.repeat}")
                views = await measure_views(http, args.clients, random.Random(8 + n))  # noqa: S311 - sampling, not secrets
                passes.append({**views, **await measure_generation(http)})
        # the figures judged are each target's worst pass; every pass is kept
        worst = {k: max(p[k] for p in passes) for k in TARGETS}
        return {"seeded": seeded, **passes[-1], **worst, "passes": passes}
    finally:
        stack._stop(profile, "calendar")
        if drop:  # a stack this run started is deleted whole instead (dropping takes minutes)
            for db in databases.values():
                await client.drop_database(db)
        await client.close()


def print_table(r: dict[str, Any]) -> None:
    if len(r["passes"]) > 1:
        for n, one in enumerate(r["passes"], 1):
            print_figures(f"pass {n} of {len(r['passes'])}", ceiling_rows(one, TARGETS))
    print_figures(
        ("worst pass: " if len(r["passes"]) > 1 else "")
        + f"calendar at {r['seeded']['slots']:,} slots and "
        f"{r['seeded']['posts']:,} posts, {r['seeded']['clients']:,} clients",
        [*ceiling_rows(r, TARGETS), ("seeding", f"{r['seeded']['seconds']} s", "", None)],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure N times on the one seeded store (seeding 1M slots takes 10-25 min); "
        "the figures judged are each target's worst pass",
    )
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
    out = {
        **{k: results[k] for k in TARGETS},
        "targets": TARGETS,
        "met": {k: results[k] <= v for k, v in TARGETS.items()},
        "run": run_info(started),
        **results,
    }
    write_results(args.output, out)
    console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
