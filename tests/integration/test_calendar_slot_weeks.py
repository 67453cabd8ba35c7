"""Slots are stored week by week (real database and service): a slot moved to another week is
found by its id, shows in its new week's views and not in its old one's, and moves back; ids
that name no path are refused; slots stored one document each (before week documents) move
into their weeks at start-up and are still found by their old ids."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from services.calendar.planning.repository import (
    LEGACY,
    WEEKS,
    PlanningRepository,
    migrate_slot_documents,
)
from tests.integration.conftest import Platform
from tests.integration.test_calendar_generation import setup


async def _ids(cal: Any, url: str, headers: dict[str, str]) -> list[str]:
    r = await cal.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return [s["slot_id"] for s in r.json()]


async def test_a_slot_moved_to_another_week_is_found_there_and_back(platform: Platform) -> None:
    _, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    r = await cal.post(f"/clients/{client_id}/calendar/generate",
                       json={"strategy_id": sid, "start": "2027-03-01", "end": "2027-04-01"},
                       headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    base = f"/clients/{client_id}"
    slot = (await cal.get(f"{base}/calendar/week?date=2027-03-22&status=open",
                          headers=headers)).json()[0]  # fmt: skip
    slot_url = f"{base}/slots/{slot['slot_id']}"

    body = {"version": slot["version"], "local": "2027-04-07T10:00"}
    moved = await cal.patch(slot_url, json=body, headers=headers)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["local"], moved.json()["version"]) == ("2027-04-07T10:00", 2)
    got = (await cal.get(slot_url, headers=headers)).json()
    assert (got["local"], got["at"][:16]) == ("2027-04-07T10:00", "2027-04-07T08:00")  # CEST
    assert slot["slot_id"] not in await _ids(cal, f"{base}/calendar/week?date=2027-03-22",
                                             headers)  # fmt: skip
    assert slot["slot_id"] in await _ids(cal, f"{base}/calendar/week?date=2027-04-05", headers)
    assert slot["slot_id"] in await _ids(cal, "/calendar/week?date=2027-04-05", headers)
    stale = await cal.patch(slot_url, json={"version": 1, "pillar": "Recipes"}, headers=headers)
    assert stale.status_code == 409

    back = await cal.patch(slot_url, json={"version": 2, "local": "2027-03-23T07:45"},
                           headers=headers)  # fmt: skip
    assert back.status_code == 200, back.text
    march = await _ids(cal, f"{base}/calendar/week?date=2027-03-22&limit=500", headers)
    assert march.count(slot["slot_id"]) == 1
    assert slot["slot_id"] not in await _ids(cal, f"{base}/calendar/week?date=2027-04-05",
                                             headers)  # fmt: skip
    # an edited slot is kept when the month is generated again
    again = await cal.post(f"{base}/calendar/generate",
                           json={"strategy_id": sid, "start": "2027-03-01", "end": "2027-04-01"},
                           headers=headers)  # fmt: skip
    assert again.json()["kept"] >= 1
    assert (await cal.get(slot_url, headers=headers)).json()["local"] == "2027-03-23T07:45"

    for bad in ("sl-2027.x", "sl-$where", "other-id"):
        assert (await cal.get(f"{base}/slots/{bad}", headers=headers)).status_code == 404


def _legacy(tenant: str, client: str, n: int, local: str) -> dict[str, Any]:
    slot_id = f"sl-0b6c1f2e-0000-5000-8000-{n:012d}"  # an id from before: no week in it
    return {
        "_id": slot_id, "slot_id": slot_id, "tenant_id": tenant, "client_id": client,
        "strategy_id": None, "strategy_version": None, "platform": "instagram",
        "kind": "manual", "local": local, "local_date": local[:10], "timezone": "UTC",
        "at": datetime.fromisoformat(local).replace(tzinfo=UTC), "status": "open",
        "version": 1,
    }  # fmt: skip


async def test_slots_stored_one_document_each_move_into_their_weeks(platform: Platform) -> None:
    db = platform.db("calendar")
    locals_ = ["2027-01-04T09:00", "2027-01-10T23:30", "2027-01-11T00:00", "2027-02-01T12:00"]
    legacy = [_legacy("A", "c1", n, local) for n, local in enumerate(locals_)]
    legacy.append(_legacy("B", "c1", 9, "2027-01-05T09:00"))  # another agency's
    await db[LEGACY].insert_many(legacy)

    assert await migrate_slot_documents(db, batch=2) == 5
    assert LEGACY not in await db.list_collection_names()
    assert await migrate_slot_documents(db) == 0
    weeks = {d["_id"]: sorted(d["slots"]) async for d in db[WEEKS].find({"client_id": "c1"})}
    ids = [s["slot_id"] for s in legacy]
    assert weeks == {
        "A|c1|2027-01-04": sorted(ids[:2]),  # Monday 4 Jan to Sunday 10 Jan
        "A|c1|2027-01-11": [ids[2]],
        "A|c1|2027-02-01": [ids[3]],
        "B|c1|2027-01-04": [ids[4]],
    }

    repo = PlanningRepository(db)
    found = await repo.get_slot("A", "c1", ids[1])
    assert found is not None and found.local == "2027-01-10T23:30"
    assert await repo.get_slot("B", "c1", ids[1]) is None  # another agency's id space
    january = await repo.list_slots("A", "c1", start="2027-01-01", end="2027-02-01",
                                    filters={}, limit=10)  # fmt: skip
    assert [s.slot_id for s in january] == ids[:3]

    moved = await repo.update_slot(found, {"local": "2027-01-20T08:00"}, version=1)
    assert moved is not None
    assert (await repo.get_slot("A", "c1", ids[1])).local == "2027-01-20T08:00"  # type: ignore[union-attr]
    assert await repo.update_slot(found, {"local": "2027-01-21T08:00"}, version=1) is None
    await db.clients.insert_one({"_id": "c1", "tenant_id": "A"})  # the agency's roster
    week = await repo.agency_slots("A", start="2027-01-18", end="2027-01-25", filters={}, limit=5)
    assert [s.slot_id for s in week] == [ids[1]]


async def _open_slots_of_a_week(
    platform: Platform, count: int
) -> tuple[Any, dict[str, str], str, list[dict[str, Any]]]:
    """A client with March 2027 generated: (calendar client, headers, client id, the first
    `count` open slots of the week of 15 March)."""
    _, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, "start": "2027-03-01", "end": "2027-04-01"},
                   headers=headers)  # fmt: skip
    week = f"/clients/{client_id}/calendar/week?date=2027-03-15&status=open"
    slots = (await cal.get(week, headers=headers)).json()[:count]
    assert len(slots) == count
    return cal, headers, client_id, slots


async def test_slots_of_one_week_filled_at_once_all_keep_their_posts(platform: Platform) -> None:
    """Six fills of one week's slots sent together write the same week document: each
    answers 201 (a transaction that lost a write conflict is run again), and every slot ends
    with its own post."""
    cal, headers, client_id, slots = await _open_slots_of_a_week(platform, 6)
    answers = await asyncio.gather(*(
        cal.post(f"/clients/{client_id}/slots/{s['slot_id']}/post",
                 json={"caption": f"Post {n}"}, headers=headers)
        for n, s in enumerate(slots)
    ))  # fmt: skip
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    for slot, answer in zip(slots, answers, strict=True):
        stored = (await cal.get(f"/clients/{client_id}/slots/{slot['slot_id']}",
                                headers=headers)).json()  # fmt: skip
        assert (stored["post_id"], stored["status"]) == (answer.json()["post_id"], "scheduled")


async def test_a_csv_import_and_fills_of_one_week_sent_together_all_land(
    platform: Platform,
) -> None:
    """A CSV import filling one slot of a week, sent with fills of four other slots of that
    week: every answer is a success (the import runs again whole if it loses a conflict) and
    each slot ends with one post."""
    cal, headers, client_id, slots = await _open_slots_of_a_week(platform, 5)
    body = f"slot_id,platform,local,caption\n{slots[0]['slot_id']},,,From the sheet\n"
    answers = await asyncio.gather(
        cal.post(f"/imports/calendar/{client_id}", content=body,
                 headers=headers | {"content-type": "text/csv"}),
        *(cal.post(f"/clients/{client_id}/slots/{s['slot_id']}/post",
                   json={"caption": f"Post {n}"}, headers=headers)
          for n, s in enumerate(slots[1:])),
    )  # fmt: skip
    assert [a.status_code for a in answers] == [200, 201, 201, 201, 201], [a.text for a in answers]
    assert (answers[0].json()["filled"], answers[0].json()["rejected"]) == (1, 0)
    for slot in slots:
        stored = (await cal.get(f"/clients/{client_id}/slots/{slot['slot_id']}",
                                headers=headers)).json()  # fmt: skip
        assert stored["status"] == "scheduled" and stored["post_id"], stored
