"""Which parts of an audit period are read from year summaries, month buckets and day buckets."""

from __future__ import annotations

from datetime import date

from services.audit.analysis.period import Period


def test_a_calendar_year_is_one_summary() -> None:
    p = Period(start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert p.split_years() == (["2026"], [], [])
    assert p.previous().split_years() == (["2025"], [], [])


def test_months_of_a_partial_year_stay_months() -> None:
    p = Period(start=date(2025, 7, 1), end=date(2026, 6, 30))
    years, months, days = p.split_years()
    assert years == [] and days == []
    assert months == p.split()[0] and len(months) == 12


def test_edge_days_and_months_around_a_whole_year() -> None:
    p = Period(start=date(2024, 11, 30), end=date(2026, 2, 2))
    years, months, days = p.split_years()
    assert years == ["2025"]
    assert months == ["2024-12", "2026-01"]
    assert days == ["2024-11-30", "2026-02-01", "2026-02-02"]
