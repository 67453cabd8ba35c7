"""Slots to posts on the real database and broker: fill, edit with optimistic concurrency,
reschedule (the slot follows, `PostRescheduled` on Kafka) and cancel (`PostCancelled`)."""

from __future__ import annotations

import json

from shared import topics
from tests.integration.conftest import Platform
from tests.integration.test_calendar_generation import setup


async def test_fill_edit_move_cancel(platform: Platform) -> None:
    tenant, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, "start": "2027-03-01", "end": "2027-04-01"},
                   headers=headers)  # fmt: skip
    week = (await cal.get(f"/clients/{client_id}/calendar/week?date=2027-03-22&status=open"
                          "&platform=instagram", headers=headers)).json()  # fmt: skip
    slot = week[0]
    post = (await cal.post(f"/clients/{client_id}/slots/{slot['slot_id']}/post",
                           json={"caption": "Rye", "link": "https://bakery.example/rye"},
                           headers=headers)).json()  # fmt: skip
    assert (post["version"], post["status"], post["slot_id"]) == (1, "scheduled", slot["slot_id"])
    again = await cal.post(f"/clients/{client_id}/slots/{slot['slot_id']}/post",
                           json={"caption": "twice"}, headers=headers)  # fmt: skip
    assert again.status_code == 409
    url = f"/clients/{client_id}/posts/{post['post_id']}"

    edited = await cal.patch(url, json={"version": 1, "caption": "Dark rye"}, headers=headers)
    assert (edited.status_code, edited.json()["version"]) == (200, 2)
    stale = await cal.patch(url, json={"version": 1, "caption": "Light rye"}, headers=headers)
    assert stale.status_code == 409
    assert (await cal.get(url, headers=headers)).json()["caption"] == "Dark rye"

    # 02:30 on 28 March 2027 does not exist in Berlin: the post moves to 03:30 CEST (01:30 UTC)
    moved = await cal.post(f"{url}/reschedule",
                           json={"version": 2, "scheduled_at": "2027-03-28T02:30:00"},
                           headers=headers)  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["scheduled_at"] in {"2027-03-28T01:30:00Z", "2027-03-28T01:30:00+00:00"}
    assert moved.json()["local_time"] == "2027-03-28T03:30:00+02:00"
    moved_slot = (await cal.get(f"/clients/{client_id}/slots/{slot['slot_id']}",
                                headers=headers)).json()  # fmt: skip
    assert (moved_slot["local"], moved_slot["dst"], moved_slot["edited"]) == (
        "2027-03-28T03:30",
        "gap_shifted",
        True,
    )

    cancelled = await cal.post(f"{url}/cancel", json={"version": 3, "reason": "sold out"},
                               headers=headers)  # fmt: skip
    assert cancelled.json()["status"] == "cancelled"
    assert (await cal.post(f"{url}/cancel", json={"version": 4},
                           headers=headers)).status_code == 409  # fmt: skip
    slot_now = (await cal.get(f"/clients/{client_id}/slots/{slot['slot_id']}",
                              headers=headers)).json()  # fmt: skip
    assert slot_now["status"] == "cancelled"

    records = await platform.read_topic(topics.POST_LIFECYCLE, expect=2)
    events = [json.loads(r.value) for r in records]
    assert [e["event_type"] for e in events] == ["PostRescheduled", "PostCancelled"]
    assert events[0]["previous_scheduled_at"].startswith(post["scheduled_at"][:16])
    assert events[0]["scheduled_at"].startswith("2027-03-28T01:30")
    assert (events[1]["reason"], events[1]["version"], events[1]["tenant_id"]) == (
        "sold out",
        4,
        tenant,
    )
    assert {r.key for r in records} == {f"{tenant}:{client_id}".encode()}

    _, other = await platform.new_agency("Other")
    assert (await cal.get(url, headers=other)).status_code == 404
    assert (await cal.patch(url, json={"version": 4, "caption": "x"},
                            headers=other)).status_code == 404  # fmt: skip


async def test_open_slots_are_filled_from_the_evergreen_buffer(platform: Platform) -> None:
    _, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, "start": "2027-01-01", "end": "2027-02-01"},
                   headers=headers)  # fmt: skip
    before = (await cal.get(f"/clients/{client_id}/calendar/month?date=2027-01-01&limit=500",
                            headers=headers)).json()  # fmt: skip
    behind = [s for s in before if s["pillar"] == "Behind the scenes" and s["status"] == "open"]
    assert behind

    r = await cal.post(f"/clients/{client_id}/calendar/fill-from-buffer",
                       json={"before": "2027-01-15"}, headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    expected = [s["slot_id"] for s in behind if s["local_date"] < "2027-01-15"]
    assert r.json()["slot_ids"] == expected and r.json()["filled"] == len(expected) > 0
    open_before = [s for s in before if s["status"] == "open" and s["local_date"] < "2027-01-15"]
    assert r.json()["unmatched"] == len(open_before) - len(expected)  # only one pillar buffered
    after = (await cal.get(f"/clients/{client_id}/calendar/month?date=2027-01-01&limit=500",
                           headers=headers)).json()  # fmt: skip
    by_id = {s["slot_id"]: s for s in after}
    assert {by_id[i]["status"] for i in expected} == {"scheduled"}
    post = (await cal.get(f"/clients/{client_id}/posts/{by_id[expected[0]]['post_id']}",
                          headers=headers)).json()  # fmt: skip
    assert post["caption"] == "Our sourdough story"
    assert {s["status"] for s in after if s["kind"] == "reactive"} == {"reactive"}
