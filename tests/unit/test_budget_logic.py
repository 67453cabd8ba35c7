"""Budget logic: which spend a budget books, which thresholds it newly crosses, and what a
valid budget request is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.budget.models import Budget, BudgetIn
from services.budget.service import applies_to, newly_crossed
from shared.events import Platform, SpendLine
from shared.money import Money


def budget(**overrides: Any) -> Budget:
    fields: dict[str, Any] = {
        "budget_id": "b1",
        "tenant_id": "acme",
        "client_id": "c1",
        "name": "Q1 paid social",
        "limit": Money(amount=Decimal("1000.00"), currency="EUR"),
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 3, 31),
        "thresholds_pct": [50, 80, 100],
        "spent": Money.zero("EUR"),
        "created_at": datetime(2025, 12, 1, tzinfo=UTC),
    }
    return Budget(**(fields | overrides))


def line(**overrides: Any) -> SpendLine:
    fields: dict[str, Any] = {
        "observation_id": "o1",
        "client_id": "c1",
        "platform": Platform.META_ADS,
        "amount": Decimal("12.50"),
        "currency": "EUR",
        "observed_at": datetime(2026, 2, 10, 12, tzinfo=UTC),
    }
    return SpendLine(**(fields | overrides))


# --------------------------------------------------------------------------- applies_to


def test_the_clients_budget_in_that_currency_and_period_books_the_spend() -> None:
    assert applies_to(budget(), line())


@pytest.mark.parametrize(
    "other",
    [
        {"client_id": "c2"},
        {"currency": "USD"},
        {"observed_at": datetime(2025, 12, 31, 23, 59, tzinfo=UTC)},
        {"observed_at": datetime(2026, 4, 1, 0, 0, tzinfo=UTC)},
    ],
    ids=["other client", "other currency", "before period", "after period"],
)
def test_spend_outside_the_budget_is_not_booked(other: dict[str, Any]) -> None:
    assert not applies_to(budget(), line(**other))


@pytest.mark.parametrize(
    "day", [datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 3, 31, 23, 59, tzinfo=UTC)]
)
def test_period_bounds_are_inclusive(day: datetime) -> None:
    assert applies_to(budget(), line(observed_at=day))


def test_a_named_budget_takes_the_spend_even_outside_its_period() -> None:
    assert applies_to(budget(), line(budget_id="b1", observed_at=datetime(2027, 1, 1, tzinfo=UTC)))


def test_spend_named_for_another_budget_is_not_booked_here() -> None:
    assert not applies_to(budget(), line(budget_id="b2"))


# --------------------------------------------------------------------------- newly_crossed


@pytest.mark.parametrize(
    ("spent", "expected"),
    [
        ("499.99", []),
        ("500.00", [50]),
        ("800.00", [50, 80]),
        ("1000.00", [50, 80, 100]),
        ("5000", [50, 80, 100]),
    ],
)
def test_thresholds_are_reached_at_exactly_their_percentage(
    spent: str, expected: list[int]
) -> None:
    assert newly_crossed(budget(), Decimal(spent)) == expected


def test_thresholds_already_crossed_are_not_crossed_again() -> None:
    assert newly_crossed(budget(crossed_pct=[50]), Decimal("1000")) == [80, 100]
    assert newly_crossed(budget(crossed_pct=[50, 80, 100]), Decimal("9999")) == []


def test_crossings_come_lowest_first_whatever_the_configured_order() -> None:
    b = budget(thresholds_pct=[150, 100, 25])

    assert newly_crossed(b, Decimal("1500")) == [25, 100, 150]


def test_percentages_are_exact_decimals() -> None:
    # 0.1 + 0.2 of 0.3 is exactly 100%, which floats would miss
    b = budget(limit=Money(amount=Decimal("0.3"), currency="EUR"), thresholds_pct=[100])

    assert newly_crossed(b, Decimal("0.1") + Decimal("0.2")) == [100]


# --------------------------------------------------------------------------- BudgetIn


def budget_in(**overrides: Any) -> dict[str, Any]:
    return {
        "client_id": "c1",
        "name": "Q1",
        "limit": {"amount": "1500.00", "currency": "EUR"},
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
    } | overrides


def test_a_minimal_budget_gets_the_default_thresholds() -> None:
    b = BudgetIn.model_validate(budget_in(period_end="2026-01-01"))

    assert b.thresholds_pct == [50, 80, 100]
    assert b.limit == Money(amount=Decimal("1500.00"), currency="EUR")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"limit": {"amount": "0", "currency": "EUR"}}, "limit.amount: .* must be greater"),
        ({"limit": {"amount": "-5", "currency": "EUR"}}, "limit.amount: .* must be greater"),
        ({"limit": {"amount": "5", "currency": "XYZ"}}, "ISO 4217"),
        ({"period_end": "2025-12-31"}, "period_end must not be before period_start"),
        ({"thresholds_pct": [0, 50]}, "between 1 and 1000"),
        ({"thresholds_pct": [1001]}, "between 1 and 1000"),
        ({"thresholds_pct": [50, 50]}, "must not repeat"),
        ({"thresholds_pct": []}, "at least 1 item"),
        ({"client_id": ""}, "client_id"),
        ({"owner": "me"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_budgets_are_rejected_with_the_reason(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        BudgetIn.model_validate(budget_in(**overrides))
