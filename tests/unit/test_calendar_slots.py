"""Slots are wall-clock times in a zone: DST gaps refused, fall-back takes the first 02:30,
and 09:00 Europe/Berlin stays 09:00 local in winter and summer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from services.calendar.models import ClientIn, PostIn
from services.calendar.service import SchedulingError, resolve_slot

BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    ("day", "utc_hour", "offset_h"),
    [(datetime(2026, 1, 15, 9), 8, 1), (datetime(2026, 7, 15, 9), 7, 2)],
    ids=["winter", "summer"],
)
def test_nine_am_berlin_stays_nine_am_local(day: datetime, utc_hour: int, offset_h: int) -> None:
    instant, local = resolve_slot(day, BERLIN)

    assert (local.hour, local.minute) == (9, 0)
    assert local.utcoffset() == timedelta(hours=offset_h)
    assert instant == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
    assert instant.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("requested", "zone"),
    [
        (datetime(2026, 3, 29, 2, 0), BERLIN),
        (datetime(2026, 3, 29, 2, 30), BERLIN),
        (datetime(2026, 3, 8, 2, 30), "America/New_York"),
    ],
)
def test_a_time_the_clocks_skip_is_refused(requested: datetime, zone: str) -> None:
    with pytest.raises(SchedulingError, match=f"does not exist in {zone}"):
        resolve_slot(requested, zone)


def test_the_minutes_around_the_gap_are_fine() -> None:
    before, _ = resolve_slot(datetime(2026, 3, 29, 1, 59), BERLIN)
    after, _ = resolve_slot(datetime(2026, 3, 29, 3, 0), BERLIN)

    assert before == datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    assert after == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("fold", [0, 1])
def test_an_ambiguous_fall_back_time_takes_the_first_occurrence(fold: int) -> None:
    requested = datetime(2026, 10, 25, 2, 30, fold=fold)

    instant, local = resolve_slot(requested, BERLIN)

    assert instant == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # still CEST, +02:00
    assert local.utcoffset() == timedelta(hours=2)
    assert (local.hour, local.minute) == (2, 30)


def test_an_aware_time_is_an_instant_and_only_shown_in_the_zone() -> None:
    requested = datetime(2026, 1, 15, 9, tzinfo=timezone(timedelta(hours=-5)))

    instant, local = resolve_slot(requested, BERLIN)

    assert instant == datetime(2026, 1, 15, 14, tzinfo=UTC)
    assert instant.tzinfo is UTC
    assert local.hour == 15
    assert str(local.tzinfo) == BERLIN


def test_an_aware_time_inside_a_gap_is_not_refused() -> None:
    # 01:30 UTC is 03:30 CEST; only naive wall-clock times can fall into a gap
    instant, local = resolve_slot(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), BERLIN)

    assert instant == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert (local.hour, local.minute) == (3, 30)


def test_scheduling_errors_are_value_errors_for_the_api() -> None:
    assert issubclass(SchedulingError, ValueError)


# --------------------------------------------------------------------------- models


def test_client_timezone_defaults_to_utc_and_is_stripped() -> None:
    assert ClientIn(name="Tasty Bakery").timezone == "UTC"
    assert ClientIn(name="Tasty Bakery", timezone=" Asia/Tokyo ").timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "Berlin", "", "../etc/passwd", "/etc/localtime"]
)
def test_client_timezone_must_be_an_iana_zone(zone: str) -> None:
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        ClientIn(name="x", timezone=zone)


def test_post_timezone_is_optional_but_validated() -> None:
    post = PostIn(platform="instagram", scheduled_at="2026-12-01T09:00:00")

    assert post.timezone is None
    assert post.scheduled_at.tzinfo is None  # read later in the client's zone
    assert PostIn(platform="x", scheduled_at="2026-12-01T09:00", timezone=BERLIN).timezone == BERLIN
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        PostIn(platform="x", scheduled_at="2026-12-01T09:00", timezone="CET+1")


def test_unknown_request_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ClientIn(name="x", tz="Europe/Berlin")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "build",
    [
        lambda: ClientIn(name="x", timezone="Europe"),
        lambda: ClientIn(name="x", timezone="America/Argentina"),
        lambda: PostIn(platform="x", scheduled_at="2026-12-01T09:00", timezone="Etc"),
    ],
    ids=["client-Europe", "client-America/Argentina", "post-Etc"],
)
def test_a_zone_folder_name_is_a_validation_error(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        build()
