"""Issue 10: performance per euro and the review, from MetricsIngested replayed twice on the
real broker and database: spend and counts booked once, KPIs by DOMAIN.md's formulas worked
by hand, and a reallocation suggestion that follows from them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import topics
from shared.events import MetricsIngested
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_knows


def _line(obs: str, client_id: str, platform: str, amount: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {"observation_id": obs, "client_id": client_id, "platform": platform,
            "amount": amount, "currency": "EUR", "observed_at": now}  # fmt: skip


async def test_review_kpis_and_suggestion_follow_from_the_numbers(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    r = await platform.http["calendar"].post("/clients", json={"name": "Shop"}, headers=headers)
    client_id = r.json()["client_id"]
    await budget_knows(platform, tenant, client_id)
    http = platform.http["budget"]
    today = datetime.now(UTC).date()
    body = {"client_id": client_id, "name": "quarter", "limit": {"amount": "2000.00",
            "currency": "EUR"}, "period_start": (today - timedelta(days=45)).isoformat(),
            "period_end": (today + timedelta(days=45)).isoformat(), "allocations": [
            {"category": "paid_ads", "platform": "instagram",
             "amount": {"amount": "1000.00", "currency": "EUR"}},
            {"category": "paid_ads", "platform": "facebook",
             "amount": {"amount": "1000.00", "currency": "EUR"}}]}  # fmt: skip
    r = await http.post("/budgets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    bid = r.json()["budget_id"]

    event = MetricsIngested.new(
        producer="tests", tenant_id=tenant, observations=2,
        totals=[
            {"client_id": client_id, "platform": "instagram", "observations": 1,
             "metrics": {"leads": "50", "clicks": "400", "impressions": "20000", "likes": "90",
                         "comments": "10", "revenue": "450.00"}},
            {"client_id": client_id, "platform": "facebook", "observations": 1,
             "metrics": {"leads": "10", "clicks": "0", "impressions": "8000"}},
        ],
        spend=[_line("obs-ig", client_id, "instagram", "150.00"),
               _line("obs-fb", client_id, "facebook", "100.00")],
    )  # fmt: skip
    await platform.send(topics.METRICS_INGESTED, event)
    await platform.send(topics.METRICS_INGESTED, event)  # a replay: booked and counted once

    async def booked() -> dict[str, Any] | None:
        b = (await http.get(f"/budgets/{bid}", headers=headers)).json()
        return b if b["spent"]["amount"] == "250.00" else None

    budget = await eventually(booked)
    assert budget["allocation_spent"] == {"paid_ads:instagram": "150.00",
                                          "paid_ads:facebook": "100.00"}  # fmt: skip
    later = MetricsIngested.new(producer="tests", tenant_id=tenant, observations=1, totals=[
        {"client_id": "cl-other", "platform": "x", "observations": 1, "metrics": {"likes": "1"}}
    ])  # fmt: skip
    await platform.send(topics.METRICS_INGESTED, later)  # after the replay on the same partition
    processed = platform.db("budget")["processed_events"]

    async def replay_seen() -> bool:
        key = f"budget:{tenant}:{later.event_id}"
        return await processed.find_one({"_id": key}) is not None

    await eventually(replay_seen)

    params = {"goal": "leads", "max_share_pct": "55"}
    r = await http.get(f"/budgets/{bid}/review", params=params, headers=headers)
    assert r.status_code == 200, r.text
    review = r.json()
    channels = {c["platform"]: c for c in review["channels"]}
    # instagram: 150 / 50 leads = 3; 150 / 400 clicks = 0.375; 150 / 20,000 x 1000 = 7.5;
    # 150 / (90 + 10) engagements = 1.5; ROI (450 - 150) / 150 = 2
    ig = channels["instagram"]
    assert (ig["cpl"], ig["cpc"], ig["cpm"], ig["cost_per_engagement"], ig["roi"]) == (
        "3.0000",
        "0.3750",
        "7.5000",
        "1.5000",
        "2.0000",
    )
    # facebook: 100 / 10 = 10; clicks 0 -> CPC undefined; engagements, revenue unknown -> null
    fb = channels["facebook"]
    assert (fb["cpl"], fb["cpc"], fb["cpm"], fb["cost_per_engagement"], fb["roi"]) == (
        "10.0000",
        None,
        "12.5000",
        None,
        None,
    )
    # worst CPL facebook (10) -> best instagram (3): min(20 % of 1,000 = 200, 1,000 - 5 % of
    # 2,000 = 900, 55 % of 2,000 - 1,000 = 100) = 100.00
    [s] = review["suggestions"]
    assert (s["from_platform"], s["to_platform"], s["move"]) == ("facebook", "instagram", "100.00")
    assert (s["because"]["from_cost"], s["because"]["to_cost"]) == ("10.0000", "3.0000")
    assert review["categories"] == [
        {"category": "paid_ads", "planned": "2000.00", "actual": "250.00", "variance": "-1750.00"}
    ]
    r = await http.get(f"/budgets/{bid}/review", params=params | {"format": "csv"},
                       headers=headers)  # fmt: skip
    rows = list(csv.reader(io.StringIO(r.text)))
    assert ["suggestion", "facebook", "instagram", "100.00", "EUR", "10.0000", "3.0000"] in rows
    r = await http.post(f"/budgets/{bid}/review", json=params, headers=headers)
    assert r.status_code == 200
    [published] = await platform.read_topic(topics.BUDGET_ALERTS, expect=1)
    reviewed = json.loads(published.value)
    assert (reviewed["event_type"], reviewed["suggestions"], reviewed["spent"]["amount"]) == (
        "BudgetReviewed",
        1,
        "250.00",
    )
