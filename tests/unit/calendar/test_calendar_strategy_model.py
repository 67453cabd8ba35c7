"""A strategy as data: shares per dimension sum to 100 %, trials need an end and a success
criterion, frequencies compile to RFC 5545 rules, cross-field problems name their field, and
the diff between versions matches named things by name."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.calendar.strategy import rules
from services.calendar.strategy.diff import diff
from services.calendar.strategy.models import Frequency, StrategyIn
from tests.unit.calendar.strategies import strategy_body


def test_the_bakery_strategy_is_valid_and_its_period_ends_after_six_months() -> None:
    spec = StrategyIn.model_validate(strategy_body())

    assert spec.end == date(2027, 7, 1)
    assert rules.problems(spec) == []
    assert spec.reevaluation(spec.platforms[0]) == date(2028, 1, 1)  # yearly by default


@pytest.mark.parametrize("field", ["pillars", "content_types", "stages"])
def test_shares_that_do_not_sum_to_100_name_the_dimension(field: str) -> None:
    body = strategy_body()
    body[field][0]["share"] -= 5

    with pytest.raises(ValidationError) as caught:
        StrategyIn.model_validate(body)

    (error,) = caught.value.errors()
    assert error["loc"] == (field,)
    assert "sum to 95" in error["msg"] or "sum to 35" in error["msg"]


def test_a_trial_needs_an_end_date_and_a_success_criterion() -> None:
    body = strategy_body()
    del body["platforms"][2]["success"]

    with pytest.raises(ValidationError, match="trial_ends and success"):
        StrategyIn.model_validate(body)


def test_an_unknown_country_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        StrategyIn.model_validate(strategy_body(holidays={"country": "XX"}))
    (error,) = caught.value.errors()
    assert error["loc"] == ("holidays",)
    assert "unknown country code 'XX'" in error["msg"]


def test_an_unknown_subdivision_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown subdivision 'ZZ' of DE"):
        StrategyIn.model_validate(strategy_body(holidays={"country": "DE", "subdivision": "ZZ"}))


@pytest.mark.parametrize(
    ("frequency", "rules_"),
    [
        (
            {"per_week": 3, "days": ["Mon", "wed", "FR"], "times": ["09:00"]},
            ("FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=9;BYMINUTE=0;BYSECOND=0",),
        ),
        ({"per_week": 2}, ("FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=9;BYMINUTE=0;BYSECOND=0",)),
        (
            {"per_week": 4, "times": ["17:30", "08:15"]},
            (
                "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=8;BYMINUTE=15;BYSECOND=0",
                "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=17;BYMINUTE=30;BYSECOND=0",
            ),
        ),
    ],
)
def test_frequencies_compile_to_weekly_rrules(frequency: dict, rules_: tuple[str, ...]) -> None:
    assert Frequency.model_validate(frequency).compiled() == rules_


def test_a_count_that_does_not_match_days_times_times_is_refused() -> None:
    with pytest.raises(ValidationError, match="per_week 3 is not 2 days x 1 times"):
        Frequency.model_validate({"per_week": 3, "days": ["MO", "TU"]})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("FREQ=MINUTELY;INTERVAL=10", "fires more than 25 times"),
        ("FREQ=SOMETIMES", "not an RFC 5545 RRULE"),
    ],
)
def test_rules_that_never_fire_or_fire_too_often_are_named(rule: str, message: str) -> None:
    body = strategy_body()
    body["platforms"][0]["frequency"] = {"rrules": [rule]}

    (problem,) = rules.problems(StrategyIn.model_validate(body))

    assert problem["loc"] == ["body", "platforms", 0, "frequency", "rrules", 0]
    assert message in problem["msg"]


def test_a_series_pillar_must_be_in_the_strategy() -> None:
    body = strategy_body()
    body["series"][0]["pillar"] = "Memes"

    (problem,) = rules.problems(StrategyIn.model_validate(body))

    assert problem["loc"] == ["body", "series", 0, "pillar"]
    assert problem["msg"] == "pillar 'Memes' is not in the strategy"


def test_the_diff_matches_named_items_by_name_not_position() -> None:
    old = StrategyIn.model_validate(strategy_body()).model_dump(mode="json")
    body = strategy_body()
    body["pillars"] = [
        {"name": "Community", "share": 20},  # reordered and changed
        {"name": "Recipes", "share": 40},
        {"name": "Behind the scenes", "share": 40},
    ]
    new = StrategyIn.model_validate(body).model_dump(mode="json")

    lines = [c.line() for c in diff(old, new)]

    assert lines == [
        "pillars[Behind the scenes].share: 30 -> 40",
        "pillars[Community].share: 10 -> 20",
        "pillars[Offers]: removed (was {'name': 'Offers', 'share': '20'})",
    ]
