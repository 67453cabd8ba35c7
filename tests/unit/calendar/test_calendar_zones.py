"""Wall times to instants, worked by hand from each zone's published rules: 09:00 stays 09:00
across both transitions; a skipped time moves forward by the gap, a repeated one takes the
first occurrence, both flagged. Five zones: northern and southern DST, none with a half-hour
offset, and Mexico City, which dropped DST after October 2022."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.calendar.planning.zones import DstAdjustment, place


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "wall", "at", "adjustment"),
    [
        # Berlin: CET +1, CEST +2 from the last Sunday of March to the last of October
        ("Europe/Berlin", datetime(2027, 1, 11, 9), utc(2027, 1, 11, 8), None),
        ("Europe/Berlin", datetime(2027, 7, 12, 9), utc(2027, 7, 12, 7), None),
        ("Europe/Berlin", datetime(2027, 3, 28, 2, 30), utc(2027, 3, 28, 1, 30),
         DstAdjustment.GAP_SHIFTED),  # 02:30 does not exist: 03:30 CEST
        ("Europe/Berlin", datetime(2027, 10, 31, 2, 30), utc(2027, 10, 31, 0, 30),
         DstAdjustment.FOLD_FIRST),  # the first 02:30 is still CEST
        # New York: EST -5, EDT -4 from the second Sunday of March to the first of November
        ("America/New_York", datetime(2027, 3, 14, 2, 30), utc(2027, 3, 14, 7, 30),
         DstAdjustment.GAP_SHIFTED),
        ("America/New_York", datetime(2027, 11, 7, 1, 30), utc(2027, 11, 7, 5, 30),
         DstAdjustment.FOLD_FIRST),
        ("America/New_York", datetime(2027, 6, 1, 9), utc(2027, 6, 1, 13), None),
        # Sydney: AEDT +11 from the first Sunday of October to the first of April, AEST +10;
        # 02:30 on 3 Oct 2027 does not exist: 03:30 AEDT = 16:30 UTC the day before
        ("Australia/Sydney", datetime(2027, 10, 3, 2, 30), utc(2027, 10, 2, 16, 30),
         DstAdjustment.GAP_SHIFTED),
        ("Australia/Sydney", datetime(2027, 4, 4, 2, 30), utc(2027, 4, 3, 15, 30),
         DstAdjustment.FOLD_FIRST),
        ("Australia/Sydney", datetime(2027, 1, 11, 9), utc(2027, 1, 10, 22), None),
        ("Australia/Sydney", datetime(2027, 7, 12, 9), utc(2027, 7, 11, 23), None),
        # Kolkata: +05:30 all year
        ("Asia/Kolkata", datetime(2027, 1, 11, 9), utc(2027, 1, 11, 3, 30), None),
        ("Asia/Kolkata", datetime(2027, 7, 12, 9), utc(2027, 7, 12, 3, 30), None),
        # Mexico City: CDT -5 in summer 2022 (from 3 April), then CST -6 all year from 30 October
        ("America/Mexico_City", datetime(2022, 7, 11, 9), utc(2022, 7, 11, 14), None),
        ("America/Mexico_City", datetime(2023, 7, 10, 9), utc(2023, 7, 10, 15), None),
        ("America/Mexico_City", datetime(2022, 4, 3, 2, 30), utc(2022, 4, 3, 8, 30),
         DstAdjustment.GAP_SHIFTED),
        ("America/Mexico_City", datetime(2023, 4, 2, 2, 30), utc(2023, 4, 2, 8, 30), None),
    ],
)  # fmt: skip
def test_wall_times_become_the_instants_worked_by_hand(
    zone: str, wall: datetime, at: datetime, adjustment: DstAdjustment | None
) -> None:
    placed = place(wall, ZoneInfo(zone))

    assert placed.at == at
    assert placed.adjustment == adjustment
    if adjustment is None:
        assert placed.local.replace(tzinfo=None) == wall
    elif adjustment is DstAdjustment.GAP_SHIFTED:
        assert placed.local.replace(tzinfo=None) > wall  # moved forward by the gap


def test_a_shifted_time_moves_by_exactly_the_gap() -> None:
    placed = place(datetime(2027, 3, 28, 2, 30), ZoneInfo("Europe/Berlin"))
    assert placed.local.replace(tzinfo=None) == datetime(2027, 3, 28, 3, 30)
