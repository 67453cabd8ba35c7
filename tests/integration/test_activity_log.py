"""Issue 13 item 3, the activity log, over the real broker and database as an agency uses it:
an admin creates a strategy and a post, reschedules, pauses and resumes the post, plans a
budget and raises its limit, issues and revokes a key; `GET /activity` lists those changes
newest first with who, when, what and before/after; an analyst key gets 403, another agency
sees none of them, and a redelivered `ActivityRecorded` is stored once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import topics
from shared.events import ActivityRecorded
from tests.integration.conftest import Platform, eventually
from tests.integration.helpers import budget_knows
from tests.integration.test_budget_plan_ledger import _quarter
from tests.integration.test_calendar_generation import setup


async def test_an_admin_reads_the_activity_log(platform: Platform) -> None:
    tenant, admin, client_id, sid = await setup(platform)
    cal, budget = platform.http["calendar"], platform.http["budget"]
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, "start": "2027-03-01", "end": "2027-04-01"},
                   headers=admin)  # fmt: skip
    week = (await cal.get(f"/clients/{client_id}/calendar/week?date=2027-03-22&status=open"
                          "&platform=instagram", headers=admin)).json()  # fmt: skip
    r = await cal.post(f"/clients/{client_id}/slots/{week[0]['slot_id']}/post",
                       json={"caption": "Rye"}, headers=admin)  # fmt: skip
    assert r.status_code == 201, r.text
    post = r.json()
    url = f"/clients/{client_id}/posts/{post['post_id']}"
    r = await cal.post(f"{url}/reschedule",
                       json={"version": 1, "scheduled_at": "2027-03-24T09:00:00Z"},
                       headers=admin)  # fmt: skip
    assert r.status_code == 200, r.text
    r = await cal.post(f"{url}/pause", json={"version": 2, "reason": "hold"}, headers=admin)
    assert r.status_code == 200, r.text
    r = await cal.post(f"{url}/resume", json={"version": 3}, headers=admin)
    assert r.status_code == 200, r.text

    await budget_knows(platform, tenant, client_id)
    r = await budget.post("/budgets", json=_quarter(client_id), headers=admin)
    assert r.status_code == 201, r.text
    bid = r.json()["budget_id"]
    plan = {"limit": {"amount": "4000.00", "currency": "EUR"}, "note": "more money"}
    assert (await budget.put(f"/budgets/{bid}/plan", json=plan, headers=admin)).status_code == 200
    invoice = {"idempotency_key": "inv-1", "spent_on": "2026-02-02", "category": "tools",
               "amount": {"amount": "49.00", "currency": "EUR"}}  # fmt: skip
    for _ in range(2):  # the same key twice books (and logs) once
        r = await budget.post(f"/budgets/{bid}/entries", json=invoice, headers=admin)
        assert r.status_code in (200, 201), r.text
    entry_id = r.json()["entry_id"]
    r = await budget.post(f"/budgets/{bid}/entries/{entry_id}/reverse", json={"reason": "dup"},
                          headers=admin)  # fmt: skip
    assert r.status_code == 201, r.text

    r = await cal.post("/keys", json={"name": "Reader", "role": "analyst"}, headers=admin)
    assert r.status_code == 201, r.text
    analyst_key, analyst_id = r.json()["key"], r.json()["record"]["key_id"]
    analyst = {"X-API-Key": analyst_key}
    assert (await cal.get("/activity", headers=analyst)).status_code == 403
    assert (await cal.delete(f"/keys/{analyst_id}", headers=admin)).status_code == 200

    expected = [
        ("key", analyst_id, "revoked"),
        ("key", analyst_id, "created"),
        ("budget", bid, "entry_reversed"),
        ("budget", bid, "entry_booked"),
        ("budget", bid, "plan_replaced"),
        ("budget", bid, "created"),
        ("post", post["post_id"], "resumed"),
        ("post", post["post_id"], "paused"),
        ("post", post["post_id"], "rescheduled"),
        ("post", post["post_id"], "created"),
        ("strategy", sid, "created"),
    ]
    entries: list[dict[str, Any]] = []

    async def logged() -> bool:
        nonlocal entries
        r = await cal.get("/activity", headers=admin)
        assert r.status_code == 200, r.text
        entries = r.json()
        return len(entries) >= len(expected)

    await eventually(logged, timeout=30)
    assert [(e["entity"], e["entity_id"], e["action"]) for e in entries] == expected
    # compared as instants: a time on a whole second is written without a fraction
    # ("...:18Z"), which sorts after "...:18.821000Z" as a string
    times = [datetime.fromisoformat(e["occurred_at"]) for e in entries]
    assert times == sorted(times, reverse=True)
    keys = (await cal.get("/keys", headers=admin)).json()
    admin_id = next(k["key_id"] for k in keys if k["role"] == "admin")
    assert {(e["key_id"], e["role"]) for e in entries} == {(admin_id, "admin")}
    assert {e["service"] for e in entries} == {"calendar", "budget"}

    paused = entries[7]
    assert (paused["before"]["status"], paused["after"]["status"]) == ("scheduled", "paused")
    assert paused["after"]["paused_reason"] == "hold"
    moved = entries[8]
    assert moved["client_id"] == client_id
    assert moved["before"]["scheduled_at"] == post["scheduled_at"]
    assert moved["after"]["scheduled_at"].startswith("2027-03-24T09:00:00")
    raised = entries[4]
    assert (raised["before"]["limit"]["amount"], raised["after"]["limit"]["amount"]) == (
        "3000.00",
        "4000.00",
    )
    assert entries[3]["after"]["entry_id"] == entry_id
    assert entries[3]["after"]["amount"] == "49.00"
    assert entries[2]["after"]["reverses"] == entry_id
    assert entries[1]["before"] is None and entries[1]["after"]["role"] == "analyst"
    assert entries[0]["before"]["revoked_at"] is None and entries[0]["after"]["revoked_at"]
    # No secret in the log: neither the keys nor anything named like one.
    text = (await cal.get("/activity", headers=admin)).text
    assert analyst_key not in text and admin["X-API-Key"] not in text

    # Filters, pages and their validation.
    r = await cal.get("/activity", params={"entity": "post"}, headers=admin)
    assert [e["action"] for e in r.json()] == ["resumed", "paused", "rescheduled", "created"]
    r = await cal.get("/activity", params={"entity_id": bid, "limit": 1}, headers=admin)
    assert [e["action"] for e in r.json()] == ["entry_reversed"]
    r = await cal.get("/activity", params={"cursor": r.headers["x-next-cursor"], "limit": 1},
                      headers=admin)  # fmt: skip
    assert [e["action"] for e in r.json()] == ["entry_booked"]
    r = await cal.get("/activity", params={"since": entries[1]["occurred_at"]}, headers=admin)
    assert [e["action"] for e in r.json()] == ["revoked", "created"]
    for bad, field in [({"entity": "client"}, "entity"), ({"since": "2026-01-01T00:00:00"},
                       "since"), ({"limit": 501}, "limit")]:  # fmt: skip
        r = await cal.get("/activity", params=bad, headers=admin)
        assert r.status_code == 422 and field in r.json()["detail"][0]["loc"], (bad, r.text)

    # Another agency sees none of it.
    _, other = await platform.new_agency("Other")
    r = await cal.get("/activity", headers=other)
    assert r.status_code == 200 and r.json() == []

    # A redelivered entry is stored once.
    event = ActivityRecorded.new(
        producer="calendar", tenant_id=tenant, key_id=admin_id, role="admin", entity="post",
        entity_id=post["post_id"], client_id=client_id, action="edited",
        before='{"caption":"Rye"}', after='{"caption":"Dark rye"}',
    )  # fmt: skip
    await platform.send(topics.ACTIVITY, event)
    await platform.send(topics.ACTIVITY, event)

    async def stored() -> bool:
        r = await cal.get("/activity", params={"entity": "post"}, headers=admin)
        return any(e["event_id"] == event.event_id for e in r.json())

    await eventually(stored, timeout=30)
    await platform.send(topics.ACTIVITY, event)  # a third time, after it was stored
    found = await platform.db("calendar")["activity"].count_documents(
        {"tenant_id": tenant, "event_id": event.event_id}
    )
    assert found == 1
    r = await cal.get("/activity", params={"entity": "post"}, headers=admin)
    assert [e["action"] for e in r.json()][:1] == ["edited"]
