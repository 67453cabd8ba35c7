"""Prometheus metrics of SMART goals: progress and state per tenant and goal (one series per
goal, so the label set grows with goals, not with data), and the goal events published."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge

from services.metrics.goals import GoalState
from shared.observability import registry

GOAL_PROGRESS = Gauge(
    "socialops_goal_progress_ratio",
    "How far a goal is from its baseline to its target (0..1, above 1 when exceeded).",
    ["tenant", "goal"],
    registry=registry,
)
GOAL_STATE = Gauge(
    "socialops_goal_state",
    "1 for the state a goal is in (on_track, at_risk, achieved, missed), 0 for the others.",
    ["tenant", "goal", "state"],
    registry=registry,
)
GOAL_EVENTS = Counter(
    "socialops_goal_events_total",
    "Goal events staged for publishing (GoalProgressed, GoalAtRisk, ...).",
    ["tenant", "event_type"],
    registry=registry,
)
GOAL_EVALUATION_ERRORS = Counter(
    "socialops_goal_evaluation_errors_total",
    "Goal evaluations that failed (retried by the tracker's next round).",
    registry=registry,
)


def record(tenant_id: str, goal_id: str, status: Mapping[str, Any] | None) -> None:
    """Set a goal's gauges from its stored status (nothing before its first evaluation)."""
    if not status:
        return
    progress = status.get("progress")
    GOAL_PROGRESS.labels(tenant_id, goal_id).set(float(progress) if progress is not None else 0.0)
    for state in GoalState:
        GOAL_STATE.labels(tenant_id, goal_id, state.value).set(
            1.0 if status.get("state") == state.value else 0.0
        )


def forget(tenant_id: str, goal_id: str) -> None:
    """Drop a deleted goal's series."""
    with contextlib.suppress(KeyError):
        GOAL_PROGRESS.remove(tenant_id, goal_id)
    for state in GoalState:
        with contextlib.suppress(KeyError):
            GOAL_STATE.remove(tenant_id, goal_id, state.value)
