"""Issue 7 items 1 and 3, end to end on the real broker and database: KPIs are attributed to
the period the values measure, and a lifetime series read twice counts once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared import topics
from shared.events import AnalyticsObserved
from tests.integration.conftest import Platform, eventually


def _daily(tenant: str, day: datetime, views: int, *, read_at: datetime) -> AnalyticsObserved:
    return AnalyticsObserved.new(
        producer="tests", tenant_id=tenant, client_id="cl-1", platform="instagram",
        account_id="ig-1", entity_level="account", entity_id="ig-1", window="day",
        window_start=day, cumulative=False, observed_at=read_at,
        source={"api": "instagram_graph", "kind": "backfill"},
        metrics=[{"name": "views", "value": views}],
    )  # fmt: skip


async def _kpis(platform: Platform, headers: dict[str, str], **query: str) -> Any:
    r = await platform.http["metrics"].get("/kpis", params=query, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_2020_backfill_groups_under_its_2020_days(platform: Platform) -> None:
    """Daily values read today (observed_at now) are counted on the days they measure: a
    2020 range finds them by day, and the last 30 days do not."""
    tenant, headers = await platform.new_agency()
    now = datetime.now(UTC)
    days = [datetime(2020, 3, d, tzinfo=UTC) for d in (1, 2, 3)]
    for day, views in zip(days, (10, 20, 30), strict=True):
        await platform.send(topics.ANALYTICS_OBSERVATIONS, _daily(tenant, day, views, read_at=now))

    async def by_day() -> Any:
        window = {"from": "2020-03-01T00:00:00Z", "to": "2020-03-04T00:00:00Z"}
        report = await _kpis(platform, headers, client_id="cl-1", group_by="day", **window)
        return report if len(report["groups"]) == 3 else None

    report = await eventually(by_day)
    assert {g["key"]: g["totals"]["views"] for g in report["groups"]} == {
        "2020-03-01": "10", "2020-03-02": "20", "2020-03-03": "30",
    }  # fmt: skip
    recent = await _kpis(platform, headers, client_id="cl-1")  # default: the last 30 days
    assert all("views" not in g["totals"] for g in recent["groups"])
    day_2 = {"from": "2020-03-02T00:00:00Z", "to": "2020-03-03T00:00:00Z"}
    march_2 = await _kpis(platform, headers, client_id="cl-1", **day_2)
    assert march_2["groups"][0]["totals"]["views"] == "20"


async def test_a_lifetime_series_read_twice_counts_once(platform: Platform) -> None:
    """A post's lifetime likes read as 100 and later as 150, each reading dated by the
    platform with another day, total 150, not 250."""
    tenant, headers = await platform.new_agency()
    now = datetime.now(UTC) - timedelta(hours=2)
    for likes, hours in ((100, 0), (150, 1)):
        event = AnalyticsObserved.new(
            producer="tests", tenant_id=tenant, client_id="cl-1", platform="instagram",
            account_id="ig-1", entity_level="post", entity_id="media-1", window="lifetime",
            window_start=now - timedelta(days=2 - hours), cumulative=True,
            observed_at=now + timedelta(hours=hours),
            source={"api": "instagram_graph", "kind": "poll"},
            metrics=[{"name": "likes", "value": likes}],
        )  # fmt: skip
        await platform.send(topics.ANALYTICS_OBSERVATIONS, event)

    async def total() -> Any:
        report = await _kpis(platform, headers, client_id="cl-1")
        groups = report["groups"]
        return groups and groups[0]["observations"] == 2 and groups[0]["totals"]

    totals = await eventually(total)
    assert totals["likes"] == "150"


async def test_a_pages_reach_is_never_summed_across_days_or_windows(platform: Platform) -> None:
    """Issue 7 item 2: a page's daily reach (100, 120, 90), its weekly (300) and 28-day (800)
    reach, and one post's lifetime likes (33): reach is 120 (the largest day, a stated lower
    bound), never 310 or 1,410; engagement rate by reach = 33 / 120 = 0.275 says so."""
    tenant, headers = await platform.new_agency()
    read_at = datetime(2026, 3, 10, 12, tzinfo=UTC)

    def page(window: str, start: datetime, reach: int) -> AnalyticsObserved:
        return AnalyticsObserved.new(
            producer="tests", tenant_id=tenant, client_id="cl-1", platform="facebook",
            account_id="page-1", entity_level="account", entity_id="page-1", window=window,
            window_start=start, cumulative=False, observed_at=read_at,
            source={"api": "facebook_graph", "kind": "poll"},
            metrics=[{"name": "reach", "value": reach}],
        )  # fmt: skip

    days = [datetime(2026, 3, d, 8, tzinfo=UTC) for d in (2, 3, 4)]
    events = [page("day", d, r) for d, r in zip(days, (100, 120, 90), strict=True)]
    events += [page("week", days[0], 300), page("days_28", days[0], 800)]
    events.append(AnalyticsObserved.new(
        producer="tests", tenant_id=tenant, client_id="cl-1", platform="facebook",
        account_id="page-1", entity_level="post", entity_id="post-1", window="lifetime",
        cumulative=True, observed_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
        source={"api": "facebook_graph", "kind": "poll"},
        metrics=[{"name": "likes", "value": 33}],
    ))  # fmt: skip
    for event in events:
        await platform.send(topics.ANALYTICS_OBSERVATIONS, event)
    period = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-08T00:00:00Z"}

    async def report() -> Any:
        got = await _kpis(platform, headers, client_id="cl-1", **period)
        return got if got["groups"] and got["groups"][0]["observations"] == 6 else None

    [group] = (await eventually(report))["groups"]
    assert group["totals"]["reach"] == "120"
    assert group["bases"]["reach"].startswith("largest day reach")
    rate = group["kpis"]["engagement_rate_reach"]
    assert rate["value"] == "0.275"
    assert "reach: largest day reach" in rate["basis"]
