"""Recurrence against the examples of RFC 5545 section 3.8.5.3 (DTSTART;TZID=America/New_York,
09:00 local): the dates listed there, copied from the RFC, not computed. Rules are expanded in
local wall time, so 09:00 stays 09:00 on both sides of the 1997 fall-back (26 October)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.calendar.planning import recurrence

NY = ZoneInfo("America/New_York")


def expand(rule: str, first: date, days: int = 800) -> list[datetime]:
    end = date.fromordinal(first.toordinal() + days)
    return recurrence.occurrences(rule, anchor=first, at=time(9), start=first, end=end, zone=NY)


def days(year: int, month_days: dict[int, list[int]]) -> list[datetime]:
    return [datetime(year, m, d, 9) for m, ds in month_days.items() for d in ds]


def test_weekly_for_ten_occurrences() -> None:
    # "Weekly for 10 occurrences": September 2-30; October 7-28; November 4 (1997)
    assert expand("FREQ=WEEKLY;COUNT=10", date(1997, 9, 2)) == days(
        1997, {9: [2, 9, 16, 23, 30], 10: [7, 14, 21, 28], 11: [4]}
    )


def test_every_other_week_on_monday_wednesday_friday_until_24_december() -> None:
    # UNTIL is in UTC as the RFC writes it; the last occurrence is 22 December
    rule = "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR"
    assert expand(rule, date(1997, 9, 1)) == days(1997, {
        9: [1, 3, 5, 15, 17, 19, 29], 10: [1, 3, 13, 15, 17, 27, 29, 31],
        11: [10, 12, 14, 24, 26, 28], 12: [8, 10, 12, 22],
    })  # fmt: skip


def test_monthly_on_the_first_friday_for_ten_occurrences() -> None:
    assert expand("FREQ=MONTHLY;COUNT=10;BYDAY=1FR", date(1997, 9, 5)) == [
        *days(1997, {9: [5], 10: [3], 11: [7], 12: [5]}),
        *days(1998, {1: [2], 2: [6], 3: [6], 4: [3], 5: [1], 6: [5]}),
    ]


def test_every_friday_the_thirteenth_first_four() -> None:
    # "Every Friday the 13th, forever" (EXDATE of the start aside): 1998 Feb 13, Mar 13, Nov 13;
    # 1999 Aug 13
    got = expand("FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", date(1997, 9, 2))
    assert got[:4] == [datetime(1998, 2, 13, 9), datetime(1998, 3, 13, 9),
                       datetime(1998, 11, 13, 9), datetime(1999, 8, 13, 9)]  # fmt: skip


def test_the_last_rule_with_an_until_in_utc_reads_it_in_the_zone() -> None:
    # 1997-09-05T13:00Z is 09:00 EDT: an UNTIL on the instant of an occurrence includes it
    rule = "FREQ=DAILY;UNTIL=19970905T130000Z"
    assert expand(rule, date(1997, 9, 2)) == days(1997, {9: [2, 3, 4, 5]})


@pytest.mark.parametrize("rule", ["FREQ=WEEKLY;BYDAY=XX", "DTSTART:19970902T090000", ""])
def test_what_is_no_rule_is_refused(rule: str) -> None:
    with pytest.raises(recurrence.RuleError):
        recurrence.parse_rule(rule, datetime(1997, 9, 2, 9))
