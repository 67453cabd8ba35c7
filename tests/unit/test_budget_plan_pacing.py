"""Issue 10 pure logic: minor units from ISO 4217 (via pycountry/the standard: JPY 0, BHD 3),
plans, conversion rounding, the two pacing models and KPIs, each worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pycountry
import pytest
from pydantic import ValidationError

from services.budget.models import Budget, BudgetIn
from services.budget.review import kpis, review
from services.budget.service import convert, project, underspent
from shared.money import Money


def _budget(**extra: Any) -> Budget:
    base = {"client_id": "c1", "name": "q", "limit": {"amount": "1000.00", "currency": "EUR"},
            "period_start": "2026-01-01", "period_end": "2026-03-31", "budget_id": "bu-1",
            "tenant_id": "t", "spent": {"amount": "0", "currency": "EUR"},
            "created_at": datetime(2026, 1, 1, tzinfo=UTC)}  # fmt: skip
    return Budget.model_validate(base | extra)


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [("1.005", "EUR", False), ("1.00", "EUR", True), ("1000.5", "JPY", False),
     ("1000", "JPY", True), ("1.005", "BHD", True), ("1.0005", "BHD", False)],
)  # fmt: skip
def test_limit_precision_follows_iso_4217_minor_units(amount: str, currency: str, ok: bool) -> None:
    assert pycountry.currencies.get(alpha_3=currency) is not None  # a real ISO 4217 code
    body = {"client_id": "c", "name": "n", "limit": {"amount": amount, "currency": currency},
            "period_start": "2026-01-01", "period_end": "2026-03-31"}  # fmt: skip
    if ok:
        BudgetIn.model_validate(body)
    else:
        with pytest.raises(ValidationError, match=f"limit.amount: {amount} {currency} has more"):
            BudgetIn.model_validate(body)


def test_conversion_rounds_half_even_to_the_target_minor_unit() -> None:
    usd = Money(amount=Decimal("49.00"), currency="USD")
    assert convert(usd, to="EUR", rate=Decimal("0.9215")).amount == Decimal("45.15")  # 45.1535
    ten = Money(amount=Decimal("10.00"), currency="USD")
    assert convert(ten, to="EUR", rate=Decimal("0.9215")).amount == Decimal("9.22")  # 9.215
    assert convert(ten, to="JPY", rate=Decimal("149.55")).amount == Decimal("1496")  # 1495.5


def test_day_of_week_projection_counts_only_the_weekdays_that_spend() -> None:
    # 2026-01-05 is a Monday; 14 days elapsed (2 of each weekday), spend only on weekdays
    # Mon-Fri 10.00 each day: spent 100.00; 28-day period: 10 more weekdays ahead -> 200.00;
    # linear: 100 / 14 x 28 = 200.00 too. Weekend-only spend differs: see below.
    per_day = {date(2026, 1, 5 + i).isoformat(): Decimal(10) for i in range(14)
               if date(2026, 1, 5 + i).weekday() < 5}  # fmt: skip
    p = project(per_day, date(2026, 1, 5), date(2026, 2, 1), date(2026, 1, 18))
    assert (p.spent, p.day_of_week, p.linear) == (Decimal(100), Decimal(200), Decimal(200))
    # all spend on Saturday 2026-01-17 (60.00), as of Tuesday 20th (16 days elapsed): the
    # Saturdays seen (10th, 17th) average 30.00 and two remain (24th, 31st) -> 60 + 60 = 120.00;
    # linear spreads it over every day: 60 / 16 x 28 = 105.00
    sat = {"2026-01-17": Decimal(60)}
    p = project(sat, date(2026, 1, 5), date(2026, 2, 1), date(2026, 1, 20))
    assert p.day_of_week == Decimal(120)
    assert p.linear == Decimal(60) / 16 * 28  # 105


def test_underspend_waits_for_the_check_point() -> None:
    b = _budget(spent={"amount": "100.00", "currency": "EUR"})  # 90 days, check at 50 %
    assert underspent(b, date(2026, 2, 13))[0] is False  # day 44 < 45
    low, expected = underspent(b, date(2026, 2, 14))  # day 45: 1000 x 45 / 90 = 500
    assert (low, expected) == (True, Decimal("500.0000"))
    fine = _budget(spent={"amount": "260.00", "currency": "EUR"})  # > 50 % of 500
    assert underspent(fine, date(2026, 2, 14))[0] is False


def test_kpis_null_when_undefined() -> None:
    k = kpis(Decimal(50), {"clicks": Decimal(0), "impressions": Decimal(2500)})
    assert k == {"cpl": None, "cpc": None, "cpm": Decimal(20), "cost_per_engagement": None,
                 "roi": None}  # fmt: skip
    assert kpis(Decimal(100), {"revenue": Decimal(80)})["roi"] == Decimal("-0.2")


def test_no_suggestion_when_the_best_channel_is_at_its_maximum_share() -> None:
    allocs = [{"category": "paid_ads", "platform": p, "amount": {"amount": "500.00",
               "currency": "EUR"}, "id": f"paid_ads:{p}", "planned_amount": {"amount": "500.00",
               "currency": "EUR"}} for p in ("instagram", "facebook")]  # fmt: skip
    b = _budget(allocations=allocs)
    doc = review(
        b, spend_by_category={},
        spend_by_platform={"instagram": Decimal(10), "facebook": Decimal(10)},
        counts_by_platform={"instagram": {"leads": Decimal(10)}, "facebook": {"leads": Decimal(1)}},
        goal="leads", min_share_pct=Decimal(5), max_share_pct=Decimal(50), shift_pct=Decimal(20),
    )  # fmt: skip
    assert doc["suggestions"] == []  # instagram already holds 50 % of 1,000
