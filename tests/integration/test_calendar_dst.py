"""DST over three years in five zones, generated over HTTP and stored: Instagram at 09:00 every
day stays 09:00 local; Facebook at 02:30 on Sundays meets the transitions. Expected instants
come from zoneinfo; the transition days are worked by hand from each zone's published rules
(Casablanca, whose clocks go back for Ramadan on dates that move each year, from zoneinfo)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import Platform
from tests.unit.calendar.strategies import strategy_body

YEARS = (2027, 2028, 2029)
# (gap days, fold days) of a 02:30 wall time
HAND_WORKED = {
    # last Sunday of March / of October
    "Europe/Berlin": ({"2027-03-28", "2028-03-26", "2029-03-25"},
                      {"2027-10-31", "2028-10-29", "2029-10-28"}),
    # second Sunday of March at 02:00 (gap); the fall-back repeats 01:00-02:00, not 02:30
    "America/New_York": ({"2027-03-14", "2028-03-12", "2029-03-11"}, set()),
    # first Sunday of October (gap) / of April (03:00 back to 02:00)
    "Australia/Sydney": ({"2027-10-03", "2028-10-01", "2029-10-07"},
                         {"2027-04-04", "2028-04-02", "2029-04-01"}),
    "Asia/Kolkata": (set(), set()),
}  # fmt: skip


def dst_strategy(year: int) -> dict[str, Any]:
    return strategy_body(
        period="year",
        start=f"{year}-01-01",
        platforms=[
            {"platform": "instagram", "frequency": {"per_week": 7}},
            {
                "platform": "facebook",
                "frequency": {"rrules": ["FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30"]},
            },
        ],
        pillars=[{"name": "Recipes", "share": 100}],
        content_types=[{"name": "visual", "share": 100}],
        stages=[{"stage": "awareness", "share": 100}],
        series=[],
        holidays=None,
        key_dates=[],
        buffer=[],
        reactive_share=0,
    )


def zoneinfo_flags(zone: ZoneInfo, days: list[str]) -> tuple[set[str], set[str]]:
    """Which of these days' 02:30 is skipped or repeated, by zoneinfo."""
    gaps, folds = set(), set()
    for day in days:
        wall = datetime.fromisoformat(f"{day}T02:30")
        first = wall.replace(tzinfo=zone)
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            gaps.add(day)
        elif first.utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset():
            folds.add(day)
    return gaps, folds


@pytest.mark.parametrize("zone_name", [*HAND_WORKED, "Africa/Casablanca"])
async def test_three_years_of_local_times(platform: Platform, zone_name: str) -> None:
    _, headers = await platform.new_agency()
    cal = platform.http["calendar"]
    zone = ZoneInfo(zone_name)
    client_id = (await cal.post("/clients", json={"name": "Bakery", "timezone": zone_name},
                                headers=headers)).json()["client_id"]  # fmt: skip
    slots: list[dict[str, Any]] = []
    for year in YEARS:
        r = await cal.post(f"/clients/{client_id}/strategies", json=dst_strategy(year),
                           headers=headers)  # fmt: skip
        assert r.status_code == 201, r.text
        r = await cal.post(f"/clients/{client_id}/calendar/generate", headers=headers, json={
            "strategy_id": r.json()["strategy_id"], "start": f"{year}-01-01",
            "end": f"{year + 1}-01-01"})  # fmt: skip
        assert r.status_code == 200, r.text
        for month in range(1, 13):
            page = await cal.get(f"/clients/{client_id}/calendar/month?date={year}-{month:02d}-01"
                                 "&limit=500", headers=headers)  # fmt: skip
            slots += page.json()

    daily = [s for s in slots if s["platform"] == "instagram"]
    assert len(daily) == sum((date(y + 1, 1, 1) - date(y, 1, 1)).days for y in YEARS)
    for s in daily:
        assert s["local"].endswith("T09:00") and s["dst"] is None
        wall = datetime.fromisoformat(s["local"]).replace(tzinfo=zone)
        assert datetime.fromisoformat(s["at"]) == wall.astimezone(UTC)

    sundays = [s for s in slots if s["platform"] == "facebook"]
    assert len(sundays) == 52 * 3 + 1  # 2028 has 53 Sundays
    gaps = {s["planned_local"][:10] for s in sundays if s["dst"] == "gap_shifted"}
    folds = {s["local_date"] for s in sundays if s["dst"] == "fold_first"}
    expected = HAND_WORKED.get(zone_name) or zoneinfo_flags(
        zone, [s["local_date"] for s in sundays]
    )
    assert (gaps, folds) == expected
    if zone_name == "Africa/Casablanca":
        assert gaps and folds  # Ramadan moves the transitions onto Sundays in these years
    for s in sundays:
        if s["dst"] == "gap_shifted":  # moved forward by the gap: 03:30 local
            assert s["local"].endswith("T03:30")
        else:
            assert s["local"].endswith("T02:30")
        if s["dst"] == "fold_first":  # the first 02:30: the earlier of the two instants
            wall = datetime.fromisoformat(s["local"])
            first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
            assert datetime.fromisoformat(s["at"]) == first
            assert first < wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
