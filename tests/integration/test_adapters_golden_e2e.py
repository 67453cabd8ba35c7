"""Golden suite, end to end: each adapter's documented response layouts (values our own, the
same files as the unit golden suite) go `POST /ingest/{adapter}` -> Kafka -> store, and
`GET /kpis` must answer the figures worked out by hand below from the payload values and
DOMAIN.md's formulas (engagements = likes + comments + shares + saves; CTR = clicks /
impressions; CPC = spend / clicks; CPM = spend / impressions x 1000; CPL = spend / leads).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.integration.conftest import Platform, eventually

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms"
OBSERVED = "2025-11-20T09:30:00+00:00"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


async def ingest(
    platform: Platform,
    headers: dict[str, str],
    adapter: str,
    payload: Any,
    *,
    client_id: str,
    observed_at: str = OBSERVED,
    **options: Any,
) -> dict[str, Any]:
    body = {
        "context": {"client_id": client_id, "account_id": "acct-1", "observed_at": observed_at},
        "payload": payload,
        "options": options,
    }
    r = await platform.http["metrics"].post(f"/ingest/{adapter}", json=body, headers=headers)
    assert r.status_code == 202, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def stored(platform: Platform, tenant: str, n: int) -> None:
    async def count() -> int:
        return len(await platform.observations(tenant)) == n

    await eventually(count)


async def kpis(
    platform: Platform, headers: dict[str, str], client_id: str, start: str, end: str, **params: Any
) -> dict[str, dict[str, Any]]:
    """`GET /kpis` for one client: its groups by key."""
    query = {"client_id": client_id, "from": start, "to": end, **params}
    r = await platform.http["metrics"].get("/kpis", params=query, headers=headers)
    assert r.status_code == 200, r.text
    return {g["key"]: g for g in r.json()["groups"]}


def totals(group: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in group["totals"].items()}


def rate(group: dict[str, Any], name: str) -> Decimal | None:
    value = group["kpis"][name]["value"]
    return None if value is None else Decimal(value)


def cost(group: dict[str, Any], name: str) -> tuple[Decimal, str] | None:
    value = group["kpis"][name]["value"]
    return None if value is None else (Decimal(value["amount"]), value["currency"])


async def test_meta_and_google_ads_rows_to_cost_kpis(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    meta = await ingest(platform, headers, "meta_ads_insights", fixture("meta_ads_insights_daily"),
                        client_id="meta", account_timezone="Europe/Berlin")  # fmt: skip
    google = await ingest(platform, headers, "google_ads_search_stream",
                          fixture("google_ads_search_stream"), client_id="google")  # fmt: skip
    await stored(platform, tenant, meta["accepted"] + google["accepted"])

    # Meta, two daily rows of one ad (Berlin days 29 and 30 March 2025)
    [m] = (await kpis(platform, headers, "meta", "2025-03-28T00:00:00Z",
                      "2025-04-01T00:00:00Z")).values()  # fmt: skip
    t = totals(m)
    assert (t["impressions"], t["clicks"]) == (4000 + 5210, 80 + 101)
    assert m["spend"] == {"amount": "27.41", "currency": "EUR"}  # 12.34 + 15.07
    assert rate(m, "ctr") == Decimal(181) / Decimal(9210)
    assert cost(m, "cpc") == (Decimal("27.41") / 181, "EUR")
    assert cost(m, "cpl") == (Decimal("27.41") / 8, "EUR")  # leads 3 + 5
    assert cost(m, "cpm") == (Decimal("27.41") / 9210 * 1000, "EUR")
    by_day = await kpis(platform, headers, "meta", "2025-03-28T00:00:00Z",
                        "2025-04-01T00:00:00Z", group_by="day")  # fmt: skip
    # Days are UTC by default: Berlin's 29 March starts at 23:00 UTC on the 28th ...
    assert {k: totals(g).get("reach") for k, g in by_day.items()} == {
        "2025-03-28": Decimal(3100), "2025-03-29": Decimal(3890)}  # fmt: skip
    # ... and in the account's zone each row is its own reporting day; reach is unique
    # accounts per day, so each day keeps its own figure, never 3100 + 3890.
    berlin = await kpis(platform, headers, "meta", "2025-03-28T00:00:00Z",
                        "2025-04-01T00:00:00Z", group_by="day", tz="Europe/Berlin")  # fmt: skip
    assert {k: totals(g).get("reach") for k, g in berlin.items()} == {
        "2025-03-29": Decimal(3100), "2025-03-30": Decimal(3890)}  # fmt: skip
    assert t.get("reach") != 3100 + 3890

    # Google Ads, two daily rows of one campaign (New York days 1 and 2 November 2025)
    [g] = (await kpis(platform, headers, "google", "2025-11-01T00:00:00Z",
                      "2025-11-04T00:00:00Z")).values()  # fmt: skip
    t = totals(g)
    assert (t["impressions"], t["clicks"]) == (1500 + 1904, 42 + 57)
    assert g["spend"] == {"amount": "32.345678", "currency": "USD"}  # micros / 10^6
    assert cost(g, "cpc") == (Decimal("32.345678") / 99, "USD")
    assert rate(g, "ctr") == Decimal(99) / Decimal(3404)


async def test_instagram_media_user_and_account_insights(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    n = 0
    for adapter, name, client in (("instagram_insights", "instagram_reel_insights", "ig"),
                                  ("instagram_insights", "instagram_post_insights_legacy", "ig"),
                                  ("instagram_fields", "instagram_user", "ig"),
                                  ("instagram_insights", "instagram_post_insights_legacy",
                                   "ig-legacy")):  # fmt: skip
        n += (await ingest(platform, headers, adapter, fixture(name), client_id=client))["accepted"]
    day = fixture("instagram_account_insights_day")
    account = await ingest(platform, headers, "instagram_insights", day, client_id="ig-acct")
    await stored(platform, tenant, n + account["accepted"])

    [g] = (await kpis(platform, headers, "ig", "2025-11-01T00:00:00Z",
                      "2025-12-01T00:00:00Z")).values()  # fmt: skip
    t = totals(g)
    # reel: likes 412, comments 37, shares 58, saved 91 (its total_interactions 598 is their
    # sum, so it is not stored); legacy post: engagement 143 (likes + comments), saved 24.
    assert (t["likes"], t["comments"], t["shares"], t["saves"]) == (412, 37, 58, 91 + 24)
    assert t["engagement"] == 143
    assert Decimal(g["kpis"]["engagements"]) == 412 + 37 + 58 + 91 + 24 + 143  # 765
    assert t["followers"] == 15230
    assert rate(g, "engagement_rate_followers") == Decimal(765) / 15230
    # Reach of two posts: the sum of their lifetime reach, stated as such (an upper bound).
    assert t["reach"] == 3120 + 1650
    assert rate(g, "engagement_rate_reach") == Decimal(765) / 4770
    assert "sum of per-post lifetime reach" in g["kpis"]["engagement_rate_reach"]["basis"]
    # Legacy impressions and current views stay two metrics (views 4821 from the reel only).
    assert (t["impressions"], t["views"]) == (2210, 4821)

    # The legacy post alone: its engagement total (likes + comments) plus its saves.
    [legacy] = (await kpis(platform, headers, "ig-legacy", "2025-11-01T00:00:00Z",
                           "2025-12-01T00:00:00Z")).values()  # fmt: skip
    assert Decimal(legacy["kpis"]["engagements"]) == 143 + 24
    assert rate(legacy, "engagement_rate_reach") == Decimal(167) / 1650
    assert rate(legacy, "engagement_rate_impressions") == Decimal(167) / 2210

    # Account insights: `end_time` closes each day at Pacific midnight (08:00 UTC in November),
    # so the values describe 3 and 4 November 2024 (3 November: the day US DST ends).
    days = await kpis(platform, headers, "ig-acct", "2024-11-01T00:00:00Z",
                      "2024-11-10T00:00:00Z", group_by="day", tz="America/Los_Angeles")  # fmt: skip
    assert {k: (totals(v)["impressions"], totals(v)["reach"]) for k, v in days.items()} == {
        "2024-11-03": (3521, 1893), "2024-11-04": (4102, 2240)}  # fmt: skip
    [both] = (await kpis(platform, headers, "ig-acct", "2024-11-01T00:00:00Z",
                         "2024-11-10T00:00:00Z")).values()  # fmt: skip
    t = totals(both)
    # impressions add up over days; reach does not: the largest day, named as such
    assert (t["impressions"], t["reach"], t["followers_gained"]) == (3521 + 4102, 2240, 17 + 23)
    assert "largest day" in both["bases"]["reach"]


async def test_facebook_page_and_post_insights(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    page = await ingest(platform, headers, "facebook_insights", fixture("facebook_page_insights"),
                        client_id="fb-page")  # fmt: skip
    post = await ingest(platform, headers, "facebook_insights", fixture("facebook_post_insights"),
                        client_id="fb-post")  # fmt: skip
    await stored(platform, tenant, page["accepted"] + post["accepted"])

    # Page, two Pacific days (end_time 2025-11-19 and -20 at 08:00 UTC close 18 and 19 Nov)
    days = await kpis(platform, headers, "fb-page", "2025-11-01T00:00:00Z",
                      "2025-12-01T00:00:00Z", group_by="day", tz="America/Los_Angeles")  # fmt: skip
    assert {k: totals(v)["views"] for k, v in days.items()} == {
        "2025-11-18": 8840, "2025-11-19": 9312}  # fmt: skip
    [p] = (await kpis(platform, headers, "fb-page", "2025-11-01T00:00:00Z",
                      "2025-12-01T00:00:00Z")).values()  # fmt: skip
    t = totals(p)
    assert (t["views"], t["reach"], t["followers"]) == (8840 + 9312, 5388, 10245)

    # Post, lifetime: likes are the reactions summed (120 + 31 + 4 + 2), clicks post_clicks
    [q] = (await kpis(platform, headers, "fb-post", "2025-11-01T00:00:00Z",
                      "2025-12-01T00:00:00Z")).values()  # fmt: skip
    t = totals(q)
    assert (t["views"], t["reach"], t["likes"], t["clicks"]) == (6120, 4033, 157, 57)
    assert rate(q, "engagement_rate_reach") == Decimal(157) / 4033


async def test_x_public_organic_promoted_and_user(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    n = 0
    for adapter, name, client in (("x_posts", "x_tweets", "x"), ("x_user", "x_user", "x"),
                                  ("x_posts", "x_tweets_organic_promoted", "x2")):  # fmt: skip
        n += (await ingest(platform, headers, adapter, fixture(name), client_id=client))["accepted"]
    await stored(platform, tenant, n)

    [g] = (await kpis(platform, headers, "x", "2025-11-01T00:00:00Z",
                      "2025-12-01T00:00:00Z")).values()  # fmt: skip
    t = totals(g)
    # shares = retweets + quotes (5 + 0, 11 + 6); comments = replies; saves = bookmarks
    assert (t["likes"], t["comments"], t["shares"], t["saves"]) == (64 + 152, 2 + 40, 22, 13)
    assert (t["impressions"], t["followers"]) == (3310 + 8020, 8421)
    assert rate(g, "engagement_rate_impressions") == Decimal(293) / 11330
    assert rate(g, "engagement_rate_followers") == Decimal(293) / 8421

    [h] = (await kpis(platform, headers, "x2", "2025-11-01T00:00:00Z",
                      "2025-12-01T00:00:00Z")).values()  # fmt: skip
    t = totals(h)
    # promoted tweet: organic + promoted; organic-only tweet: non-public totals win
    assert (t["impressions"], t["clicks"]) == (5400 + 20000 + 2100, 40 + 300 + 17)
    assert (t["likes"], t["comments"], t["shares"]) == (120 + 210 + 64, 8 + 4 + 3, 11 + 6 + 2)
    assert rate(h, "ctr") == Decimal(357) / 27500
    assert rate(h, "engagement_rate_impressions") == Decimal(394 + 15 + 19) / 27500


async def test_tiktok_youtube_and_linkedin(platform: Platform) -> None:
    tenant, headers = await platform.new_agency()
    n = 0
    for adapter, name, client in (
        ("tiktok_videos", "tiktok_videos", "tt"), ("tiktok_user", "tiktok_user", "tt"),
        ("youtube_report", "youtube_report_day", "yt"),
        ("youtube_statistics", "youtube_video_statistics", "yt2"),
        ("youtube_statistics", "youtube_channel_statistics", "yt2"),
        ("linkedin_share_statistics", "linkedin_share_statistics", "li"),
        ("linkedin_share_statistics", "linkedin_org_statistics_daily", "li2"),
    ):  # fmt: skip
        n += (await ingest(platform, headers, adapter, fixture(name), client_id=client))["accepted"]
    await stored(platform, tenant, n)
    nov = ("2025-11-01T00:00:00Z", "2025-12-01T00:00:00Z")
    march = ("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z")

    [tt] = (await kpis(platform, headers, "tt", *nov)).values()
    t = totals(tt)
    assert (t["views"], t["likes"], t["comments"], t["shares"]) == (57330, 6131, 248, 442)
    assert rate(tt, "engagement_rate_followers") == Decimal(6131 + 248 + 442) / 23104

    # YouTube Analytics days are US/Pacific; 9 March 2025 is the 23-hour day DST starts.
    days = await kpis(platform, headers, "yt", *march, group_by="day", tz="America/Los_Angeles")
    assert {k: totals(v)["views"] for k, v in days.items()} == {
        "2025-03-08": 1204, "2025-03-09": 1390, "2025-03-10": 1122}  # fmt: skip
    [yt] = (await kpis(platform, headers, "yt", *march)).values()
    t = totals(yt)
    assert (t["views"], t["likes"], t["comments"], t["shares"]) == (3716, 256, 33, 30)
    assert t["watch_time_s"] == (3011 + 3475 + 2618) * 60  # estimatedMinutesWatched x 60
    assert (t["followers_gained"], t["followers_lost"]) == (12 + 19 + 9, 3 + 2 + 4)

    [yt2] = (await kpis(platform, headers, "yt2", *nov)).values()
    t = totals(yt2)
    # The channel's own lifetime views hold its videos' views: the account total is used.
    assert (t["views"], t["followers"]) == (1284730, 10400)
    assert (t["likes"], t["comments"]) == (3012, 214)
    assert rate(yt2, "engagement_rate_followers") == Decimal(3012 + 214) / 10400

    [li] = (await kpis(platform, headers, "li", *nov)).values()
    t = totals(li)
    assert (t["impressions"], t["clicks"], t["likes"]) == (2403 + 1190, 48 + 19, 61 + 27)
    assert (t["comments"], t["shares"], t["reach"]) == (6 + 2, 12 + 3, 1460 + 820)
    assert rate(li, "ctr") == Decimal(67) / 3593
    assert rate(li, "engagement_rate_impressions") == Decimal(88 + 8 + 15) / 3593

    li_days = await kpis(platform, headers, "li2", *march, group_by="day")
    assert {k: totals(v)["impressions"] for k, v in li_days.items()} == {
        "2025-03-08": 903, "2025-03-09": 1020}  # fmt: skip
    [li2] = (await kpis(platform, headers, "li2", *march)).values()
    assert totals(li2)["reach"] == 601  # the largest day, never 512 + 601
