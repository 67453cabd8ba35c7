"""Key dates of a calendar: public holidays from the `holidays` package (per country and
subdivision) and the agency's own dates, each themed (plan a post) or a blackout (plan none)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import cache
from typing import NamedTuple

import holidays


class DateMode(StrEnum):
    THEMED = "themed"  # plan a post on the day, tagged with the date's name
    BLACKOUT = "blackout"  # plan nothing that day


class KeyDay(NamedTuple):
    day: date
    name: str
    mode: DateMode
    source: str  # "holiday" or the kind of the agency's date (campaign, launch, ...)


@cache
def supported() -> dict[str, tuple[str, ...]]:
    """Country codes the holidays package knows, with their subdivision codes."""
    return {code: tuple(subs) for code, subs in holidays.list_supported_countries().items()}


def check_region(country: str, subdivision: str | None) -> str | None:
    """Why a country/subdivision pair is unknown, or None."""
    known = supported()
    if country not in known:
        return f"unknown country code '{country}' (ISO 3166-1 alpha-2 the holidays package knows)"
    if subdivision is not None and subdivision not in known[country]:
        return (
            f"unknown subdivision '{subdivision}' of {country} (known: {', '.join(known[country])})"
        )
    return None


def public_holidays(
    country: str, subdivision: str | None, start: date, end: date
) -> list[tuple[date, str]]:
    """Public holidays on days in [start, end), in date order (one name per day)."""
    years = list(range(start.year, end.year + 1))
    table = holidays.country_holidays(country, subdiv=subdivision, years=years)
    return sorted((d, name) for d, name in table.items() if start <= d < end)
