"""Exact money: a Decimal amount with an ISO 4217 currency; never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Self

import pycountry
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from shared.bounds import bounded_decimal

# ISO 4217 minor units where they are not 2 (pycountry does not carry them).
_MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3,
    "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip
# The ISO 4217 list itself comes from pycountry (kept current with the standard's updates).
# XXX ("no currency") and XTS (reserved for testing) are codes, but not money.
ISO_4217: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies) - {"XXX", "XTS"}


def _to_decimal(value: Any) -> Any:
    if isinstance(value, float):
        # A float has already lost exactness; accept it only via its shortest repr.
        return Decimal(repr(value))
    return value


def _decimal_str(value: Decimal) -> str:
    return format(value, "f")


# Serialized as a JSON string ("12.30") so no consumer parses money as a float.
ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(_decimal_str, return_type=str, when_used="json"),
]


def minor_units(currency: str) -> int:
    """Digits after the decimal point for a currency (ISO 4217)."""
    return _MINOR_UNITS.get(currency, 2)


class Money(BaseModel):
    """An exact amount in one ISO 4217 currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: ExactDecimal = Field(description="Exact decimal amount, as a string in JSON.")
    currency: str = Field(description="ISO 4217 code", examples=["EUR", "USD", "UZS"])

    @field_validator("currency", mode="before")
    @classmethod
    def _known_currency(cls, v: Any) -> Any:
        code = str(v).strip().upper()
        if code not in ISO_4217:
            raise ValueError(f"'{v}' is not an ISO 4217 currency code")
        return code

    @field_validator("amount")
    @classmethod
    def _finite(cls, v: Decimal) -> Decimal:
        return bounded_decimal(v, places=None)

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(amount=Decimal(0), currency=currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def rounded(self) -> Money:
        """Rounded to the currency's minor unit, banker's rounding."""
        q = Decimal(1).scaleb(-minor_units(self.currency))
        return Money(
            amount=self.amount.quantize(q, rounding=ROUND_HALF_EVEN), currency=self.currency
        )

    def __str__(self) -> str:
        return f"{self.rounded().amount} {self.currency}"
