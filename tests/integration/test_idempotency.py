"""A replayed event (same event_id) has no second effect anywhere."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from shared import topics
from shared.events import BudgetThresholdCrossed, MetricsIngested
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_body, budget_knows, observation


async def test_replayed_metrics_ingested_books_spend_once(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    await budget_knows(platform, tenant, "cl-1")
    r = await platform.http["budget"].post(
        "/budgets", json=budget_body("cl-1", limit="50.00"), headers=headers
    )
    budget_id = r.json()["budget_id"]
    event = MetricsIngested.new(
        producer="tests", tenant_id=tenant, observations=1,
        totals=[{"client_id": "cl-1", "platform": "instagram", "observations": 1,
                 "metrics": {"likes": "7"}}],
        spend=[{"observation_id": "obs-1", "client_id": "cl-1", "platform": "instagram",
                "amount": "30.00", "currency": "EUR", "observed_at": "2026-06-01T10:00:00Z"}],
    )  # fmt: skip
    for _ in range(3):
        await platform.send(topics.METRICS_INGESTED, event)

    async def booked() -> dict | None:
        body = (await platform.http["budget"].get(f"/budgets/{budget_id}", headers=headers)).json()
        return body if body["spent"]["amount"] == "30.00" else None

    await eventually(booked)

    # let the replays reach both consumers, then check nothing was applied twice
    async def processed_all() -> bool:
        n = await platform.db("budget")["processed_events"].count_documents({})
        m = await platform.db("audit")["processed_events"].count_documents({})
        return n == 1 and m == 1

    await eventually(processed_all)
    await asyncio.sleep(0.5)
    body = (await platform.http["budget"].get(f"/budgets/{budget_id}", headers=headers)).json()
    assert body["spent"]["amount"] == "30.00"
    assert body["crossed_pct"] == [50]
    totals = await platform.db("audit")["platform_totals"].find_one({"client_id": "cl-1"})
    assert totals["observations"] == 1
    assert str(totals["metrics"]["likes"]) == "7"


async def test_replayed_observation_is_stored_and_billed_once(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    await budget_knows(platform, tenant, "cl-9")
    r = await platform.http["budget"].post("/budgets", json=budget_body("cl-9"), headers=headers)
    budget_id = r.json()["budget_id"]
    obs = observation(tenant, "cl-9", spend="12.34")
    for _ in range(3):
        await platform.send(topics.ANALYTICS_OBSERVATIONS, obs)
    marker = observation(tenant, "cl-9", spend="0.66")
    await platform.send(topics.ANALYTICS_OBSERVATIONS, marker)

    async def booked() -> bool:
        body = (await platform.http["budget"].get(f"/budgets/{budget_id}", headers=headers)).json()
        return body["spent"]["amount"] == "13.00"

    await eventually(booked)
    assert len(await platform.observations(tenant)) == 2
    assert await platform.db("budget")["ledger"].count_documents({}) == 2


async def test_replayed_threshold_event_pauses_once(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    r = await platform.http["calendar"].post("/clients", json={"name": "C"}, headers=headers)
    client_id = r.json()["client_id"]
    await platform.http["calendar"].post(
        f"/clients/{client_id}/posts",
        json={
            "platform": "x",
            "scheduled_at": "2026-12-24T18:00:00Z",
            "paid": True,
            "budget_id": "b1",
        },
        headers=headers,
    )
    event = BudgetThresholdCrossed.new(
        producer="tests", tenant_id=tenant, budget_id="b1", client_id=client_id, threshold_pct=100,
        spent={"amount": "10", "currency": "EUR"}, limit={"amount": "10", "currency": "EUR"},
        pause_paid_posts=True,
    )  # fmt: skip
    await platform.send(topics.BUDGET_THRESHOLDS, event)

    async def paused() -> bool:
        r = await platform.http["calendar"].get(f"/clients/{client_id}/posts", headers=headers)
        return r.json()[0]["status"] == "paused"

    await eventually(paused)
    # a post scheduled after the pause, then the same event again: the replay must not touch it
    r = await platform.http["calendar"].post(
        f"/clients/{client_id}/posts",
        json={
            "platform": "x",
            "scheduled_at": "2026-12-25T18:00:00Z",
            "paid": True,
            "budget_id": "b1",
        },
        headers=headers,
    )
    later = r.json()["post_id"]
    await platform.send(topics.BUDGET_THRESHOLDS, event)

    async def replay_seen() -> bool:
        # the consumer commits after processing; wait until it moved past the replay
        return await platform.db("calendar")["processed_events"].count_documents({}) == 1 and (
            await _lag_zero(platform)
        )

    await eventually(replay_seen)
    posts = (
        await platform.http["calendar"].get(f"/clients/{client_id}/posts", headers=headers)
    ).json()
    assert {p["post_id"]: p["status"] for p in posts}[later] == "scheduled"


async def _lag_zero(platform: Platform) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.infra.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(platform.prefix + "calendar")
    finally:
        await admin.close()
    topic = platform.topic(topics.BUDGET_THRESHOLDS)
    committed = sum(o.offset for tp, o in offsets.items() if tp.topic == topic)
    return committed == 2
