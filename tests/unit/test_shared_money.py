"""Money is exact: Decimal amounts, ISO 4217 codes, banker's rounding per currency."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.money import _MINOR_UNITS, ISO_4217, Money, minor_units


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def test_float_input_keeps_its_shortest_repr_so_sums_stay_exact() -> None:
    total = Money(amount=0.1, currency="EUR") + Money(amount=0.2, currency="EUR")

    assert total.amount == Decimal("0.3")


def test_amount_is_a_json_string_and_round_trips_exactly() -> None:
    money = eur("12.30")

    wire = money.model_dump_json()

    assert json.loads(wire) == {"amount": "12.30", "currency": "EUR"}
    assert Money.model_validate_json(wire).amount.as_tuple() == Decimal("12.30").as_tuple()


def test_currency_is_normalized_to_upper_case() -> None:
    assert Money(amount=Decimal(1), currency=" usd ").currency == "USD"


@pytest.mark.parametrize("code", ["XXX", "EURO", "", "€"])
def test_unknown_currency_is_rejected(code: str) -> None:
    with pytest.raises(ValidationError, match="ISO 4217"):
        Money(amount=Decimal(1), currency=code)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", float("inf"), float("nan")])
def test_non_finite_amount_is_rejected(amount: object) -> None:
    with pytest.raises(ValidationError, match="finite"):
        Money(amount=amount, currency="EUR")


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Money.model_validate({"amount": "1", "currency": "EUR", "fx": "1.1"})


def test_money_is_immutable() -> None:
    money = eur("1")
    with pytest.raises(ValidationError, match="frozen"):
        money.amount = Decimal(2)  # type: ignore[misc]


def test_add_and_subtract_in_one_currency() -> None:
    assert (eur("10.05") + eur("0.95")).amount == Decimal("11.00")
    assert (eur("10.05") - eur("20")).amount == Decimal("-9.95")


@pytest.mark.parametrize("op", [Money.__add__, Money.__sub__])
def test_combining_two_currencies_is_refused(op) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="EUR with USD"):
        op(eur("1"), Money(amount=Decimal(1), currency="USD"))


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "EUR", "0.12"),  # half to even: down
        ("0.135", "EUR", "0.14"),  # half to even: up
        ("2.5", "JPY", "2"),  # no minor unit
        ("3.5", "JPY", "4"),
        ("1.0005", "BHD", "1.000"),  # three minor digits
        ("1.0015", "BHD", "1.002"),
    ],
)
def test_rounded_uses_bankers_rounding_to_the_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    rounded = Money(amount=Decimal(amount), currency=currency).rounded()

    assert str(rounded.amount) == expected
    assert rounded.currency == currency


def test_str_shows_the_rounded_amount_and_currency() -> None:
    assert str(eur("1234.5")) == "1234.50 EUR"
    assert str(Money(amount=Decimal("1234.5"), currency="JPY")) == "1234 JPY"


def test_minor_units() -> None:
    assert [minor_units(c) for c in ("EUR", "JPY", "KWD", "CLF")] == [2, 0, 3, 4]


def test_every_currency_with_special_minor_units_is_a_known_code() -> None:
    assert set(_MINOR_UNITS) <= ISO_4217


def test_zero() -> None:
    zero = Money.zero("gbp")
    assert (zero.amount, zero.currency) == (Decimal(0), "GBP")
