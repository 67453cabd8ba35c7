"""`make bench-budget`: the budget service's ledger and alert latency (issue 10), in process
against a real Kafka broker and database (the test profile's, or KAFKA_BOOTSTRAP_SERVERS /
MONGODB_URI).

- `ledger_eps`: spend lines booked per second from MetricsIngested (events of up to 500 lines,
  as metrics publishes them), exactly once: every event is then replayed and nothing changes.
- `naive_eps`: the same kind of booking done one transaction per line (idempotency record,
  ledger entry, budget update), the baseline, measured in the same run.
- `alert_p99_ms`: a MetricsIngested whose spend crosses a budget's 100 % published -> the
  BudgetThresholdCrossed read from Kafka (several budgets, p50/p99).
Prints the figures, writes bench/results/budget.json. Small by default (the machine is shared):
--lines, --naive-lines, --alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.report import write_results
from deploy.local import stack
from services.budget.app import create_app
from services.budget.settings import BudgetSettings
from shared import mongo, topics
from shared.auth import AgencyDirectory
from shared.events import ClientRegistered, MetricsIngested

RESULTS = Path(__file__).resolve().parent / "results" / "budget.json"
LINES_PER_EVENT = 500


def _event(tenant: str, client_id: str, start: int, n: int, amount: str) -> MetricsIngested:
    now = datetime.now(UTC).isoformat()
    return MetricsIngested.new(
        producer="bench", tenant_id=tenant, observations=n,
        spend=[{"observation_id": f"obs-{start + i}", "client_id": client_id,
                "platform": "instagram", "amount": amount, "currency": "EUR",
                "observed_at": now} for i in range(n)],
    )  # fmt: skip


async def _naive(db: Any, client: Any, tenant: str, lines: int) -> float:
    """One transaction per spend line: the idempotency record, the entry, the budget."""
    await db["budgets"].insert_one({"_id": "bu-naive", "spent": Decimal(0)})
    t0 = time.perf_counter()
    for i in range(lines):

        async def effect(session: Any, i: int = i) -> None:
            await db["ledger"].insert_one(
                {"_id": f"bu-naive:obs-{i}", "amount": Decimal("0.01")}, session=session
            )
            await db["budgets"].update_one(
                {"_id": "bu-naive"}, {"$inc": {"spent": Decimal("0.01")}}, session=session
            )

        await mongo.run_once(
            client, db, consumer="naive", tenant_id=tenant, event_id=f"line-{i}", effect=effect
        )
    return lines / (time.perf_counter() - t0)


async def main(args: argparse.Namespace) -> dict[str, Any]:  # noqa: PLR0915 (one script)
    profile = stack.profile("test")
    stack.up(profile, with_services=False)
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    settings = BudgetSettings(
        kafka_bootstrap_servers=profile.kafka_bootstrap, mongodb_uri=profile.mongodb_uri,
        topic_prefix=prefix, database=f"{prefix}budget", tenancy_database=f"{prefix}tenancy",
        topic_partitions=2, log_level="WARNING",
    )  # fmt: skip
    app = create_app(settings)
    client = mongo.connect(profile.mongodb_uri, app_name="bench")
    producer = AIOKafkaProducer(bootstrap_servers=profile.kafka_bootstrap, acks="all")
    await producer.start()
    out: dict[str, Any] = {}
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http,
        ):
            agency, key = await AgencyDirectory(client[f"{prefix}tenancy"]).create_agency("bench")
            tenant, headers = agency.tenant_id, {"X-API-Key": key}

            async def send(event: MetricsIngested | ClientRegistered, topic: str) -> None:
                await producer.send_and_wait(
                    prefix + topic, event.model_dump_json().encode(), key=event.partition_key()
                )

            async def new_budget(limit: str) -> str:
                client_id = f"cl-{uuid.uuid4().hex[:8]}"
                await send(
                    ClientRegistered.new(producer="bench", tenant_id=tenant, client_id=client_id,
                                         name=client_id), topics.CLIENTS)  # fmt: skip
                body = {"client_id": client_id, "name": "bench", "period_start": "2026-01-01",
                        "period_end": "2026-12-31", "thresholds_pct": [100],
                        "limit": {"amount": limit, "currency": "EUR"}}  # fmt: skip
                for _ in range(200):
                    r = await http.post("/budgets", json=body, headers=headers)
                    if r.status_code == 201:
                        return str(r.json()["budget_id"])
                    await asyncio.sleep(0.05)
                raise RuntimeError(f"budget not created: {r.text}")

            async def spent(budget_id: str) -> Decimal:
                r = await http.get(f"/budgets/{budget_id}", headers=headers)
                return Decimal(r.json()["spent"]["amount"])

            # ledger throughput, exactly once
            bid = await new_budget("1000000.00")
            cl = (await http.get(f"/budgets/{bid}", headers=headers)).json()["client_id"]
            events = [
                _event(tenant, cl, s, min(LINES_PER_EVENT, args.lines - s), "0.01")
                for s in range(0, args.lines, LINES_PER_EVENT)
            ]
            expected = Decimal("0.01") * args.lines
            t0 = time.perf_counter()
            for e in events:
                await send(e, topics.METRICS_INGESTED)
            while await spent(bid) < expected:  # noqa: ASYNC110 (polling HTTP)
                await asyncio.sleep(0.02)
            out["ledger_eps"] = round(args.lines / (time.perf_counter() - t0), 1)
            for e in events:  # replay every event: nothing is booked twice
                await send(e, topics.METRICS_INGESTED)
            # a last new line behind the replays (same partition: keyed by tenant) is booked
            # once they were all consumed; then the total is exactly one booking per line
            await send(_event(tenant, cl, args.lines, 1, "0.01"), topics.METRICS_INGESTED)
            while await spent(bid) < expected + Decimal("0.01"):  # noqa: ASYNC110 (polling HTTP)
                await asyncio.sleep(0.05)
            out["exactly_once"] = await spent(bid) == expected + Decimal("0.01")
            out["lines"] = args.lines

            # naive baseline: one transaction per line, same database server
            naive_db = client[f"{prefix}naive"]
            out["naive_eps"] = round(await _naive(naive_db, client, tenant, args.naive_lines), 1)
            out["ratio_vs_naive"] = round(out["ledger_eps"] / out["naive_eps"], 1)

            # alert latency: spend crossing 100 % published -> BudgetThresholdCrossed on Kafka
            consumer = AIOKafkaConsumer(
                prefix + topics.BUDGET_THRESHOLDS, bootstrap_servers=profile.kafka_bootstrap,
                auto_offset_reset="latest", enable_auto_commit=False, group_id=None,
            )  # fmt: skip
            await consumer.start()
            try:
                while not consumer.assignment():  # noqa: ASYNC110 (aiokafka has no event)
                    await asyncio.sleep(0.05)
                await consumer.seek_to_end()
                latencies = []
                for n in range(args.alerts):
                    b = await new_budget("10.00")
                    c = (await http.get(f"/budgets/{b}", headers=headers)).json()["client_id"]
                    e = _event(tenant, c, 10_000_000 + n, 1, "10.00")
                    t0 = time.perf_counter()
                    await send(e, topics.METRICS_INGESTED)
                    while True:
                        got = await consumer.getone()
                        if json.loads(got.value)["budget_id"] == b:
                            break
                    latencies.append((time.perf_counter() - t0) * 1000)
            finally:
                await consumer.stop()
            latencies.sort()
            out["alert_p50_ms"] = round(statistics.median(latencies), 1)
            out["alert_p99_ms"] = round(latencies[min(len(latencies) - 1,
                                                      int(len(latencies) * 0.99))], 1)  # fmt: skip
            out["alerts"] = args.alerts
    finally:
        await producer.stop()
        for name in (f"{prefix}budget", f"{prefix}tenancy", f"{prefix}naive"):
            with contextlib.suppress(Exception):
                await client.drop_database(name)
        await client.close()
    out["targets"] = {"ratio_vs_naive": ">= 10", "alert_p99_ms": "<= 1000"}
    out["met"] = out["ratio_vs_naive"] >= 10 and out["alert_p99_ms"] <= 1000 and out["exactly_once"]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--naive-lines", type=int, default=300)
    parser.add_argument("--alerts", type=int, default=30)
    result = asyncio.run(main(parser.parse_args()))
    write_results(RESULTS, result)
    for k, v in result.items():
        print(f"{k:>16}: {v}")
    print(f"written to {RESULTS}")
