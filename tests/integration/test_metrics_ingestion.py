"""Metrics ingestion over the real broker and database: every adapter through the HTTP intake,
rename continuity, dedupe, out-of-order data, KPIs with zero denominators, the CSV report,
and rejection of bad observations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.metrics.ingest import series_filter
from shared import topics
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import observation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms"
T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)
RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


async def stored(platform: Platform, tenant: str, n: int) -> None:
    async def count() -> bool:
        return len(await platform.observations(tenant)) == n

    await eventually(count)


async def kpis(platform: Platform, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await platform.http["metrics"].get("/kpis", params=RANGE | params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


ADAPTER_CASES = [
    ("instagram_insights", "instagram_reel_insights", {}, {"views": "4821"}),
    ("instagram_fields", "instagram_user", {}, {"followers": None}),
    ("facebook_insights", "facebook_post_insights", {}, {"likes": None}),
    ("x_posts", "x_tweets", {}, {"impressions": None}),
    ("x_user", "x_user", {}, {"followers": None}),
    ("tiktok_videos", "tiktok_videos", {}, {"views": None}),
    ("tiktok_user", "tiktok_user", {}, {"followers": None}),
    ("youtube_report", "youtube_report_video", {}, {"views": None}),
    ("youtube_statistics", "youtube_channel_statistics", {}, {"followers": None}),
    ("linkedin_share_statistics", "linkedin_share_statistics", {}, {"impressions": None}),
]


@pytest.mark.parametrize(("adapter", "payload", "options", "expect"), ADAPTER_CASES)
async def test_every_adapter_through_http_to_storage(
    platform: Platform, adapter: str, payload: str, options: dict[str, Any], expect: dict[str, Any]
) -> None:
    tenant, headers = await platform.new_agency()
    body = {
        "context": {"client_id": "cl-1", "account_id": "acct-1",
                    "observed_at": T0.isoformat(), "api_version": "v1"},
        "payload": fixture(payload),
        "options": options,
    }  # fmt: skip
    r = await platform.http["metrics"].post(f"/ingest/{adapter}", json=body, headers=headers)
    assert r.status_code == 202, r.text
    accepted = r.json()["accepted"]
    assert accepted >= 1
    await stored(platform, tenant, accepted)
    docs = await platform.observations(tenant)
    for metric, value in expect.items():
        assert any(metric in d["metrics"] for d in docs), (metric, docs[0]["metrics"])
        if value is not None:
            assert any(d["metrics"].get(metric) == Decimal(value) for d in docs)
    # polling the same payload again is a replay: nothing new is stored
    again = await platform.http["metrics"].post(f"/ingest/{adapter}", json=body, headers=headers)
    assert again.json()["event_ids"] == r.json()["event_ids"]


async def test_meta_impressions_and_views_stay_two_series(platform: Platform) -> None:
    # Meta replaced impressions by views, another quantity: each keeps its own series (the
    # registry links them as successor; a trend query may splice them explicitly).
    tenant, headers = await platform.new_agency()
    http = platform.http["metrics"]
    for name, hours in (("instagram_post_insights_legacy", 0), ("instagram_post_insights", 24)):
        body = {
            "context": {"client_id": "cl-1", "account_id": "acct-1",
                        "observed_at": (T0 + timedelta(hours=hours)).isoformat()},
            "payload": fixture(name),
        }  # fmt: skip
        assert (
            await http.post("/ingest/instagram_insights", json=body, headers=headers)
        ).status_code == 202
    await stored(platform, tenant, 2)
    report = await kpis(platform, headers, client_id="cl-1", group_by="day")
    by_day = {g["key"]: g["totals"] for g in report["groups"]}
    # lifetime running totals: day 1 reads impressions 2210 (legacy), day 2 views 2390 (current)
    assert by_day["2026-11-02"]["impressions"] == "2210"
    assert "views" not in by_day["2026-11-02"]
    assert by_day["2026-11-03"]["views"] == "2390"
    total = await kpis(platform, headers, client_id="cl-1")
    assert total["groups"][0]["totals"]["views"] == "2390"
    assert total["groups"][0]["totals"]["impressions"] == "2210"


async def test_out_of_order_cumulative_readings_latest_wins(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    readings = [(T0 + timedelta(hours=2), 150), (T0, 100), (T0 + timedelta(hours=1), 120)]
    for at, views in readings:  # arrive newest first, then two late ones
        await platform.send(
            topics.ANALYTICS_OBSERVATIONS,
            observation(tenant, "cl-1", metrics={"views": views}, observed_at=at, entity_id="p-1"),
            key=f"{tenant}:cl-1".encode(),
        )
    await stored(platform, tenant, 3)
    report = await kpis(platform, headers, client_id="cl-1")
    assert report["groups"][0]["totals"]["views"] == "150"
    repo = platform.apps["metrics"].state.repo
    probe = observation(tenant, "cl-1", entity_id="p-1")
    latest = await repo.latest_states({"p-1": series_filter(probe)})
    assert latest["p-1"].metrics["views"] == Decimal(150)
    assert latest["p-1"].observed_at == T0 + timedelta(hours=2)


async def test_incremental_values_add_up_per_window(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    for hour in range(3):
        await platform.send(
            topics.ANALYTICS_OBSERVATIONS,
            observation(tenant, "cl-1", spend="1.10", metrics={"clicks": 2 + hour},
                        observed_at=T0 + timedelta(hours=hour)),
        )  # fmt: skip
    await stored(platform, tenant, 3)
    group = (await kpis(platform, headers, client_id="cl-1"))["groups"][0]
    assert group["totals"]["clicks"] == "9"
    assert group["spend"] == {"amount": "3.30", "currency": "EUR"}
    assert Decimal(group["kpis"]["cpc"]["value"]["amount"]) == Decimal("3.30") / 9


async def test_every_kpi_formula_and_zero_denominators(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    rich = observation(
        tenant, "cl-1", spend="50.00", observed_at=T0, entity_id="ad-1",
        metrics={"impressions": 10000, "reach": 8000, "likes": 300, "comments": 50, "shares": 25,
                 "saves": 25, "clicks": 200},
        leads=10, visits=100, revenue={"amount": "80.00", "currency": "EUR"},
    )  # fmt: skip
    followers_before = observation(
        tenant, "cl-1", observed_at=T0 - timedelta(days=10), entity_id="acct",
        entity_level="account", metrics={"followers": 1000},
    )  # fmt: skip
    followers_now = observation(
        tenant, "cl-1", observed_at=T0, entity_id="acct", entity_level="account",
        metrics={"followers": 1100},
    )  # fmt: skip
    empty = observation(tenant, "cl-2", spend="5.00", observed_at=T0, metrics={"likes": 3})
    for e in (rich, followers_before, followers_now, empty):
        await platform.send(topics.ANALYTICS_OBSERVATIONS, e)
    await stored(platform, tenant, 4)

    g = (await kpis(platform, headers, client_id="cl-1"))["groups"][0]["kpis"]
    assert Decimal(g["engagements"]) == 400
    assert Decimal(g["engagement_rate_impressions"]["value"]) == Decimal("0.04")
    assert g["engagement_rate_impressions"]["denominator"] == "impressions"
    assert Decimal(g["engagement_rate_reach"]["value"]) == Decimal("0.05")
    assert Decimal(g["engagement_rate_followers"]["value"]) == Decimal(400) / 1100
    assert Decimal(g["ctr"]["value"]) == Decimal("0.02")
    assert Decimal(g["cpc"]["value"]["amount"]) == Decimal("0.25")
    assert Decimal(g["cpl"]["value"]["amount"]) == Decimal(5)
    assert Decimal(g["cpm"]["value"]["amount"]) == Decimal(5)
    assert Decimal(g["lead_conversion_rate"]["value"]) == Decimal("0.1")
    assert g["lead_conversion_rate"]["denominator"] == "visits"
    assert Decimal(g["follower_growth"]["value"]) == Decimal("0.1")
    assert Decimal(g["roi"]["value"]) == Decimal("0.6")

    z = (await kpis(platform, headers, client_id="cl-2"))["groups"][0]["kpis"]
    for rate in ("engagement_rate_impressions", "engagement_rate_reach", "ctr", "roi",
                 "follower_growth", "lead_conversion_rate"):  # fmt: skip
        assert z[rate]["value"] is None, rate
    for cost in ("cpc", "cpl", "cpm"):
        assert z[cost]["value"] is None, cost


async def test_replays_are_stored_once(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    event = observation(tenant, "cl-1", metrics={"likes": 5}, observed_at=T0)
    for _ in range(3):
        await platform.send(topics.ANALYTICS_OBSERVATIONS, event)
    r = await platform.http["metrics"].post(
        "/observations",
        json={"observations": [event.model_dump(mode="json")]},
        headers=headers,
    )
    assert r.status_code == 202
    marker = observation(tenant, "cl-1", metrics={"likes": 1}, observed_at=T0, entity_id="m")
    await platform.send(topics.ANALYTICS_OBSERVATIONS, marker)
    await stored(platform, tenant, 2)
    assert (await kpis(platform, headers))["groups"][0]["totals"]["likes"] == "6"


async def test_csv_import_reports_bad_rows_and_imports_the_rest(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    csv_text = (
        "client_id,platform,account_id,entity_level,entity_id,observed_at,window,cumulative,"
        "likes,clicks,spend_amount,spend_currency\n"
        "cl-1,instagram,a1,post,p1,2026-11-02T10:00:00Z,lifetime,true,10,2,,\n"
        "cl-1,myspace,a1,post,p2,2026-11-02T10:00:00Z,lifetime,true,10,2,,\n"
        "cl-1,instagram,a1,post,p3,2026-11-02T10:00:00,lifetime,true,10,2,,\n"
        "cl-1,instagram,a1,post,p4,2026-11-02T10:00:00Z,lifetime,true,-4,2,,\n"
        "cl-1,instagram,a1,ad,ad1,2026-11-02T10:00:00Z,hour,false,1,5,3.50,EURO\n"
        "cl-1,x,a2,post,p5,2026-11-02T11:00:00Z,lifetime,true,7,1,,\n"
    )
    r = await platform.http["metrics"].post("/imports/csv", content=csv_text, headers=headers)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["imported"] == 2
    errors = {(e["row"], e["field"]) for e in body["errors"]}
    assert {(2, "platform"), (3, "observed_at"), (4, "likes"), (5, "spend_currency")} <= errors
    assert all(e["reason"] for e in body["errors"])
    await stored(platform, tenant, 2)


async def test_bad_observations_are_dead_lettered_and_rejected_over_http(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency()
    unknown_metric = observation(tenant, "cl-1", metrics={"vibes": 3})
    await platform.send(topics.ANALYTICS_OBSERVATIONS, unknown_metric)
    wrong_key = observation(tenant, "cl-1")
    await platform.send(topics.ANALYTICS_OBSERVATIONS, wrong_key, key=b"other-agency:cl-1")
    good = observation(tenant, "cl-1", entity_id="ok")
    await platform.send(topics.ANALYTICS_OBSERVATIONS, good)
    await stored(platform, tenant, 1)
    dlq = await platform.read_topic(topics.dlq(topics.ANALYTICS_OBSERVATIONS), expect=2)
    reasons = sorted(dict(r.headers)["x-dlq-reason"].decode() for r in dlq)
    assert "unknown metric 'vibes'" in reasons[0]
    assert "tenant_id" in reasons[1] and "message key" in reasons[1]

    bad = [
        {**good.model_dump(mode="json"), "metrics": [{"name": "views", "value": -1}]},
        {**good.model_dump(mode="json"), "spend": {"amount": "1", "currency": "ABC"}},
        {**good.model_dump(mode="json"), "observed_at": "2026-11-02T10:00:00"},
        {**good.model_dump(mode="json"), "platform": "friendster"},
        {**good.model_dump(mode="json"), "metrics": [{"name": "vibes", "value": 1}]},
    ]
    r = await platform.http["metrics"].post(
        "/observations", json={"observations": bad}, headers=headers
    )
    assert r.status_code == 422
    locs = {tuple(e["loc"][2:]) for e in r.json()["detail"]}
    assert (0, "metrics", 0, "value") in locs
    assert (1, "spend", "currency") in locs
    assert (2, "observed_at") in locs
    assert (3, "platform") in locs
    assert (4, "metrics", "0", "name") in locs


async def test_rollups_by_pillar_and_content_type_join_the_calendar_posts(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    client_id = (await cal.post("/clients", json={"name": "B"}, headers=headers)).json()[
        "client_id"
    ]
    post_ids = {}
    for pillar, content_type in (("recipes", "video"), ("team", "carousel")):
        r = await cal.post(
            f"/clients/{client_id}/posts",
            json={"platform": "instagram", "scheduled_at": "2026-11-02T09:00:00Z",
                  "pillar": pillar, "content_type": content_type},
            headers=headers,
        )  # fmt: skip
        post_ids[pillar] = r.json()["post_id"]

    async def metrics_knows_posts() -> bool:
        return await platform.db("metrics")["posts"].count_documents({}) == 2

    await eventually(metrics_knows_posts)
    for pillar, likes in (("recipes", 30), ("team", 12)):
        await platform.send(
            topics.ANALYTICS_OBSERVATIONS,
            observation(tenant, client_id, post_id=post_ids[pillar], entity_id=post_ids[pillar],
                        metrics={"likes": likes}, observed_at=T0),
        )  # fmt: skip
    await stored(platform, tenant, 2)
    by_pillar = await kpis(platform, headers, client_id=client_id, group_by="pillar")
    assert {g["key"]: g["totals"]["likes"] for g in by_pillar["groups"]} == {
        "recipes": "30",
        "team": "12",
    }
    by_type = await kpis(platform, headers, client_id=client_id, group_by="content_type")
    assert {g["key"] for g in by_type["groups"]} == {"video", "carousel"}
    by_post = await kpis(platform, headers, client_id=client_id, group_by="post")
    assert {g["key"] for g in by_post["groups"]} == set(post_ids.values())
    by_week = await kpis(platform, headers, client_id=client_id, group_by="week")
    assert [g["key"] for g in by_week["groups"]] == ["2026-W45"]
