"""`make bench-audit`: an audit of 12 months x 6 platforms, for 10 and for 1,000 competitors
(issue 11), through the running audit service (`python -m services.audit`, its own process).

Two clients of one agency, each with one own account per platform (6) and N competitors on
each of the 6 platforms, 24 months of data (the audited year and the year before it, for the
trend): a follower reading on the 1st and the 28th of each month and 4 posts a month per
account (3 content types), each post with one lifetime reading.

- The 10-competitor client's 15,000 observations are published to Kafka and folded by the
  service's own consumer (`fold_observations_per_s`: the read model kept up to date by events).
- The 1,000-competitor client's ~1.2 million observations are folded by the same code
  (`services.audit.readmodel.fold.Fold`) in this process and its documents bulk-inserted
  (pushing them through Kafka would take the 2 shared cores most of an hour); the audit then
  reads them exactly as it reads the others.

`audit_ms` is the median of 5 `GET /clients/{id}/audit` for a whole year (one year summary per
account and the one before, for the trend); the same audit is also run in this process from
the summaries and from the month buckets only (the baseline), and both answers compared.
Prints a table, writes `bench/results/audit.json`. Uses the benchmark stack profile and stops
what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench import measure, service
from bench.ingest import bench_profile
from bench.report import ceiling_rows, console, print_figures, run_info, write_results
from deploy.local import stack
from services.audit.accounts.models import Account
from services.audit.analysis.audit import run_audit
from services.audit.analysis.period import Period
from services.audit.readmodel.fold import Fold
from services.audit.readmodel.repository import ReadModel, is_year
from shared import mongo, topics
from shared.auth import AgencyDirectory
from shared.events import AnalyticsObserved, ClientRegistered
from shared.known_clients import KnownClients

RESULTS = stack.REPO / "bench" / "results" / "audit.json"
PORT = 18114
PLATFORMS = ("instagram", "facebook", "x", "linkedin", "tiktok", "youtube")
TYPES = ("photo", "video", "carousel")
MONTHS = [(2025 + (m // 12), m % 12 + 1) for m in range(24)]  # 2025-01 .. 2026-12
POSTS_PER_MONTH = 4
TARGETS = {"audit_ms_10_competitors": 2000, "audit_ms_1000_competitors": 10000}


def account_events(
    tenant: str, client: str, platform_name: str, account: str, owned: bool, seed: int
) -> list[AnalyticsObserved]:
    """24 months of one account's observations (deterministic from the seed)."""
    out = []
    followers = 1000 + seed % 5000
    for i, (year, month) in enumerate(MONTHS):
        for day in (1, 28):
            followers += (seed * 7 + i * 13 + day) % 90
            out.append(
                _obs(
                    tenant,
                    client,
                    platform_name,
                    account,
                    owned,
                    entity_level="account" if owned else "competitor_account",
                    entity_id=account,
                    observed_at=datetime(year, month, day, 9, tzinfo=UTC),
                    metrics=[{"name": "followers", "value": followers}],
                )
            )
        for n in range(POSTS_PER_MONTH):
            likes = (seed * 31 + i * 17 + n * 7) % 400
            out.append(
                _obs(
                    tenant,
                    client,
                    platform_name,
                    account,
                    owned,
                    entity_level="post",
                    entity_id=f"{account}-{i}-{n}",
                    content_type=TYPES[(seed + n) % 3],
                    observed_at=datetime(year, month, 2 + n * 7, 12, tzinfo=UTC),
                    metrics=[
                        {"name": "likes", "value": likes},
                        {"name": "comments", "value": likes // 10},
                    ],
                )
            )
    return out


def _obs(tenant: str, client: str, platform_name: str, account: str, owned: bool, **kw: Any) -> Any:
    return AnalyticsObserved.new(
        producer="bench",
        tenant_id=tenant,
        client_id=client,
        platform=platform_name,
        account_id=account,
        owned=owned,
        source={"api": "bench", "kind": "backfill"},
        **kw,
    )


def accounts(competitors: int) -> list[tuple[str, str, bool]]:
    out = [(p, f"own-{p}", True) for p in PLATFORMS]
    out += [(p, f"rival{c:04d}-{p}", False) for c in range(competitors) for p in PLATFORMS]
    return out


async def register(http: httpx.AsyncClient, client: str, competitors: int) -> None:
    rows = [
        {"platform": p, "account_id": a, "owned": owned, "name": a.split("-")[0]}
        for p, a, owned in accounts(competitors)
    ]
    for i in range(0, len(rows), 5000):
        r = await http.put(
            f"/clients/{client}/audit/accounts", json={"accounts": rows[i : i + 5000]}
        )
        r.raise_for_status()


async def fold_direct(db: Any, tenant: str, client: str, competitors: int) -> dict[str, Any]:
    """Fold every account's observations with the service's code and bulk-insert the result."""
    started = time.perf_counter()
    count = 0
    docs: dict[str, list[dict[str, Any]]] = {
        "audit_posts": [],
        "audit_buckets": [],
        "audit_years": [],
    }

    async def flush() -> None:
        for name, batch in docs.items():
            if batch:
                await db[name].insert_many(batch, ordered=False)
            batch.clear()

    for seed, (p, a, owned) in enumerate(accounts(competitors)):
        fold = Fold()
        for e in account_events(tenant, client, p, a, owned, seed):
            fold.apply(e)
            count += 1
        docs["audit_posts"].extend(fold.posts.values())
        for key, doc in fold.buckets_by_key.items():
            docs["audit_years" if is_year(key) else "audit_buckets"].append(doc)
        if sum(len(b) for b in docs.values()) > 20000:
            await flush()
    await flush()
    return {"observations": count, "seconds": round(time.perf_counter() - started, 1)}


async def fold_by_events(
    profile: stack.Profile, db: Any, prefix: str, tenant: str, client: str, competitors: int
) -> dict[str, Any]:
    """Publish the client's observations to Kafka; time until the service folded them all."""
    events = [
        e
        for seed, (p, a, owned) in enumerate(accounts(competitors))
        for e in account_events(tenant, client, p, a, owned, seed)
    ]
    producer = measure.producer(profile.kafka_bootstrap)
    await producer.start()
    started = time.perf_counter()
    try:
        sends = [
            await producer.send(
                prefix + topics.ANALYTICS_OBSERVATIONS,
                e.model_dump_json().encode(),
                key=e.partition_key(),
            )
            for e in events
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    while await db["audit_observations_seen"].count_documents({}) < len(events):
        if time.perf_counter() - started > 900:
            raise RuntimeError("the audit did not fold the published observations in 15 min")
        await asyncio.sleep(0.5)
    seconds = time.perf_counter() - started
    return {
        "observations": len(events),
        "seconds": round(seconds, 1),
        "per_s": round(len(events) / seconds),
    }


async def timed_audits(http: httpx.AsyncClient, client: str, runs: int = 5) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = await http.get(
            f"/clients/{client}/audit", params={"start": "2026-01-01", "end": "2026-12-31"}
        )
        r.raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
        assert len(r.json()["platforms"]) == 6
    return out


async def baseline(
    db: Any, tenant: str, client: str, competitors: int, runs: int
) -> dict[str, Any]:
    """The same year's audit in this process, read from the year summaries and (the baseline:
    the read path before them) from the month buckets only, back to back; and whether both
    gave the same audit."""
    reads = ReadModel(db)
    scope = [
        Account(client_id=client, platform=p, account_id=a, owned=owned, name=a.split("-")[0],
                groups=())
        for p, a, owned in accounts(competitors)
    ]  # fmt: skip
    period = Period(start=date(2026, 1, 1), end=date(2026, 12, 31))
    out: dict[str, Any] = {"summaries_ms": [], "months_only_ms": []}
    answers = {}
    for _ in range(runs):
        for summaries, name in ((True, "summaries_ms"), (False, "months_only_ms")):
            t = time.perf_counter()
            audit = await run_audit(
                reads=reads, tenant_id=tenant, client={"client_id": client, "name": client},
                accounts=scope, group=None, period=period, summaries=summaries,
            )  # fmt: skip
            out[name].append(round((time.perf_counter() - t) * 1000, 1))
            answers[summaries] = audit.model_dump_json()
    out["same_audit"] = answers[True] == answers[False]
    return out


async def run(args: argparse.Namespace, profile: stack.Profile, *, drop: bool) -> dict[str, Any]:
    run_id = time.strftime("%H%M%S") + secrets.token_hex(2)
    prefix = f"bench{run_id}."
    databases = {"audit": f"bench_{run_id}_audit", "tenancy": f"bench_{run_id}_tenancy"}
    client: AsyncMongoClient[dict[str, Any]] = mongo.connect(profile.mongodb_uri, app_name="bench")
    directory = AgencyDirectory(client[databases["tenancy"]])
    agency, key = await directory.create_agency("Bench agency")
    tenant = agency.tenant_id
    db = client[databases["audit"]]
    known = KnownClients(db)
    for cid in ("small", "large"):  # the calendar's ClientRegistered, as the service records it
        await known.record(
            ClientRegistered.new(
                producer="bench", tenant_id=tenant, client_id=cid, name=f"Bench {cid}"
            )
        )
    env = {
        **stack.service_env(profile),
        "SOCIALOPS_TOPIC_PREFIX": prefix,
        "SOCIALOPS_TENANCY_DATABASE": databases["tenancy"],
        "SOCIALOPS_LOG_LEVEL": "WARNING",
        "AUDIT_PORT": str(PORT),
        "AUDIT_DATABASE": databases["audit"],
        "AUDIT_RATE_LIMIT_PER_S": "100000",
        "AUDIT_RATE_LIMIT_BURST": "100000",
    }
    pid = stack._spawn(profile, "audit", [sys.executable, "-m", "services.audit"], env)
    base = f"http://127.0.0.1:{PORT}"
    try:
        if not await service.wait_ready(base, lambda: stack._alive(pid)):
            raise RuntimeError("the audit service did not get ready")
        async with httpx.AsyncClient(
            base_url=base, timeout=120, headers={"X-API-Key": key}
        ) as http:
            await register(http, "small", args.small)
            await register(http, "large", args.large)
            console.rule(f"{args.small} competitors through Kafka")
            by_events = await fold_by_events(profile, db, prefix, tenant, "small", args.small)
            console.rule(f"{args.large:,} competitors folded in process, bulk-inserted")
            direct = await fold_direct(db, tenant, "large", args.large)
            console.rule("measuring")
            small = await timed_audits(http, "small")
            large = await timed_audits(http, "large")
            console.rule("in process: year summaries against months only (the baseline)")
            base = {
                "10": await baseline(db, tenant, "small", args.small, runs=3),
                "1000": await baseline(db, tenant, "large", args.large, runs=1),
            }
        return {
            "audit_ms_10_competitors": round(statistics.median(small), 1),
            "audit_ms_1000_competitors": round(statistics.median(large), 1),
            "audit_runs_ms": {
                "10": [round(x, 1) for x in small],
                "1000": [round(x, 1) for x in large],
            },
            "in_process": base,
            "fold_observations_per_s": by_events["per_s"],
            "folded_by_events": by_events,
            "folded_in_process": direct,
            "competitors": {"small": args.small, "large": args.large},
        }
    finally:
        stack._stop(profile, "audit")
        if drop:
            for name in databases.values():
                await client.drop_database(name)
        await client.close()


def print_table(r: dict[str, Any]) -> None:
    e, d = r["folded_by_events"], r["folded_in_process"]
    print_figures(
        "audit: 12 months x 6 platforms (and the 12 months before, for the trend)",
        [
            *ceiling_rows(r, TARGETS),
            (
                "fold_observations_per_s (Kafka -> read model)",
                f"{e['per_s']:,}",
                f"{e['observations']:,} in {e['seconds']} s",
                None,
            ),
            *(
                (
                    f"in process, {n} competitors: summaries / months only (baseline)",
                    f"{statistics.median(b['summaries_ms']):,.0f} ms",
                    f"{statistics.median(b['months_only_ms']):,.0f} ms, same audit: "
                    f"{b['same_audit']}",
                    None,
                )
                for n, b in r["in_process"].items()
            ),
            (
                "folded in process + bulk insert",
                f"{d['observations']:,}",
                f"{d['seconds']} s",
                None,
            ),
        ],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", type=int, default=10, help="competitors of the first client")
    p.add_argument("--large", type=int, default=1000, help="competitors of the second client")
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
        **results,
        "audit_ms": {
            "10": results["audit_ms_10_competitors"],
            "1000": results["audit_ms_1000_competitors"],
        },
        "targets": TARGETS,
        "met": {k: results[k] <= v for k, v in TARGETS.items()},
        "run": run_info(started),
    }
    write_results(args.output, out)
    console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
