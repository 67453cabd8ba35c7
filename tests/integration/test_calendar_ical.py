"""The iCalendar feed end to end: made with the API key, read without any header through its
token, re-parsed with `icalendar` and expanded with `recurring-ical-events` (a library we did
not write), VTIMEZONE included, 09:00 Berlin in winter and summer; revoked, it is gone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar

from tests.integration.conftest import Platform
from tests.integration.test_calendar_generation import all_slots, setup


async def test_ical_round_trip(platform: Platform) -> None:
    _, headers, client_id, sid = await setup(platform)
    cal = platform.http["calendar"]
    await cal.post(f"/clients/{client_id}/calendar/generate",
                   json={"strategy_id": sid, "start": "2027-01-01", "end": "2027-07-01"},
                   headers=headers)  # fmt: skip
    slots = await all_slots(cal, headers, client_id)
    first = next(s for s in slots if s["kind"] == "planned")
    await cal.post(f"/clients/{client_id}/slots/{first['slot_id']}/post",
                   json={"caption": "Sourdough Saturday\nmore text"}, headers=headers)  # fmt: skip

    made = await cal.post(f"/clients/{client_id}/feeds", headers=headers)
    assert made.status_code == 201
    url = made.json()["url"]
    assert len(made.json()["token"]) >= 40
    response = await cal.get(url)  # no API key
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")

    parsed = Calendar.from_ical(response.content)
    zones = [tz["TZID"] for tz in parsed.walk("VTIMEZONE")]
    assert zones == ["Europe/Berlin"]
    events = recurring_ical_events.of(parsed).between(date(2027, 1, 1), date(2027, 7, 1))
    assert len(events) == len(slots)
    by_uid = {str(e["UID"]): e for e in events}
    assert set(by_uid) == {f"{s['slot_id']}@socialops" for s in slots}
    filled = by_uid[f"{first['slot_id']}@socialops"]
    assert str(filled["SUMMARY"]) == f"[{first['platform']}] Sourdough Saturday"
    assert str(filled["STATUS"]) == "CONFIRMED"
    berlin = ZoneInfo("Europe/Berlin")
    for s in slots:
        start = by_uid[f"{s['slot_id']}@socialops"]["DTSTART"].dt
        assert start == datetime.fromisoformat(s["at"])  # the same instant
        local = start.astimezone(berlin)
        assert local.strftime("%Y-%m-%dT%H:%M") == s["local"]  # the same wall time
    ig = [by_uid[f"{s['slot_id']}@socialops"]["DTSTART"].dt for s in slots
          if s["platform"] == "instagram" and s["kind"] == "planned"]  # fmt: skip
    assert {d.strftime("%H:%M") for d in ig} == {"09:00"}
    assert {d.utcoffset().total_seconds() / 3600 for d in ig} == {1.0, 2.0}  # CET and CEST

    feeds = await cal.get(f"/clients/{client_id}/feeds", headers=headers)
    assert [f["feed_id"] for f in feeds.json()] == [made.json()["feed_id"]]
    _, other = await platform.new_agency("Other")
    feed_id = made.json()["feed_id"]
    gone = await cal.delete(f"/clients/{client_id}/feeds/{feed_id}", headers=other)
    assert gone.status_code == 404
    assert (await cal.get(url)).status_code == 200
    assert (await cal.delete(f"/clients/{client_id}/feeds/{feed_id}",
                             headers=headers)).status_code == 204  # fmt: skip
    assert (await cal.get(url)).status_code == 404
    assert (await cal.get("/feeds/not-a-token.ics")).status_code == 404
    assert (await cal.get(f"/clients/{client_id}/feeds")).status_code == 401  # others need a key
