"""Calendar generation over HTTP on the real database and broker: deterministic slots,
regeneration that keeps filled and hand-edited slots, the mix within one post per 4 weeks,
week/month views per client and agency, a filled slot becoming a post on Kafka."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

import httpx

from shared import topics
from tests.integration.conftest import Platform
from tests.unit.calendar.strategies import strategy_body

SIX_MONTHS = {"start": "2027-01-01", "end": "2027-07-01"}


async def setup(platform: Platform, zone: str = "Europe/Berlin", **changes: Any) -> tuple[
    str, dict[str, str], str, str
]:  # fmt: skip
    tenant, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    r = await cal.post("/clients", json={"name": "Tasty Bakery", "timezone": zone},
                       headers=headers)  # fmt: skip
    client_id = r.json()["client_id"]
    r = await cal.post(f"/clients/{client_id}/strategies", json=strategy_body(**changes),
                       headers=headers)  # fmt: skip
    assert r.status_code == 201, r.text
    return tenant, headers, client_id, r.json()["strategy_id"]


async def all_slots(
    cal: httpx.AsyncClient, headers: dict[str, str], client_id: str, months: int = 6
) -> list[dict[str, Any]]:
    """Every slot month by month, following the pages."""
    found: list[dict[str, Any]] = []
    for m in range(1, months + 1):
        url: str | None = f"/clients/{client_id}/calendar/month?date=2027-{m:02d}-01&limit=7"
        while url:
            r = await cal.get(url, headers=headers)
            assert r.status_code == 200, r.text
            found += r.json()
            cursor = r.headers.get("x-next-cursor")
            url = (f"/clients/{client_id}/calendar/month?date=2027-{m:02d}-01&limit=7"
                   f"&cursor={cursor}") if cursor else None  # fmt: skip
    return found


async def test_generation_is_deterministic_and_meets_the_mix(platform: Platform) -> None:
    _, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]

    first = await cal.post(f"/clients/{client_id}/calendar/generate",
                           json={"strategy_id": sid, **SIX_MONTHS}, headers=headers)  # fmt: skip
    assert first.status_code == 200, first.text
    slots_1 = await all_slots(cal, headers, client_id)
    assert len(slots_1) == first.json()["created"] > 150
    second = await cal.post(f"/clients/{client_id}/calendar/generate",
                            json={"strategy_id": sid, **SIX_MONTHS}, headers=headers)  # fmt: skip
    assert second.json()["unchanged"] == len(slots_1)  # same version: nothing rewritten
    assert second.json()["replaced"] == second.json()["created"] == 0
    slots_2 = await all_slots(cal, headers, client_id)
    assert slots_2 == slots_1
    assert len({s["slot_id"] for s in slots_1}) == len(slots_1)

    # the mix: per 4-week block from the start, every pillar within one post of its share
    shares = {p["name"]: p["share"] for p in strategy_body()["pillars"]}
    blocks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for s in slots_1:
        if s["kind"] != "reactive":
            blocks[(date.fromisoformat(s["local_date"]) - date(2027, 1, 1)).days // 28].append(s)
    for block in blocks.values():
        counts = Counter(s["pillar"] for s in block)
        for name, share in shares.items():
            assert abs(counts[name] - share * len(block) / 100) < 1

    # filters are answered from the same range: Instagram Recipes only
    r = await cal.get(f"/clients/{client_id}/calendar/month?date=2027-02-10&platform=instagram"
                      "&pillar=Recipes&limit=500", headers=headers)  # fmt: skip
    expected = [s for s in slots_1 if s["local_date"].startswith("2027-02")
                and s["platform"] == "instagram" and s["pillar"] == "Recipes"]  # fmt: skip
    assert r.json() == expected
    assert r.status_code == 200


async def test_regeneration_keeps_filled_and_edited_slots(platform: Platform) -> None:
    tenant, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, **SIX_MONTHS}, headers=headers)  # fmt: skip
    before = await all_slots(cal, headers, client_id)
    open_ = [s for s in before if s["kind"] == "planned"]
    edited, filled = open_[3], open_[10]

    r = await cal.patch(f"/clients/{client_id}/slots/{edited['slot_id']}",
                        json={"version": 1, "pillar": "Community"}, headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    stale = await cal.patch(f"/clients/{client_id}/slots/{edited['slot_id']}",
                            json={"version": 1, "pillar": "Offers"}, headers=headers)  # fmt: skip
    assert stale.status_code == 409
    bad = await cal.patch(f"/clients/{client_id}/slots/{edited['slot_id']}",
                          json={"version": 2, "pillar": "Memes"}, headers=headers)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "pillar"]
    post = await cal.post(f"/clients/{client_id}/slots/{filled['slot_id']}/post",
                          json={"caption": "Fresh rye today", "media": ["img-1"]},
                          headers=headers)  # fmt: skip
    assert post.status_code == 201, post.text
    assert datetime.fromisoformat(post.json()["scheduled_at"]) == datetime.fromisoformat(
        filled["at"]
    )

    body = strategy_body()
    body["pillars"][0]["share"], body["pillars"][3]["share"] = 25, 25
    assert (await cal.put(f"/clients/{client_id}/strategies/{sid}", json=body,
                          headers=headers)).status_code == 200  # fmt: skip
    again = await cal.post(f"/clients/{client_id}/calendar/generate",
                           json={"strategy_id": sid, **SIX_MONTHS}, headers=headers)  # fmt: skip
    assert again.json()["kept"] == 2
    assert again.json()["replaced"] == len(before) - 2  # a new version: new slot ids
    assert again.json()["replaced"] == len(before) - 2  # a new version: new slot ids
    assert again.json()["strategy_version"] == 2
    after = await all_slots(cal, headers, client_id)
    by_id = {s["slot_id"]: s for s in after}
    assert by_id[edited["slot_id"]]["pillar"] == "Community"
    assert by_id[edited["slot_id"]]["edited"] is True
    assert by_id[filled["slot_id"]]["post_id"] == post.json()["post_id"]
    assert by_id[filled["slot_id"]]["status"] == "scheduled"
    others = [s for s in after if s["slot_id"] not in {edited["slot_id"], filled["slot_id"]}]
    assert {s["strategy_version"] for s in others} == {2}
    places = Counter((s["platform"], s["local"]) for s in after)
    assert max(places.values()) == 1  # nothing generated on top of a kept slot

    # the filled slot's post is on Kafka with its strategy
    records = await platform.read_topic(topics.POSTS_SCHEDULED, expect=1)
    event = json.loads(records[0].value)
    assert (event["post_id"], event["strategy_id"], event["tenant_id"]) == (
        post.json()["post_id"],
        sid,
        tenant,
    )


async def test_views_across_the_agency_and_bad_ranges(platform: Platform) -> None:
    _, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    r = await cal.post(f"/clients/{client_id}/calendar/generate",
                       json={"strategy_id": sid, "start": "2027-01-01", "end": "2028-01-02"},
                       headers=headers)  # fmt: skip
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"].endswith("a range is at most 12 months")
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, "start": "2027-01-01", "end": "2027-02-01"},
                   headers=headers)  # fmt: skip
    second = await cal.post("/clients", json={"name": "Zebra Gym", "timezone": "Asia/Kolkata"},
                            headers=headers)  # fmt: skip
    cid2 = second.json()["client_id"]
    sid2 = (await cal.post(f"/clients/{cid2}/strategies", json=strategy_body(holidays=None),
                           headers=headers)).json()["strategy_id"]  # fmt: skip
    await cal.post(f"/clients/{cid2}/calendar/generate",
                   json={"strategy_id": sid2, "start": "2027-01-01", "end": "2027-02-01"},
                   headers=headers)  # fmt: skip

    week = await cal.get("/calendar/week?date=2027-01-13", headers=headers)
    assert week.status_code == 200
    local_dates = {s["local_date"] for s in week.json()}
    assert min(local_dates) >= "2027-01-11" and max(local_dates) <= "2027-01-17"
    assert {s["client_id"] for s in week.json()} == {client_id, cid2}
    ordered = [(s["client_id"], s["local"]) for s in week.json()]
    assert ordered == sorted(ordered)  # client by client, each in local time order
    # pages of 4 cover the same slots, each once
    paged: list[dict[str, Any]] = []
    url: str | None = "/calendar/week?date=2027-01-13&limit=4"
    while url:
        r = await cal.get(url, headers=headers)
        paged += r.json()
        cursor = r.headers.get("x-next-cursor")
        url = f"/calendar/week?date=2027-01-13&limit=4&cursor={cursor}" if cursor else None
    assert paged == week.json()
    reactive = await cal.get("/calendar/month?date=2027-01-01&status=reactive&limit=500",
                             headers=headers)  # fmt: skip
    assert reactive.json() and {s["kind"] for s in reactive.json()} == {"reactive"}
    assert (await cal.get("/calendar/week?date=2027-01-13&limit=501",
                          headers=headers)).status_code == 422  # fmt: skip

    _, other = await platform.new_agency("Other")
    assert (await cal.get("/calendar/week?date=2027-01-13", headers=other)).json() == []
    assert (await cal.get(f"/clients/{client_id}/calendar/week?date=2027-01-13",
                          headers=other)).status_code == 404  # fmt: skip
    some = week.json()[0]
    r = await cal.post(f"/clients/{some['client_id']}/slots/{some['slot_id']}/post",
                       json={"caption": "x"}, headers=other)  # fmt: skip
    assert r.status_code == 404
