"""Issue 10 item 3, per campaign and pillar, end to end on the real broker and database: a Meta
ads insights payload with two campaigns goes `POST /ingest/meta_ads_insights` -> metrics ->
MetricsIngested (spend lines and counts carrying the campaign) -> budget, and the review's
figures per campaign match the ones worked by hand; replaying the same MetricsIngested changes
nothing. Pillars arrive the same way (the metrics service joins a post's pillar)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared import topics
from shared.events import MetricsIngested
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_knows


def _row(campaign: str, ad: str, day: str, spend: str, impressions: str, clicks: str,
         leads: str | None) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {
        "account_id": "1234567890", "account_currency": "EUR", "campaign_id": campaign,
        "adset_id": f"{ad}0", "ad_id": ad, "date_start": day, "date_stop": day,
        "impressions": impressions, "inline_link_clicks": clicks, "spend": spend,
    }  # fmt: skip
    if leads is not None:
        row["actions"] = [{"action_type": "lead", "value": leads}]
    return row


async def _after_a_marker(platform: Platform, tenant: str) -> None:
    """Wait until the budget consumed a marker event sent after everything sent so far (same
    tenant, so the same partition key and order)."""
    marker = MetricsIngested.new(producer="tests", tenant_id=tenant, observations=1, totals=[
        {"client_id": "cl-other", "platform": "x", "observations": 1, "metrics": {"likes": "1"}}
    ])  # fmt: skip
    await platform.send(topics.METRICS_INGESTED, marker)
    processed = platform.db("budget")["processed_events"]

    async def marker_seen() -> bool:
        return await processed.find_one({"_id": f"budget:{tenant}:{marker.event_id}"}) is not None

    await eventually(marker_seen)


async def test_campaign_figures_from_a_meta_ads_payload_and_a_replay_changes_nothing(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency()
    r = await platform.http["calendar"].post("/clients", json={"name": "Shop"}, headers=headers)
    client_id = r.json()["client_id"]
    await budget_knows(platform, tenant, client_id)
    http = platform.http["budget"]
    now = datetime.now(UTC)
    today = now.date()
    body = {"client_id": client_id, "name": "quarter", "limit": {"amount": "1000.00",
            "currency": "EUR"}, "period_start": (today - timedelta(days=45)).isoformat(),
            "period_end": (today + timedelta(days=45)).isoformat(), "allocations": [
            {"category": "paid_ads", "platform": "meta_ads",
             "amount": {"amount": "1000.00", "currency": "EUR"}}]}  # fmt: skip
    r = await http.post("/budgets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    bid = r.json()["budget_id"]

    day = (today - timedelta(days=1)).isoformat()
    payload = {"data": [
        _row("111", "9001", day, "50.00", "20000", "1000", "4"),
        _row("222", "9002", day, "30.00", "12000", "400", None),
    ]}  # fmt: skip
    ingest = {"context": {"client_id": client_id, "account_id": "1234567890",
                          "observed_at": now.isoformat()}, "payload": payload}  # fmt: skip
    r = await platform.http["metrics"].post("/ingest/meta_ads_insights", json=ingest,
                                            headers=headers)  # fmt: skip
    assert r.status_code == 202, r.text

    async def booked() -> dict[str, Any] | None:
        b = (await http.get(f"/budgets/{bid}", headers=headers)).json()
        return b if b["spent"]["amount"] == "80.00" else None

    await eventually(booked)

    async def by_campaign() -> dict[str, dict[str, Any]] | None:
        r = await http.get(f"/budgets/{bid}/review", headers=headers)
        assert r.status_code == 200, r.text
        rows = {c["campaign"]: c for c in r.json()["campaigns"]}
        return rows if len(rows) == 2 else None

    campaigns = await eventually(by_campaign)
    # campaign 111: 50.00 / 1,000 clicks = 0.05; 50.00 / 20,000 x 1000 = 2.50; 50.00 / 4 leads
    # = 12.50; no engagement counts and no revenue in the payload -> null
    assert campaigns["111"] == {"campaign": "111", "spend": "50.00", "cpl": "12.5000",
                                "cpc": "0.0500", "cpm": "2.5000",
                                "cost_per_engagement": None, "roi": None}  # fmt: skip
    # campaign 222: no lead reported -> CPL null; 30.00 / 400 = 0.075; 30.00 / 12,000 x 1000
    assert campaigns["222"] == {"campaign": "222", "spend": "30.00", "cpl": None,
                                "cpc": "0.0750", "cpm": "2.5000",
                                "cost_per_engagement": None, "roi": None}  # fmt: skip
    review_before = (await http.get(f"/budgets/{bid}/review", headers=headers)).json()
    assert review_before["pillars"] == []  # ads rows name no post, so no pillar

    # replay every MetricsIngested the metrics service published, then a marker after them
    records = await platform.read_topic(topics.METRICS_INGESTED, expect=1)
    published = [MetricsIngested.model_validate_json(r.value) for r in records]
    assert any(e.segments for e in published)
    for event in published:
        await platform.send(topics.METRICS_INGESTED, event)
    await _after_a_marker(platform, tenant)
    review_after = (await http.get(f"/budgets/{bid}/review", headers=headers)).json()
    assert review_after["campaigns"] == review_before["campaigns"]
    assert review_after["spent"] == "80.00"


async def test_pillar_figures_from_metrics_ingested_segments(platform: Platform) -> None:
    """Counts per pillar and spend lines naming it (as the metrics service sends them for a
    paid post whose PostScheduled gave a pillar); another agency reads none of it."""
    tenant, headers = await platform.new_agency()
    r = await platform.http["calendar"].post("/clients", json={"name": "Shop"}, headers=headers)
    client_id = r.json()["client_id"]
    await budget_knows(platform, tenant, client_id)
    http = platform.http["budget"]
    now = datetime.now(UTC)
    today = now.date()
    body = {"client_id": client_id, "name": "quarter", "limit": {"amount": "500.00",
            "currency": "EUR"}, "period_start": (today - timedelta(days=10)).isoformat(),
            "period_end": (today + timedelta(days=10)).isoformat()}  # fmt: skip
    r = await http.post("/budgets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    bid = r.json()["budget_id"]
    line = {"client_id": client_id, "platform": "instagram", "currency": "EUR",
            "observed_at": now.isoformat(), "pillar": "Recipes"}  # fmt: skip
    event = MetricsIngested.new(
        producer="tests", tenant_id=tenant, observations=2,
        totals=[{"client_id": client_id, "platform": "instagram", "observations": 2,
                 "metrics": {"likes": "30", "comments": "10", "impressions": "4000"}}],
        segments=[{"client_id": client_id, "platform": "instagram", "pillar": "Recipes",
                   "observations": 2, "metrics": {"likes": "30", "comments": "10",
                                                  "impressions": "4000", "revenue": "60.00"}}],
        spend=[line | {"observation_id": "o1", "amount": "12.00"},
               line | {"observation_id": "o2", "amount": "8.00"}],
    )  # fmt: skip
    await platform.send(topics.METRICS_INGESTED, event)
    await platform.send(topics.METRICS_INGESTED, event)  # a replay: counted once
    await _after_a_marker(platform, tenant)
    doc = (await http.get(f"/budgets/{bid}/review", headers=headers)).json()
    assert doc["spent"] == "20.00"
    [recipes] = doc["pillars"]
    # 20.00 / (30 + 10) engagements = 0.5; 20.00 / 4,000 x 1000 = 5; ROI (60 - 20) / 20 = 2;
    # no clicks or leads counted -> null
    assert recipes == {"pillar": "Recipes", "spend": "20.00", "cpl": None, "cpc": None,
                       "cpm": "5.0000", "cost_per_engagement": "0.5000",
                       "roi": "2.0000"}  # fmt: skip
    _, other = await platform.new_agency("Other")
    r = await http.get(f"/budgets/{bid}/review", headers=other)
    assert r.status_code == 404
