"""A platform trial past its end date is judged from the client's own account on the platform
(keep: the criterion was met) and `PlatformTrialEnded` is published exactly once; platform
choice scores audience presence from the calendar strategy's personas (over Kafka)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import tests.integration.test_audit_competitors as scenario
from shared import topics
from shared.events import PlatformTrialEnded
from tests.integration.conftest import Platform, eventually
from tests.unit.calendar.strategies import strategy_body


async def test_an_ended_trial_publishes_its_recommendation_once(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Bakers")
    client = await scenario.new_client(platform, headers)
    audit = platform.http["audit"]
    own = {"platform": "tiktok", "account_id": "own-tt", "owned": True}
    r = await audit.put(
        f"/clients/{client}/audit/accounts", json={"accounts": [own]}, headers=headers
    )
    assert r.status_code == 200
    for day, followers in ((1, 100), (30, 180)):
        await platform.send(topics.ANALYTICS_OBSERVATIONS, scenario.obs(
            tenant, client, "tiktok", "own-tt", True, entity_level="account", entity_id="own-tt",
            observed_at=datetime(2026, 9, day, tzinfo=UTC),
            metrics=[{"name": "followers", "value": followers}],
        ))  # fmt: skip
    await scenario.seen(platform, 2)
    bad = {"platform": "tiktok", "start": "2026-09-01", "end": "2026-08-01",
           "metric": "followers_end", "target": "150"}  # fmt: skip
    r = await audit.post(f"/clients/{client}/audit/platform-trials", json=bad, headers=headers)
    assert r.status_code == 422
    assert "end: the trial ends before it starts" in r.text
    trial = {**bad, "end": "2026-09-30"}
    r = await audit.post(f"/clients/{client}/audit/platform-trials", json=trial, headers=headers)
    assert r.status_code == 201, r.text
    trial_id = r.json()["trial_id"]

    records = await platform.read_topic(topics.AUDIT_PLATFORMS, expect=1, timeout=30)
    event = PlatformTrialEnded.model_validate(json.loads(records[0].value))
    assert (event.trial_id, event.recommendation, event.achieved) == (trial_id, "keep", 180)
    assert "reached the target 150" in event.reason

    async def ended() -> bool:
        r = await audit.get(f"/clients/{client}/audit/platform-trials", headers=headers)
        return r.json()[0]["status"] == "ended"

    await eventually(ended)
    await asyncio.sleep(5)  # two more checker rounds: nothing more is published
    again = await platform.read_topic(topics.AUDIT_PLATFORMS, expect=2, timeout=5)
    assert len(again) == 1


async def test_platform_choice_scores_every_platform(platform: Platform) -> None:
    _, headers = await platform.new_agency("Bakers")
    client = await scenario.new_client(platform, headers)
    r = await platform.http["audit"].post(
        f"/clients/{client}/audit/platform-choice",
        params={"start": "2026-10-01", "end": "2026-10-31"},
        json={"goal": "b2b_leads", "staff_hours_per_week": {"linkedin": "2", "tiktok": "8"}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    scores = r.json()
    assert len(scores) == 6 and scores[0]["platform"] == "linkedin"  # B2B fit, cheapest
    assert scores[0]["components"]["cost"] == "0.75"
    r = await platform.http["audit"].post(
        f"/clients/{client}/audit/platform-choice",
        params={"start": "2026-10-01", "end": "2026-10-31"},
        json={"weights": {"audience": "-1"}},
        headers=headers,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "weights"]

    # The calendar's strategy reaches the audit over Kafka with its personas and review dates:
    # 3 personas, 2 on Instagram, 1 on TikTok, 1 on Facebook (facebook reviewed 2027-09-30,
    # the others a year after the start, 2028-01-01).
    personas = [
        {"name": name, "age_min": 20, "age_max": 60,
         "platforms": [{"platform": p} for p in platforms]}
        for name, platforms in (("Parent", ["instagram"]), ("Student", ["instagram", "tiktok"]),
                                ("Retiree", ["facebook"]))
    ]  # fmt: skip
    body = strategy_body(personas=personas)
    body["platforms"][1] = body["platforms"][1] | {"reevaluate_on": "2027-09-30"}
    r = await platform.http["calendar"].post(
        f"/clients/{client}/strategies", json=body, headers=headers
    )
    assert r.status_code == 201, r.text

    async def scored() -> dict[str, dict[str, Any]]:
        r = await platform.http["audit"].post(
            f"/clients/{client}/audit/platform-choice",
            params={"start": "2026-10-01", "end": "2026-10-31"},
            json={"goal": "b2b_leads", "staff_hours_per_week": {"linkedin": "2", "tiktok": "8"}},
            headers=headers,
        )
        return {s["platform"]: s for s in r.json()}

    async def arrived() -> bool:
        return (await scored())["instagram"]["components"]["audience"] == "0.666667"

    await eventually(arrived)
    scores = await scored()
    # goal b2b_leads: Instagram, TikTok, Facebook L 0.2, LinkedIn H 1; no competitors; own
    # unknown 0.5; cost 1 - hours / 8 (LinkedIn 0.75, TikTok 0), else 1:
    # Instagram 100 x (0.30 x 2/3 + 0.25 x 0.2 + 0 + 0.20 x 0.5 + 0.10) = 20 + 5 + 10 + 10
    assert scores["instagram"]["score"] == "45"
    assert scores["linkedin"]["score"] == "42.5"  # 0 + 25 + 10 + 7.5: no persona there now
    assert scores["tiktok"]["components"]["audience"] == "0.333333"
    assert scores["tiktok"]["score"] == "25"  # 10 + 5 + 10 + 0
    r = await platform.http["audit"].get(f"/clients/{client}/platform-reviews", headers=headers)
    assert [(x["platform"], x["review_on"], x["status"]) for x in r.json()] == [
        ("facebook", "2027-09-30", "upcoming"), ("instagram", "2028-01-01", "upcoming"),
        ("tiktok", "2028-01-01", "upcoming"),
    ]  # fmt: skip
