"""Bounds every value from outside must keep, checked at validation so that nothing accepted
can fail later when it is stored or summed (a batch of many tenants' records is one write).

The database stores numbers as int64 or Decimal128 (34 significant digits, exponent within
-6143..6144) and dates as milliseconds since 1970 in UTC; a document is at most 16 MB. So ids
and names have a length, counts a ceiling, decimals a number of places, and instants a range
of years in UTC. The README's "Limits" table lists them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

MAX_ID_LENGTH = 128  # ids of clients, accounts, entities, posts, budgets, events
MAX_NAME_LENGTH = 128  # metric names, content types, pillars, API names
MAX_COUNT = 10**15  # a count above a quadrillion is an error, not a very popular post
MAX_AMOUNT = Decimal(10**15)  # money and metric values, in units
MAX_DECIMAL_PLACES = 12
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200  # instants, in UTC
MAX_METRICS_PER_OBSERVATION = 64


DECIMAL128_DIGITS = 34


def bounded_decimal(value: Decimal, *, places: int | None = MAX_DECIMAL_PLACES) -> Decimal:
    """A finite decimal of at most MAX_AMOUNT in size and `places` decimal places (None: any
    number of places that Decimal128 holds, for computed values such as a cost per click)."""
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value.adjusted() > MAX_AMOUNT.adjusted() or value.copy_abs() > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT:,} in size")
    digits = value.normalize().as_tuple()
    exponent = digits.exponent if isinstance(digits.exponent, int) else 0
    if places is not None and exponent < -places:
        raise ValueError(f"must have at most {places} decimal places")
    if len(digits.digits) > DECIMAL128_DIGITS:
        raise ValueError(f"must have at most {DECIMAL128_DIGITS} significant digits")
    return value


def bounded_instant(value: datetime) -> datetime:
    """A zone-aware instant whose UTC year lies within EARLIEST_YEAR..LATEST_YEAR."""
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = value.year
    if not EARLIEST_YEAR <= year <= LATEST_YEAR or not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR} (UTC)")
    return value


Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH)
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)
]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


def bounded_day(value: date) -> date:
    """A calendar day within EARLIEST_YEAR..LATEST_YEAR (a week or period around it fits)."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def at_most_max_count(value: int) -> int:
    if value > MAX_COUNT:
        raise ValueError(f"must be at most {MAX_COUNT:,}")
    return value


def storable_key(value: str) -> str:
    """A name used as a key inside a stored document: not empty, no '.', not starting '$'."""
    if not value or "." in value or value.startswith("$") or len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{value[:40]!r} is not a name (letters, digits, '_'; no '.' or '$')")
    return value


# Bounds added to a contract after it was recorded: a validator only, so the contract's JSON
# schema (and version) stay as they were, and only values that could never be stored fail.
StoredCount = AfterValidator(at_most_max_count)
StoredKey = Annotated[str, AfterValidator(storable_key)]
BoundedDecimal = Annotated[Decimal, AfterValidator(bounded_decimal)]
Instant = Annotated[AwareDatetime, AfterValidator(bounded_instant)]
Day = Annotated[date, AfterValidator(bounded_day)]
