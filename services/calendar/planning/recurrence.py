"""Posting frequency as RFC 5545 recurrence rules (python-dateutil), and the checks that a rule
fires at all and never more often than a platform allows.

Rules are expanded in local wall-clock time (naive datetimes): "MO,WE,FR at 09:00" yields 09:00
on those days whatever the UTC offset, and `planning.zones` turns each into an instant.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from shared.events import Platform

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Days used when a frequency names a count but no days: spread over the week.
DEFAULT_DAYS = {
    1: ("WE",),
    2: ("TU", "TH"),
    3: ("MO", "WE", "FR"),
    4: ("MO", "TU", "TH", "FR"),
    5: ("MO", "TU", "WE", "TH", "FR"),
    6: ("MO", "TU", "WE", "TH", "FR", "SA"),
    7: WEEKDAYS,
}
# Planned posts per local day and platform at most: the planner's cap, kept below what each
# platform's publishing API accepts per account and 24 hours (Instagram 50, X far more).
PLATFORM_MAX_PER_DAY = {
    Platform.INSTAGRAM: 25,
    Platform.FACEBOOK: 25,
    Platform.X: 50,
    Platform.LINKEDIN: 10,
    Platform.TIKTOK: 15,
    Platform.YOUTUBE: 10,
    Platform.META_ADS: 50,
    Platform.GOOGLE_ADS: 50,
}
CHECK_DAYS = 366  # a rule is checked over a year from its start
MAX_RULE_CHARS = 500
UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)


class RuleError(ValueError):
    """A recurrence rule that cannot be used (unparsable, never fires, fires too often)."""


def weekly_rules(days: tuple[str, ...], times: tuple[time, ...]) -> tuple[str, ...]:
    """One weekly RRULE per posting time, e.g. ('FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=9;...')."""
    byday = ",".join(sorted(set(days), key=WEEKDAYS.index))
    return tuple(
        f"FREQ=WEEKLY;BYDAY={byday};BYHOUR={t.hour};BYMINUTE={t.minute};BYSECOND=0"
        for t in sorted(set(times))
    )


def _local_until(value: str, zone: ZoneInfo | None) -> str:
    """RFC 5545 writes UNTIL in UTC when DTSTART has a zone; rules here are expanded in local
    wall time, so the UTC instant becomes that zone's wall time (UTC when no zone is known)."""

    def local(match: re.Match[str]) -> str:
        instant = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        wall = instant.astimezone(zone) if zone else instant
        return "UNTIL=" + wall.strftime("%Y%m%dT%H%M%S")

    return UNTIL_UTC.sub(local, value)


def parse_rule(text: str, dtstart: datetime, zone: ZoneInfo | None = None) -> rrule:
    """An RRULE (the value, optionally prefixed `RRULE:`) anchored at a local `dtstart`."""
    value = text.strip()
    if value.upper().startswith("RRULE:"):
        value = value[6:]
    if not value or len(value) > MAX_RULE_CHARS or "\n" in value or "DTSTART" in value.upper():
        raise RuleError("not a single RRULE value (e.g. FREQ=WEEKLY;BYDAY=TU;BYHOUR=9)")
    try:
        rule = rrulestr(_local_until(value, zone), dtstart=dtstart)
    except (ValueError, TypeError) as e:
        raise RuleError(f"not an RFC 5545 RRULE: {e}") from e
    if not isinstance(rule, rrule):
        raise RuleError("not a single RRULE")
    return rule


def check_rule(text: str, *, platform: Platform, start: date, at: time) -> None:
    """Raise RuleError when the rule never fires in its first year from `start`, or plans more
    posts on one day than the platform's cap."""
    cap = PLATFORM_MAX_PER_DAY[platform]
    dtstart = datetime.combine(start, at)
    rule = parse_rule(text, dtstart)
    horizon = dtstart + timedelta(days=CHECK_DAYS)
    per_day: Counter[date] = Counter()
    for occurrence in rule.xafter(dtstart, inc=True):
        if occurrence >= horizon:
            break
        per_day[occurrence.date()] += 1
        if per_day[occurrence.date()] > cap:
            raise RuleError(
                f"fires more than {cap} times on {occurrence.date()}: "
                f"{platform.value} allows at most {cap} planned posts a day"
            )
    if not per_day:
        raise RuleError(f"never fires in the year from {start.isoformat()}")


def occurrences(
    text: str, *, anchor: date, at: time, start: date, end: date, zone: ZoneInfo | None = None
) -> list[datetime]:
    """Local wall times the rule fires on days in [start, end), counted from `anchor` (the
    strategy's start, so INTERVAL=2 keeps its parity whatever range is generated)."""
    rule = parse_rule(text, datetime.combine(anchor, at), zone)
    first, last = datetime.combine(start, time()), datetime.combine(end, time())
    return [o for o in rule.between(first, last, inc=True) if o < last]
