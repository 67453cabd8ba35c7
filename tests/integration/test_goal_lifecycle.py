"""SMART goals as live objects over the real broker and database: created over HTTP, evaluated
as observations arrive through Kafka, with GoalProgressed / GoalAtRisk / GoalAchieved /
GoalMissed on metrics.goals.v1, goals counted per agency and state in Prometheus (never a series
per goal), per-agency isolation, the cap of open goals per client and a paginated list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from shared import topics
from shared.events import AnalyticsObserved
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import observation

CLIENT = "cl-bakery"


def followers(tenant: str, value: int, at: datetime, **extra: Any) -> AnalyticsObserved:
    """An account-level follower count: a running total, read at `at`."""
    return observation(
        tenant,
        CLIENT,
        entity_level="account",
        entity_id=extra.pop("account", "ig-acct-1"),
        window="lifetime",
        cumulative=True,
        metrics={"followers": value},
        observed_at=at,
        **extra,
    )


def goal_body(now: datetime, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": CLIENT,
        "name": "Instagram followers from 1,000 to 1,100",
        "metric": "followers",
        "platform": "instagram",
        "baseline": "1000",
        "target_value": "1100",
        "start": (now - timedelta(days=2)).isoformat(),
        "deadline": (now + timedelta(days=3)).isoformat(),
    }
    return {k: v for k, v in (body | changes).items() if v is not None}


async def create_goal(platform: Platform, headers: dict[str, str], body: dict[str, Any]) -> Any:
    r = await platform.http["metrics"].post("/goals", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def goal_when(
    platform: Platform, headers: dict[str, str], goal_id: str, **expected: Any
) -> dict[str, Any]:
    """Poll GET /goals/{id} until every expected field has its value."""

    async def check() -> dict[str, Any] | None:
        r = await platform.http["metrics"].get(f"/goals/{goal_id}", headers=headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if all(body[k] == v for k, v in expected.items()) else None

    result: dict[str, Any] = await eventually(check)
    return result


async def goal_events(platform: Platform, goal_id: str, expect: int) -> list[dict[str, Any]]:
    """The goal's events on metrics.goals.v1, once `expect` of them (of all goals) arrived."""
    records = await platform.read_topic(topics.GOAL_EVENTS, expect=expect)
    events = [json.loads(r.value) for r in records]
    return [e for e in events if e["goal_id"] == goal_id]


async def gauge(platform: Platform, name: str, **labels: str) -> float | None:
    """A sample's value as the metrics service's /metrics serves it (None if absent)."""
    text = (await platform.http["metrics"].get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


async def goal_series(platform: Platform) -> list[Any]:
    """Samples on /metrics that carry a goal label (there must be none: unbounded)."""
    text = (await platform.http["metrics"].get("/metrics")).text
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "goal" in sample.labels or "goal_id" in sample.labels
    ]


async def stored(platform: Platform, tenant: str, n: int) -> None:
    async def count() -> bool:
        return len(await platform.observations(tenant)) == n

    await eventually(count)


async def test_goal_progresses_as_data_arrives_then_is_achieved(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Acme")
    now = datetime.now(UTC)
    goal = await create_goal(platform, headers, goal_body(now))
    assert (goal["state"], goal["current"], goal["progress"]) == ("on_track", "1000", "0.000000")
    assert (goal["baseline"], goal["target"], goal["baseline_source"]) == ("1000", "1100", "given")
    goal_id = goal["goal_id"]

    await platform.send(
        topics.ANALYTICS_OBSERVATIONS, followers(tenant, 1050, now - timedelta(days=1))
    )
    halfway = await goal_when(platform, headers, goal_id, progress="0.500000")
    assert (halfway["state"], halfway["current"]) == ("on_track", "1050")
    assert halfway["projected"] == "1250.000000"  # 50 a day from 1,000 over 5 days

    await platform.send(topics.ANALYTICS_OBSERVATIONS, followers(tenant, 1120, now))
    done = await goal_when(platform, headers, goal_id, state="achieved")
    assert (done["open"], done["current"], done["progress"]) == (False, "1120", "1.200000")

    events = await goal_events(platform, goal_id, expect=3)
    assert [e["event_type"] for e in events] == ["GoalProgressed", "GoalProgressed", "GoalAchieved"]
    assert [e["progress"] for e in events] == ["0.000000", "0.500000", "1.200000"]
    assert [e["previous_state"] for e in events] == [None, "on_track", "on_track"]
    assert all(e["tenant_id"] == tenant and e["client_id"] == CLIENT for e in events)
    assert len({e["event_id"] for e in events}) == 3

    # achieved is final: more data and more evaluations change nothing and publish nothing
    tracker = platform.apps["metrics"].state.goal_tracker
    stored_goal = await platform.db("metrics")["goals"].find_one({"_id": goal_id})
    assert (await tracker.evaluate_goal(stored_goal))["revision"] == stored_goal["revision"]
    assert len(await platform.read_topic(topics.GOAL_EVENTS, expect=4, timeout=3)) == 3

    # Prometheus counts the agency's goals by state; the goal's own progress is in the API
    assert await gauge(platform, "socialops_goals", tenant=tenant, state="achieved") == 1
    assert await gauge(platform, "socialops_goals", tenant=tenant, state="on_track") == 0
    assert not await goal_series(platform)


async def test_slow_trend_puts_a_goal_at_risk_with_baseline_from_history(
    platform: Platform,
) -> None:
    tenant, headers = await platform.new_agency("Acme")
    now = datetime.now(UTC)
    start = now - timedelta(days=10)
    await platform.send(
        topics.ANALYTICS_OBSERVATIONS, followers(tenant, 1000, start - timedelta(hours=1))
    )
    await stored(platform, tenant, 1)

    body = goal_body(
        now,
        baseline=None,
        target_value=None,
        target_change_pct="10",
        start=start.isoformat(),
        deadline=(now + timedelta(days=1)).isoformat(),
    )
    goal = await create_goal(platform, headers, body)
    assert (goal["baseline"], goal["baseline_source"], goal["target"]) == (
        "1000",
        "history",
        "1100.0",
    )
    assert goal["state"] == "on_track"

    # one follower in ten days: the trend reaches ~1,001 at the deadline, short of 1,100
    await platform.send(
        topics.ANALYTICS_OBSERVATIONS, followers(tenant, 1001, now - timedelta(hours=1))
    )
    risky = await goal_when(platform, headers, goal["goal_id"], state="at_risk")
    assert risky["open"] is True
    assert risky["progress"] == "0.010000"

    events = await goal_events(platform, goal["goal_id"], expect=2)
    assert [e["event_type"] for e in events] == ["GoalProgressed", "GoalAtRisk"]
    assert events[1]["previous_state"] == "on_track"
    assert float(events[1]["projected"]) < 1100


async def test_deadline_passing_without_data_misses_the_goal(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Acme")
    now = datetime.now(UTC)
    body = goal_body(now, deadline=(now + timedelta(seconds=2)).isoformat())
    goal = await create_goal(platform, headers, body)
    tracker = platform.apps["metrics"].state.goal_tracker

    async def missed() -> bool:
        await tracker.evaluate_due()  # what the background loop does every interval
        r = await platform.http["metrics"].get(f"/goals/{goal['goal_id']}", headers=headers)
        return bool(r.json()["state"] == "missed")

    await eventually(missed, timeout=15, interval=0.5)
    events = await goal_events(platform, goal["goal_id"], expect=2)
    assert [e["event_type"] for e in events] == ["GoalProgressed", "GoalMissed"]
    assert events[1]["state"] == "missed"
    assert await gauge(platform, "socialops_goals", tenant=tenant, state="missed") == 1


async def test_kpi_goal_is_measured_over_the_goal_window(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Acme")
    now = datetime.now(UTC)
    body = goal_body(now, metric="ctr", baseline="0.01", target_value="0.02")
    goal = await create_goal(platform, headers, body)
    assert goal["kind"] == "kpi"

    post = observation(
        tenant,
        CLIENT,
        metrics={"clicks": 30, "impressions": 1000},
        observed_at=now - timedelta(hours=1),
    )
    await platform.send(topics.ANALYTICS_OBSERVATIONS, post)
    done = await goal_when(platform, headers, goal["goal_id"], state="achieved")
    assert done["current"] == "0.03"
    events = await goal_events(platform, goal["goal_id"], expect=2)
    assert [e["event_type"] for e in events] == ["GoalProgressed", "GoalAchieved"]


async def test_flow_goal_with_relative_target_counts_from_start(platform: Platform) -> None:
    tenant, headers = await platform.new_agency("Acme")
    now = datetime.now(UTC)
    start = now - timedelta(days=2)
    # 40 clicks in the two days before start: the reference a +25% target scales
    before = observation(
        tenant,
        CLIENT,
        entity_id="media-old",
        metrics={"clicks": 40},
        observed_at=start - timedelta(days=1),
    )
    await platform.send(topics.ANALYTICS_OBSERVATIONS, before)
    await stored(platform, tenant, 1)

    body = goal_body(
        now,
        metric="clicks",
        baseline=None,
        target_value=None,
        target_change_pct="25",
        start=start.isoformat(),
        deadline=(now + timedelta(days=2)).isoformat(),
    )
    goal = await create_goal(platform, headers, body)
    assert (goal["kind"], goal["baseline"], goal["reference"]) == ("flow", "0", "40")
    assert goal["target"] == "50.00"

    after = observation(
        tenant,
        CLIENT,
        entity_id="media-new",
        metrics={"clicks": 30},
        observed_at=now - timedelta(hours=2),
    )
    await platform.send(topics.ANALYTICS_OBSERVATIONS, after)
    await goal_when(platform, headers, goal["goal_id"], current="30", progress="0.600000")
    more = observation(
        tenant,
        CLIENT,
        entity_id="media-new",
        metrics={"clicks": 55},
        observed_at=now - timedelta(hours=1),
    )
    await platform.send(topics.ANALYTICS_OBSERVATIONS, more)
    done = await goal_when(platform, headers, goal["goal_id"], state="achieved")
    assert done["current"] == "55"  # the running total of media-new, counted from start


async def test_goals_that_are_not_smart_are_rejected_with_field_and_reason(
    platform: Platform,
) -> None:
    _, headers = await platform.new_agency("Acme")
    now = datetime.now(UTC)
    http = platform.http["metrics"]

    async def rejection(body: dict[str, Any]) -> dict[str, Any]:
        r = await http.post("/goals", json=body, headers=headers)
        assert r.status_code == 422, r.text
        [error] = r.json()["detail"]
        return {"field": error["loc"][-1], "msg": error["msg"]}

    unknown = await rejection(goal_body(now, metric="brand_love"))
    assert unknown["field"] == "metric"
    assert "'brand_love' is not measurable" in unknown["msg"]

    no_deadline = await rejection(goal_body(now, deadline=None))
    assert no_deadline == {"field": "deadline", "msg": no_deadline["msg"]}
    assert "not time-bound" in no_deadline["msg"]

    past = await rejection(
        goal_body(
            now,
            deadline=(now - timedelta(days=1)).isoformat(),
            start=(now - timedelta(days=5)).isoformat(),
        )
    )
    assert past["field"] == "deadline" and "already passed" in past["msg"]

    no_history = await rejection(goal_body(now, baseline=None))
    assert no_history["field"] == "baseline" and "no stored history" in no_history["msg"]

    r = await http.get("/goals", headers=headers)
    assert r.json() == []


async def test_another_agency_cannot_see_or_delete_a_goal(platform: Platform) -> None:
    _, headers = await platform.new_agency("Acme")
    _, other = await platform.new_agency("Rival")
    http = platform.http["metrics"]
    goal = await create_goal(platform, headers, goal_body(datetime.now(UTC)))
    path = f"/goals/{goal['goal_id']}"

    assert (await http.get(path, headers=other)).status_code == 404
    assert (await http.delete(path, headers=other)).status_code == 404
    assert (await http.get("/goals", headers=other)).json() == []
    assert (await http.get(path)).status_code == 401

    mine = (await http.get("/goals", params={"client_id": CLIENT}, headers=headers)).json()
    assert [g["goal_id"] for g in mine] == [goal["goal_id"]]
    assert (await http.delete(path, headers=headers)).status_code == 204
    assert (await http.get(path, headers=headers)).status_code == 404


async def test_open_goals_per_client_are_capped(platform: Platform) -> None:
    """Issue 14 item 8: past the cap of open goals per client, POST /goals answers 409 naming
    the limit; another client, or the same one after a goal is deleted, may add goals."""
    tenant, headers = await platform.new_agency("Acme")
    platform.apps["metrics"].state.goal_tracker.max_open_per_client = 3  # setting, lowered
    now = datetime.now(UTC)
    goals = [await create_goal(platform, headers, goal_body(now)) for _ in range(3)]
    http = platform.http["metrics"]

    r = await http.post("/goals", json=goal_body(now), headers=headers)
    assert r.status_code == 409, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "client_id"] and error["limit"] == 3
    assert "3 open goals" in error["msg"] and "METRICS_MAX_OPEN_GOALS_PER_CLIENT" in error["msg"]
    assert await create_goal(platform, headers, goal_body(now, client_id="cl-other"))

    assert (await http.delete(f"/goals/{goals[0]['goal_id']}", headers=headers)).status_code == 204
    assert await create_goal(platform, headers, goal_body(now))
    assert await gauge(platform, "socialops_goals", tenant=tenant, state="on_track") == 4


async def test_goal_list_is_paginated(platform: Platform) -> None:
    """Issue 14 item 8 (and 10): GET /goals answers a page of at most `limit` (<= 500)."""
    _, headers = await platform.new_agency("Acme")
    now = datetime.now(UTC)
    made = [(await create_goal(platform, headers, goal_body(now)))["goal_id"] for _ in range(5)]
    http = platform.http["metrics"]

    async def page(**params: Any) -> list[str]:
        r = await http.get("/goals", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [g["goal_id"] for g in r.json()]

    assert await page() == made
    assert await page(limit=2) == made[:2]
    assert await page(limit=2, offset=2) == made[2:4]
    assert await page(limit=2, offset=4) == made[4:]
    assert await page(state="on_track", limit=3) == made[:3]
    assert await page(state="achieved") == []
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        r = await http.get("/goals", params=bad, headers=headers)
        assert r.status_code == 422, (bad, r.text)
