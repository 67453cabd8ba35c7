"""SMART goals: rejection of non-SMART specs, progress, projection, status and transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.metrics.goals import GoalEventKind, GoalSpec, GoalState, evaluate, transition
from shared.events import Platform

D = Decimal
START = datetime(2025, 1, 1, tzinfo=UTC)
DEADLINE = START + timedelta(days=100)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def followers_goal(**changes: Any) -> GoalSpec:
    """YouTube subscribers from 500 to 1,000 (DOMAIN.md's example), over 100 days."""
    fields: dict[str, Any] = {
        "metric": "followers", "platform": Platform.YOUTUBE, "baseline": D(500),
        "target_value": D(1000), "start": START, "deadline": DEADLINE,
    }  # fmt: skip
    return GoalSpec(**(fields | changes))


# --------------------------------------------------------------------------- SMART validation


def test_unknown_metric_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError, match="goal metric 'brand_love' is not measurable"):
        followers_goal(metric="brand_love")


@pytest.mark.parametrize("missing", ["start", "deadline"])
def test_goal_without_start_or_deadline_is_not_time_bound(missing: str) -> None:
    with pytest.raises(ValidationError, match="not time-bound"):
        followers_goal(**{missing: None})


def test_deadline_must_follow_start() -> None:
    with pytest.raises(ValidationError, match="deadline must be after start"):
        followers_goal(deadline=START - timedelta(days=1))


def test_naive_deadline_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        followers_goal(deadline=datetime(2025, 6, 1))


@pytest.mark.parametrize(
    "targets",
    [{"target_value": None}, {"target_value": D(900), "target_change_pct": D(10)}],
)
def test_exactly_one_target(targets: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one target"):
        followers_goal(**targets)


def test_target_equal_to_baseline_asks_for_nothing() -> None:
    with pytest.raises(ValidationError, match="target equals baseline"):
        followers_goal(target_value=D(500))
    with pytest.raises(ValidationError, match="no change"):
        followers_goal(target_value=None, target_change_pct=D(0))


def test_negative_count_target_is_rejected_but_negative_roi_baseline_is_fine() -> None:
    with pytest.raises(ValidationError, match="cannot be negative"):
        followers_goal(target_value=D(-5))
    roi = followers_goal(metric="roi", baseline=D("-0.2"), target_value=D("0.5"))
    assert roi.baseline == D("-0.2")


def test_kpis_are_measurable_goal_metrics() -> None:
    ctr = followers_goal(metric="ctr", platform=Platform.META_ADS, baseline=D("0.012"),
                         target_value=D("0.02"))  # fmt: skip
    assert ctr.metric == "ctr"


def test_relative_target_scales_the_baseline() -> None:
    views = followers_goal(metric="views", baseline=D(2000), target_value=None,
                           target_change_pct=D(10))  # fmt: skip
    assert views.target(D(2000)) == D(2200)


# --------------------------------------------------------------------------- evaluation


def test_steady_growth_is_on_track_with_progress_and_projection() -> None:
    status = evaluate(followers_goal(), points=[(day(10), D(560)), (day(20), D(620))], now=day(21))

    assert status.state is GoalState.ON_TRACK
    assert status.current == 620
    assert status.progress == D("0.24")  # (620 - 500) / (1000 - 500)
    assert status.projected == D(1100)  # 6 a day from 500 for 100 days
    assert status.points_used == 2


def test_slow_trend_that_misses_the_target_is_at_risk() -> None:
    status = evaluate(followers_goal(), points=[(day(10), D(510)), (day(20), D(520))], now=day(21))

    assert status.state is GoalState.AT_RISK
    assert status.projected == D(600)  # 1 a day from 500 for 100 days: short of 1,000


def test_projection_is_least_squares_not_last_two_points() -> None:
    # A late spike: the last two points alone (8.5 a day) would project 1,110 and look fine.
    points = [(day(10), D(505)), (day(20), D(510)), (day(30), D(515)), (day(40), D(600))]
    status = evaluate(followers_goal(), points=points, now=day(41))

    assert status.state is GoalState.AT_RISK
    # Fit over (0, 500) and the points: slope 2100 / 1000 = 2.1 a day through (20, 526).
    assert status.projected == D(526) + D("2.1") * 80


def test_reaching_the_target_early_is_achieved() -> None:
    status = evaluate(followers_goal(), points=[(day(30), D(1005))], now=day(31))
    assert status.state is GoalState.ACHIEVED
    assert status.progress == D("1.01")


def test_deadline_passed_without_reaching_target_is_missed() -> None:
    points = [(day(50), D(800)), (day(100), D(990)), (day(101), D(1200))]
    status = evaluate(followers_goal(), points=points, now=day(120))

    assert status.state is GoalState.MISSED
    assert status.current == 990  # values after the deadline do not count
    assert status.points_used == 2


def test_deadline_passed_with_target_reached_is_achieved() -> None:
    status = evaluate(followers_goal(), points=[(day(99), D(1000))], now=day(150))
    assert status.state is GoalState.ACHIEVED


def test_goal_to_reduce_a_cost_counts_progress_downwards() -> None:
    cpc_goal = followers_goal(metric="cpc", platform=Platform.META_ADS, baseline=D("2.00"),
                              target_value=D("1.50"))  # fmt: skip

    halfway = evaluate(cpc_goal, points=[(day(50), D("1.75"))], now=day(51))
    assert halfway.progress == D("0.5")
    assert halfway.state is GoalState.ON_TRACK  # 0.005 down a day reaches 1.50 at day 100

    below = evaluate(cpc_goal, points=[(day(60), D("1.45"))], now=day(61))
    assert below.state is GoalState.ACHIEVED

    late = evaluate(cpc_goal, points=[(day(90), D("1.60"))], now=day(101))
    assert late.state is GoalState.MISSED


def test_no_points_yet_is_on_track_with_zero_progress() -> None:
    status = evaluate(followers_goal(), points=[], now=day(1))
    assert (status.state, status.current, status.progress) == (GoalState.ON_TRACK, D(500), D(0))
    assert status.projected is None


def test_baseline_from_history_when_the_goal_has_none() -> None:
    relative = followers_goal(baseline=None, target_value=None, target_change_pct=D(50))
    status = evaluate(relative, baseline=D(600), points=[(day(10), D(660))], now=day(11))
    assert status.target == 900
    assert status.progress == D("0.2")

    with pytest.raises(ValueError, match="no baseline"):
        evaluate(relative, points=[], now=day(1))
    with pytest.raises(ValueError, match="contradicts"):
        evaluate(followers_goal(), baseline=D(450), points=[], now=day(1))


def test_progress_is_not_defined_when_target_equals_baseline() -> None:
    fixed = followers_goal(baseline=None)
    status = evaluate(fixed, baseline=D(1000), points=[(day(5), D(1000))], now=day(6))
    assert status.progress is None
    assert status.state is GoalState.ACHIEVED


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(followers_goal(), points=[], now=datetime(2025, 2, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(followers_goal(), points=[(datetime(2025, 1, 5), D(1))], now=day(10))


# --------------------------------------------------------------------------- transitions


@pytest.mark.parametrize(
    ("old", "new", "event"),
    [
        (None, GoalState.ON_TRACK, GoalEventKind.PROGRESSED),
        (None, GoalState.AT_RISK, GoalEventKind.AT_RISK),
        (GoalState.ON_TRACK, GoalState.AT_RISK, GoalEventKind.AT_RISK),
        (GoalState.AT_RISK, GoalState.ON_TRACK, GoalEventKind.PROGRESSED),
        (GoalState.ON_TRACK, GoalState.ACHIEVED, GoalEventKind.ACHIEVED),
        (GoalState.AT_RISK, GoalState.MISSED, GoalEventKind.MISSED),
        (GoalState.ON_TRACK, GoalState.ON_TRACK, None),
        (GoalState.MISSED, GoalState.MISSED, None),
    ],
)
def test_transition_events(
    old: GoalState | None, new: GoalState, event: GoalEventKind | None
) -> None:
    assert transition(old, new) == event


def test_event_kinds_use_the_event_type_names() -> None:
    assert {k.value for k in GoalEventKind} == {
        "GoalProgressed", "GoalAtRisk", "GoalAchieved", "GoalMissed",
    }  # fmt: skip
