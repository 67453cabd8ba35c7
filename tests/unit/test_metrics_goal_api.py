"""Goal API validation (pure): a goal that is not SMART is answered 422 naming the field and
the reason, including GoalSpec's whole-goal errors; and gauges follow a goal's status."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import HTTPException

from services.metrics import goal_metrics
from services.metrics.goals_api import GoalIn, smart_spec
from shared.observability import registry

BODY: dict[str, Any] = {
    "client_id": "cl-1",
    "metric": "followers",
    "platform": "instagram",
    "baseline": "1000",
    "target_value": "1100",
    "start": "2026-01-01T00:00:00Z",
    "deadline": "2026-03-31T00:00:00Z",
}


def rejected(**changes: Any) -> list[dict[str, Any]]:
    body = {k: v for k, v in (BODY | changes).items() if v is not None}
    with pytest.raises(HTTPException) as e:
        smart_spec(GoalIn.model_validate(body))
    assert e.value.status_code == 422
    detail: list[dict[str, Any]] = e.value.detail  # type: ignore[assignment]
    return detail


def test_a_smart_goal_passes() -> None:
    spec = smart_spec(GoalIn.model_validate(BODY))
    assert spec.target(Decimal(1000)) == 1100
    assert spec.deadline == datetime(2026, 3, 31, tzinfo=UTC)


def test_unknown_metric_names_the_field_and_reason() -> None:
    [error] = rejected(metric="brand_love")
    assert error["loc"] == ["body", "metric"]
    assert error["msg"].startswith("goal metric 'brand_love' is not measurable")


@pytest.mark.parametrize("missing", ["deadline", "start"])
def test_a_goal_that_is_not_time_bound_names_the_missing_field(missing: str) -> None:
    [error] = rejected(**{missing: None})
    assert error["loc"] == ["body", missing]
    assert "not time-bound" in error["msg"]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"deadline": "2025-12-01T00:00:00Z"}, "deadline", "deadline must be after start"),
        ({"target_change_pct": "10"}, "target_value", "exactly one target"),
        ({"target_value": None}, "target_change_pct", "exactly one target"),
        ({"target_value": None, "target_change_pct": "0"}, "target_change_pct", "no change"),
        ({"target_value": "1000"}, "target_value", "target equals baseline"),
        ({"target_value": "-5"}, "target_value", "cannot be negative"),
        ({"baseline": "-5"}, "baseline", "cannot be negative"),
    ],
)
def test_whole_goal_errors_are_attributed_to_a_field(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    [error] = rejected(**changes)
    assert error["loc"] == ["body", field]
    assert reason in error["msg"]


def test_goal_series_are_counts_per_tenant_and_state_never_per_goal() -> None:
    """Issue 14 item 8: goals are counted per (tenant, state); no series names a goal."""

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    goal_metrics.set_counts("agency-u", {"at_risk": 2, "pending": 1})
    assert value("socialops_goals", tenant="agency-u", state="at_risk") == 2
    assert value("socialops_goals", tenant="agency-u", state="pending") == 1
    assert value("socialops_goals", tenant="agency-u", state="on_track") == 0
    series = [s for m in registry.collect() for s in m.samples if s.name == "socialops_goals"]
    assert all(set(s.labels) == {"tenant", "state"} for s in series)
    assert len([s for s in series if s.labels["tenant"] == "agency-u"]) == 5

    goal_metrics.forget("agency-u")
    assert value("socialops_goals", tenant="agency-u", state="at_risk") is None
