"""The four cross-service flows, end to end over the real broker and database."""

from __future__ import annotations

import json

from shared import topics
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_body, budget_knows, observation


async def _client(platform: Platform, headers: dict[str, str]) -> str:
    r = await platform.http["calendar"].post(
        "/clients", json={"name": "Tasty Bakery", "timezone": "Europe/Berlin"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["client_id"])


async def test_schedule_ingest_budget_pause_and_audit(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Acme")
    client_id = await _client(platform, headers)
    await budget_knows(platform, tenant, client_id)
    r = await platform.http["budget"].post("/budgets", json=budget_body(client_id), headers=headers)
    assert r.status_code == 201, r.text
    budget_id = r.json()["budget_id"]

    # calendar: schedule a paid post -> PostScheduled on Kafka
    r = await platform.http["calendar"].post(
        f"/clients/{client_id}/posts",
        json={"platform": "instagram", "scheduled_at": "2026-12-01T09:00:00", "paid": True,
              "budget_id": budget_id, "content_type": "video", "pillar": "recipes"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["scheduled_at"] == "2026-12-01T08:00:00Z"  # 09:00 Berlin in winter
    scheduled = await platform.read_topic(topics.POSTS_SCHEDULED, expect=1)
    assert json.loads(scheduled[0].value)["post_id"] == post["post_id"]

    # metrics learns the post from the event
    async def metrics_knows_post() -> bool:
        return bool(await platform.db("metrics")["posts"].find_one({"post_id": post["post_id"]}))

    await eventually(metrics_knows_post)

    # a pipeline pushes observations with ad spend: 60 + 45.50 EUR of a 100 EUR budget
    for spend in ("60.00", "45.50"):
        await platform.send(
            topics.ANALYTICS_OBSERVATIONS,
            observation(tenant, client_id, spend=spend, post_id=post["post_id"]),
        )

    async def budget_state() -> dict | None:
        r = await platform.http["budget"].get(f"/budgets/{budget_id}", headers=headers)
        body = r.json()
        return body if body["spent"]["amount"] == "105.50" else None

    budget = await eventually(budget_state)
    assert budget["crossed_pct"] == [50, 80, 100]

    crossings = await platform.read_topic(topics.BUDGET_THRESHOLDS, expect=3)
    assert sorted(json.loads(c.value)["threshold_pct"] for c in crossings) == [50, 80, 100]

    async def post_paused() -> bool:
        r = await platform.http["calendar"].get(f"/clients/{client_id}/posts", headers=headers)
        return r.json()[0]["status"] == "paused"

    await eventually(post_paused)

    async def audited() -> dict | None:
        r = await platform.http["audit"].get(f"/clients/{client_id}/summary", headers=headers)
        body = r.json()  # 404 until the audit learned the client from ClientRegistered
        return body if r.status_code == 200 and body["observations"] == 2 else None

    summary = await audited() or await eventually(audited)
    instagram = summary["platforms"][0]
    assert instagram["metrics"]["impressions"] == "2000"
    assert instagram["engagements"] == "80"
    assert instagram["engagement_rate_by_impressions"] == "0.04"


async def test_ingested_event_reports_only_new_observations(platform: Platform) -> None:
    tenant, _ = await platform.new_agency()
    first = observation(tenant, "cl-1", spend="10.00")
    await platform.send(topics.ANALYTICS_OBSERVATIONS, first)
    await platform.send(topics.ANALYTICS_OBSERVATIONS, first)  # a replay of the same event
    await platform.send(topics.ANALYTICS_OBSERVATIONS, observation(tenant, "cl-1"))

    async def stored() -> int:
        return len(await platform.observations(tenant))

    await eventually(lambda: _equals(stored, 2))
    ingested = await platform.read_topic(topics.METRICS_INGESTED, expect=2, timeout=5)
    payloads = [json.loads(r.value) for r in ingested]
    assert sum(p["observations"] for p in payloads) == 2
    assert [line["observation_id"] for p in payloads for line in p["spend"]] == [first.event_id]


async def _equals(fn, value) -> bool:  # type: ignore[no-untyped-def]
    return await fn() == value
