"""Pause and resume across services on the real broker and database (issue 10 item 4): spend
over 100 % pauses a budget's paid posts; money added and the budget resumed over the budget
HTTP API publishes BudgetResumed, and the calendar schedules again exactly the posts that
budget paused (one PostResumed each, once), never a post paused by hand or by another budget,
nor another agency's."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.calendar.repository import OBSOLETE_INDEXES
from shared import mongo, topics
from shared.events import BudgetResumed, BudgetThresholdCrossed
from shared.money import Money
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_body, budget_knows
from tests.integration.test_publishing_lifecycle import (
    lifecycle,
    new_client,
    posts,
    sandbox,  # noqa: F401 (fixture)
    schedule,
)


async def _handled(platform: Platform, tenant_id: str, event_id: str) -> None:
    """Wait until the calendar recorded this event as processed."""
    done = platform.db("calendar")[mongo.PROCESSED]
    key = f"calendar:{tenant_id}:{event_id}"

    async def seen() -> bool:
        return await done.find_one({"_id": key}) is not None

    await eventually(seen)


async def test_resumed_budget_reschedules_only_the_posts_it_paused(
    sandbox: str,  # noqa: F811 (the fixture imported above)
    platform: Platform,
) -> None:
    tenant, headers, client_id = await new_client(platform)
    await budget_knows(platform, tenant, client_id)
    budgets, cal = platform.http["budget"], platform.http["calendar"]
    r = await budgets.post("/budgets", json=budget_body(client_id, "100.00"), headers=headers)
    assert r.status_code == 201, r.text
    bid = r.json()["budget_id"]

    later = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat()

    async def paid(budget_id: str) -> dict[str, Any]:
        return await schedule(platform, headers, client_id, platform="facebook",
                              scheduled_at=later, paid=True, budget_id=budget_id)  # fmt: skip

    mine = [await paid(bid) for _ in range(3)]  # the last one's time will have passed
    by_hand = await paid(bid)
    other = await paid("bu-other")
    url = f"/clients/{client_id}/posts"
    r = await cal.post(f"{url}/{by_hand['post_id']}/pause", json={"reason": "waiting for legal"},
                       headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    await platform.send(
        topics.BUDGET_THRESHOLDS,
        BudgetThresholdCrossed.new(
            producer="budget", tenant_id=tenant, budget_id="bu-other", client_id=client_id,
            threshold_pct=100, spent=Money(amount=Decimal("10"), currency="EUR"),
            limit=Money(amount=Decimal("10"), currency="EUR"), pause_paid_posts=True,
        ),
    )  # fmt: skip

    # 120.00 of 100.00: 50, 80 and 100 % at once; at 100 % the calendar pauses the paid posts
    entry = {"idempotency_key": "inv-1", "spent_on": datetime.now(UTC).date().isoformat(),
             "amount": {"amount": "120.00", "currency": "EUR"}}  # fmt: skip
    r = await budgets.post(f"/budgets/{bid}/entries", json=entry, headers=headers)
    assert r.status_code == 201, r.text
    everyone = {p["post_id"] for p in [*mine, by_hand, other]}

    async def all_paused() -> bool:
        return {p["post_id"] for p in await posts(platform, headers, client_id, "paused")} == (
            everyone
        )

    await eventually(all_paused)
    paused = {p["post_id"]: p for p in await posts(platform, headers, client_id, "paused")}
    assert [paused[p["post_id"]]["paused_budget_id"] for p in mine] == [bid] * 3
    assert paused[other["post_id"]]["paused_budget_id"] == "bu-other"
    assert paused[by_hand["post_id"]]["paused_budget_id"] is None

    # while paused, the third post's time passes (a paused post may be moved)
    late = paused[mine[2]["post_id"]]
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    r = await cal.post(f"{url}/{late['post_id']}/reschedule",
                       json={"version": late["version"], "scheduled_at": past},
                       headers=headers)  # fmt: skip
    assert (r.status_code, r.json()["status"]) == (200, "paused"), r.text

    # another agency's BudgetResumed naming this budget and client: refused by tenancy
    intruder, _ = await platform.new_agency("Intruder")
    foreign = BudgetResumed.new(
        producer="budget", tenant_id=intruder, budget_id=bid, client_id=client_id,
        reason="not yours", spent=Money(amount=Decimal("1"), currency="EUR"),
        limit=Money(amount=Decimal("500"), currency="EUR"),
    )  # fmt: skip
    await platform.send(topics.BUDGET_RESUMPTIONS, foreign)
    await _handled(platform, intruder, foreign.event_id)
    assert {p["post_id"] for p in await posts(platform, headers, client_id, "paused")} == everyone

    # add money and resume over the budget HTTP API: BudgetResumed on budget.resumptions.v1
    plan = {"limit": {"amount": "300.00", "currency": "EUR"}, "note": "client added 200"}
    r = await budgets.put(f"/budgets/{bid}/plan", json=plan, headers=headers)
    assert r.status_code == 200, r.text
    r = await budgets.post(f"/budgets/{bid}/resume", json={"reason": "topped up"}, headers=headers)
    assert r.status_code == 200, r.text
    records = await platform.read_topic(topics.BUDGET_RESUMPTIONS, expect=2)
    [record] = [r for r in records if json.loads(r.value)["tenant_id"] == tenant]
    resumed_event = json.loads(record.value)
    assert (resumed_event["event_type"], resumed_event["budget_id"]) == ("BudgetResumed", bid)

    async def mine_back() -> bool:
        left = {p["post_id"] for p in await posts(platform, headers, client_id, "paused")}
        return left == {by_hand["post_id"], other["post_id"]}

    await eventually(mine_back)
    scheduled = {p["post_id"] for p in await posts(platform, headers, client_id, "scheduled")}
    assert scheduled >= {mine[0]["post_id"], mine[1]["post_id"]}
    for post in mine[:2]:
        doc = (await cal.get(f"{url}/{post['post_id']}", headers=headers)).json()
        assert (doc["status"], doc["paused_reason"], doc["paused_budget_id"]) == (
            "scheduled",
            None,
            None,
        )
        assert doc["scheduled_at"] == post["scheduled_at"]  # its time is kept
    still = {p["post_id"]: p for p in await posts(platform, headers, client_id, "paused")}
    assert still[by_hand["post_id"]]["paused_reason"] == "waiting for legal"
    assert "bu-other" in still[other["post_id"]]["paused_reason"]

    # as with the resume route, a post whose time passed while paused is due at once
    async def late_out() -> bool:
        doc = (await cal.get(f"{url}/{late['post_id']}", headers=headers)).json()
        return bool(doc["status"] == "published")

    await eventually(late_out, timeout=20)

    # spend crosses the raised limit (re-armed by the resume): the two waiting posts pause again
    entry = entry | {"idempotency_key": "inv-2", "amount": {"amount": "200.00", "currency": "EUR"}}
    r = await budgets.post(f"/budgets/{bid}/entries", json=entry, headers=headers)
    assert r.status_code == 201, r.text
    again = {mine[0]["post_id"], mine[1]["post_id"], by_hand["post_id"], other["post_id"]}

    async def paused_again() -> bool:
        return {p["post_id"] for p in await posts(platform, headers, client_id, "paused")} == again

    await eventually(paused_again)

    # the old BudgetResumed redelivered resumes nothing; then another of the intruder's on the
    # same partition (handled in order: once it is recorded, the repeat was handled before it)
    await platform.send(topics.BUDGET_RESUMPTIONS, record.value, key=record.key)
    marker = BudgetResumed.new(
        producer="budget", tenant_id=intruder, budget_id=bid, client_id=client_id,
        reason="marker", spent=Money(amount=Decimal("1"), currency="EUR"),
        limit=Money(amount=Decimal("500"), currency="EUR"),
    )  # fmt: skip
    await platform.send(topics.BUDGET_RESUMPTIONS, marker, key=record.key)
    await _handled(platform, intruder, marker.event_id)
    assert {p["post_id"] for p in await posts(platform, headers, client_id, "paused")} == again

    # lifecycle: 3 pauses by this budget, 1 by hand, 1 by bu-other, 1 reschedule; then 3
    # resumes, the late post's due and published, 2 pauses again; one more is never there
    events = await lifecycle(platform, expect=14, timeout=4)
    kinds = Counter((e["event_type"], e["post_id"]) for e in events)
    assert len(events) == 13, kinds
    for post, pauses in zip(mine, (2, 2, 1), strict=True):
        assert kinds[("PostPaused", post["post_id"])] == pauses
        assert kinds[("PostResumed", post["post_id"])] == 1
    for post in (by_hand, other):
        assert kinds[("PostPaused", post["post_id"])] == 1
        assert kinds[("PostResumed", post["post_id"])] == 0
    assert kinds[("PostRescheduled", late["post_id"])] == 1
    assert kinds[("PostDue", late["post_id"])] == kinds[("PostPublished", late["post_id"])] == 1
    resumes = [e for e in events if e["event_type"] == "PostResumed"]
    assert {e["causation_id"] for e in resumes} == {resumed_event["event_id"]}


async def test_resume_is_planned_on_the_budget_index_and_the_old_index_is_dropped(
    platform: Platform,
) -> None:
    """The posts a budget pauses, and later resumes, are found on (tenant_id, budget_id, status),
    not by a scan; the
    (tenant_id, paused_budget_id) index an older version made is dropped at start-up."""
    db = platform.db("calendar")
    scratch = db.client[f"{db.name}_old_{datetime.now(UTC):%H%M%S%f}"]
    try:
        await scratch.posts.create_index([("tenant_id", 1), ("paused_budget_id", 1)])
        await scratch.posts.create_index([("tenant_id", 1), ("budget_id", 1), ("status", 1)])
        await mongo.drop_indexes(scratch, OBSOLETE_INDEXES)
        await mongo.drop_indexes(scratch, OBSOLETE_INDEXES)  # again: nothing left to drop
        names = {i["name"] async for i in await scratch.posts.list_indexes()}
        assert names == {"_id_", "tenant_id_1_budget_id_1_status_1"}
        await scratch.posts.insert_many([{"_id": i, "tenant_id": "t", "budget_id": f"bu-{i}",
                                          "status": "paused", "paused_budget_id": f"bu-{i}"}
                                         for i in range(5)])  # fmt: skip
        # the posts it paused (resume), and the posts to pause (pause)
        for query in ({"tenant_id": "t", "budget_id": "bu-1", "status": "paused"},
                      {"tenant_id": "t", "budget_id": "bu-1",
                       "status": {"$in": ["scheduled", "due"]}}):  # fmt: skip
            explained = await scratch.command("explain", {"find": "posts", "filter": query})
            plan = str(explained["queryPlanner"]["winningPlan"])
            assert "tenant_id_1_budget_id_1_status_1" in plan and "COLLSCAN" not in plan
    finally:
        await db.client.drop_database(scratch.name)
    names = {i["name"] async for i in await db.posts.list_indexes()}
    assert "tenant_id_1_paused_budget_id_1" not in names
