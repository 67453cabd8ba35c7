"""Prometheus metrics of SMART goals, with bounded labels: goals counted per tenant and state
(never one series per goal: a goal's own progress is served by GET /goals/{id}), and the goal
events published per tenant and type. Per tenant: 5 + 4 series, however many goals it has."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from prometheus_client import Counter, Gauge

from services.metrics.goals import GoalState
from shared.observability import registry

PENDING = "pending"  # created, not evaluated yet
STATES = (PENDING, *(s.value for s in GoalState))

GOALS = Gauge(
    "socialops_goals",
    "Goals per state: pending (not evaluated yet), on_track and at_risk (open), achieved and "
    "missed (closed within the last 30 days). Recomputed from storage by the goal tracker.",
    ["tenant", "state"],
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
GOALS_REFUSED = Counter(
    "socialops_goals_refused_total",
    "Goals refused because their client already has the maximum of open goals.",
    registry=registry,
)


def set_counts(tenant_id: str, counts: Mapping[str, int]) -> None:
    """Set a tenant's goal counts (a state missing from `counts` has none)."""
    for state in STATES:
        GOALS.labels(tenant_id, state).set(counts.get(state, 0))


def forget(tenant_id: str) -> None:
    """Drop the series of a tenant left without goals to count."""
    for state in STATES:
        with contextlib.suppress(KeyError):
            GOALS.remove(tenant_id, state)
