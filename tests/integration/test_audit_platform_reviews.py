"""A strategy platform's yearly review date that arrived publishes `PlatformReviewDue` once
(the same `StrategyUpdated` again changes nothing), with the platform's platform-choice score
worked out by hand; a newer strategy version that moves the date re-arms it; the reviews are
listed per client and another agency's client is a 404."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import tests.integration.test_audit_competitors as scenario
from shared import topics
from shared.events import PlatformReviewDue, StrategyUpdated
from tests.integration.conftest import Platform, eventually


def strategy(tenant: str, client: str, version: int, instagram_on: date) -> StrategyUpdated:
    return StrategyUpdated.new(
        producer="calendar", tenant_id=tenant, client_id=client, strategy_id="st-reviews",
        version=version, previous_version=version - 1 or None, period="year",
        start=date(2026, 1, 1), end=date(2027, 1, 1), platforms=["instagram", "facebook"],
        personas=[{"name": "Parent", "platforms": ["instagram"]},
                  {"name": "Student", "platforms": ["instagram", "tiktok"]},
                  {"name": "Retiree", "platforms": ["facebook"]},
                  {"name": "Chef", "platforms": ["instagram"]}],
        reviews=[{"platform": "instagram", "review_on": instagram_on},
                 {"platform": "facebook", "review_on": "2027-06-01"},
                 {"platform": "meta_ads", "review_on": "2026-10-01"}],
    )  # fmt: skip


async def test_a_review_date_that_arrived_publishes_platform_review_due_once(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency("Bakers")
    client = await scenario.new_client(platform, headers)
    today = datetime.now(UTC).date()
    first = strategy(tenant, client, 1, today)
    await platform.send(topics.STRATEGIES, first)

    records = await platform.read_topic(topics.AUDIT_PLATFORM_REVIEWS, expect=2, timeout=30)
    assert len(records) == 2
    due = {
        e.platform: e
        for e in map(PlatformReviewDue.model_validate_json, (r.value for r in records))
    }
    ads = due["meta_ads"]  # an ad platform has a review but no platform-choice score
    assert (ads.review_on, ads.score, ads.components) == (date(2026, 10, 1), None, {})
    event = due["instagram"]
    assert (event.client_id, event.strategy_id, event.platform, event.review_on) == (
        client, "st-reviews", "instagram", today
    )  # fmt: skip
    assert (event.period_start, event.period_end) == (
        today.replace(year=today.year - 1), today - timedelta(days=1)
    )  # fmt: skip
    # 3 of 4 personas on Instagram; goal awareness (Instagram 0.6); no competitors (0); no own
    # figures (0.5, unknown); no hours (cost 1). Default weights 0.30 / 0.25 / 0.15 / 0.20 / 0.10:
    # 100 x (0.30 x 0.75 + 0.25 x 0.6 + 0 + 0.20 x 0.5 + 0.10 x 1) = 22.5 + 15 + 10 + 10 = 57.5
    assert event.components == {"audience": Decimal("0.75"), "goal_fit": Decimal("0.6"),
                                "competitors": 0, "own_performance": Decimal("0.5"),
                                "cost": 1}  # fmt: skip
    assert event.score == Decimal("57.5")
    assert event.weights["audience"] == Decimal("0.3") and event.goal == "awareness"

    await platform.send(topics.STRATEGIES, first)  # redelivered: nothing new
    await asyncio.sleep(5)  # two more checker rounds
    again = await platform.read_topic(topics.AUDIT_PLATFORM_REVIEWS, expect=3, timeout=5)
    assert len(again) == 2

    audit = platform.http["audit"]
    r = await audit.get(f"/clients/{client}/platform-reviews", headers=headers)
    assert r.status_code == 200, r.text
    assert [(x["platform"], x["review_on"], x["status"]) for x in r.json()] == [
        ("meta_ads", "2026-10-01", "announced"), ("instagram", today.isoformat(), "announced"),
        ("facebook", "2027-06-01", "upcoming"),
    ]  # fmt: skip
    assert (r.json()[0]["score"], r.json()[1]["score"]) == (None, "57.5")

    # version 2 moves Instagram's review to yesterday: re-armed for the new date, once
    yesterday = today - timedelta(days=1)
    await platform.send(topics.STRATEGIES, strategy(tenant, client, 2, yesterday))
    records = await platform.read_topic(topics.AUDIT_PLATFORM_REVIEWS, expect=3, timeout=30)
    assert len(records) == 3
    moved = PlatformReviewDue.model_validate(json.loads(records[2].value))
    assert (moved.platform, moved.review_on) == ("instagram", yesterday)
    # a late version 1 (older) re-arms nothing
    await platform.send(topics.STRATEGIES, strategy(tenant, client, 1, today - timedelta(days=3)))

    async def listed() -> bool:
        r = await audit.get(f"/clients/{client}/platform-reviews", headers=headers)
        return [(x["review_on"], x["status"]) for x in r.json()] == [
            ("2026-10-01", "announced"), (yesterday.isoformat(), "announced"),
            (today.isoformat(), "announced"), ("2027-06-01", "upcoming"),
        ]  # fmt: skip

    await eventually(listed)
    await asyncio.sleep(5)
    assert len(await platform.read_topic(topics.AUDIT_PLATFORM_REVIEWS, expect=4, timeout=5)) == 3

    _, other = await platform.new_agency("Other")
    r = await audit.get(f"/clients/{client}/platform-reviews", headers=other)
    assert r.status_code == 404
    r = await audit.get(f"/clients/{client}/platform-reviews")
    assert r.status_code == 401
