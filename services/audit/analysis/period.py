"""An audit period: inclusive days, at most 24 months, split into whole calendar years (read
from the year summaries), whole months (from the month buckets) and edge days (from the day
buckets); and the period before it."""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict

MAX_MONTHS = 24


class Period(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def whole_months(self) -> bool:
        return self.start.day == 1 and (self.end + timedelta(days=1)).day == 1

    def previous(self) -> Period:
        """The period of the same length just before (whole months stay whole months)."""
        if self.whole_months():
            months = _months_between(self.start, self.end + timedelta(days=1))
            start = self.start - relativedelta(months=months)
            return Period(start=start, end=self.start - timedelta(days=1))
        return Period(
            start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1)
        )

    def split(self) -> tuple[list[str], list[str]]:
        """(whole months "YYYY-MM", remaining days "YYYY-MM-DD") covering the period."""
        months: list[str] = []
        days: list[str] = []
        d = self.start
        while d <= self.end:
            month_end = (d.replace(day=1) + relativedelta(months=1)) - timedelta(days=1)
            if d.day == 1 and month_end <= self.end:
                months.append(d.strftime("%Y-%m"))
                d = month_end + timedelta(days=1)
            else:
                days.append(d.isoformat())
                d += timedelta(days=1)
        return months, days

    def split_years(self) -> tuple[list[str], list[str], list[str]]:
        """(whole calendar years "YYYY", remaining whole months, remaining days)."""
        months, days = self.split()
        years = sorted({m[:4] for m in months if sum(n[:4] == m[:4] for n in months) == 12})
        return years, [m for m in months if m[:4] not in years], days


def too_long(start: date, end: date) -> bool:
    """True when the inclusive period is longer than MAX_MONTHS months."""
    return bool(end >= start + relativedelta(months=MAX_MONTHS))


def _months_between(start: date, end_exclusive: date) -> int:
    return (end_exclusive.year - start.year) * 12 + end_exclusive.month - start.month
