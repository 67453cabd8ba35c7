"""Pure goal planning (no I/O): a new goal's baseline and target from history, and what an
evaluation changes: the status document, and the event (if any) it publishes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from services.metrics.goal_store import (
    SeriesKind,
)
from services.metrics.goals import (
    GoalEventKind,
    GoalSpec,
    GoalState,
    GoalStatus,
    transition,
)
from shared.envelope import derived_event_id
from shared.events import GoalAchieved, GoalAtRisk, GoalEvent, GoalMissed, GoalProgressed

PRODUCER = "metrics"
PROGRESS_STEP = Decimal("0.001")  # smaller moves of progress publish nothing
FINAL = frozenset({GoalState.ACHIEVED, GoalState.MISSED})
GAUGE_RETENTION = timedelta(days=30)  # closed goals count in socialops_goals this long
_QUANTUM = Decimal("0.000001")
EVENT_TYPES: dict[GoalEventKind, type[GoalEvent]] = {
    GoalEventKind.PROGRESSED: GoalProgressed,
    GoalEventKind.AT_RISK: GoalAtRisk,
    GoalEventKind.ACHIEVED: GoalAchieved,
    GoalEventKind.MISSED: GoalMissed,
}


class GoalRejectedError(ValueError):
    """A goal that is not SMART with what it gives and what history holds (field, reason)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class GoalLimitError(Exception):
    """A client already has the maximum of open goals."""

    def __init__(self, client_id: str, limit: int) -> None:
        super().__init__(
            f"client '{client_id}' already has {limit} open goals, the limit per client "
            "(METRICS_MAX_OPEN_GOALS_PER_CLIENT); delete one or wait until one ends"
        )
        self.client_id = client_id
        self.limit = limit


# --------------------------------------------------------------------------- pure logic


@dataclass(frozen=True)
class Plan:
    """What a goal is evaluated against: baseline, absolute target and, for flows, the total of
    the reference period a relative target scales."""

    baseline: Decimal
    target: Decimal
    reference: Decimal | None
    baseline_source: str  # given | history | zero (flows count from 0 at start)


def plan_goal(spec: GoalSpec, kind: SeriesKind, *, history: Decimal | None) -> Plan:
    """Baseline and absolute target of a goal; `history` is the level just before start (stock),
    the total (flow) or the KPI over the period of equal length before start. GoalRejectedError
    names the field when the goal cannot be measured that way."""
    where = f"'{spec.metric}' on {spec.platform.value}"
    if kind is SeriesKind.FLOW:
        return _plan_flow(spec, where, history=history)
    source = "given" if spec.baseline is not None else "history"
    baseline = spec.baseline if spec.baseline is not None else history
    if baseline is None:
        reason = (
            f"no stored history of {where} before start to take a baseline from; give baseline"
            if kind is SeriesKind.STOCK
            else f"{where} is not defined over the period before start (no data or a zero "
            "denominator) to take a baseline from; give baseline"
        )
        raise GoalRejectedError("baseline", reason)
    target = spec.target(baseline)
    if target == baseline:
        field = "target_value" if spec.target_value is not None else "target_change_pct"
        raise GoalRejectedError(field, f"target equals the baseline {baseline}: nothing to achieve")
    return Plan(baseline=baseline, target=target, reference=None, baseline_source=source)


def _plan_flow(spec: GoalSpec, where: str, *, history: Decimal | None) -> Plan:
    """Flows count from 0 within the goal window; the target is absolute or a change on the
    reference total (the given baseline, else the period of equal length before start)."""
    reduction = (
        f"{where} is counted from 0 within the goal window, so only a target above the "
        "reference total can be tracked, not a reduction"
    )
    reference = spec.baseline if spec.baseline is not None else history
    if spec.target_value is not None:
        target = spec.target_value
        if spec.baseline is not None and target <= spec.baseline:
            raise GoalRejectedError("target_value", reduction)
    else:
        assert spec.target_change_pct is not None  # GoalSpec guarantees one target
        if spec.target_change_pct < 0:
            raise GoalRejectedError("target_change_pct", reduction)
        if not reference:
            raise GoalRejectedError(
                "baseline",
                f"no stored total of {where} in the period before start for a relative target "
                "to scale; give baseline (the total of a period as long as the goal)",
            )
        target = reference * (1 + spec.target_change_pct / 100)
    if target <= 0:
        raise GoalRejectedError("target_value", f"a target for {where} must be above 0")
    return Plan(baseline=Decimal(0), target=target, reference=reference, baseline_source="zero")


def user_spec(goal: Mapping[str, Any]) -> GoalSpec:
    """The goal as its author gave it."""
    given = goal["spec"]
    return GoalSpec(
        metric=goal["metric"],
        platform=goal["platform"],
        baseline=given.get("baseline"),
        target_value=given.get("target_value"),
        target_change_pct=given.get("target_change_pct"),
        start=goal["start"],
        deadline=goal["deadline"],
    )


def evaluation_spec(goal: Mapping[str, Any]) -> GoalSpec:
    """The goal with its resolved baseline and absolute target, as goals.evaluate takes it."""
    return GoalSpec(
        metric=goal["metric"],
        platform=goal["platform"],
        baseline=goal["baseline"],
        target_value=goal["target"],
        start=goal["start"],
        deadline=goal["deadline"],
    )


def status_doc(status: GoalStatus) -> dict[str, Any]:
    """The stored form of a status (progress and projection to 6 decimals)."""
    return {
        "state": status.state.value,
        "baseline": status.baseline,
        "target": status.target,
        "current": status.current,
        "progress": _rounded(status.progress),
        "projected": _rounded(status.projected),
        "evaluated_at": status.evaluated_at,
        "points_used": status.points_used,
    }


def decide(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> GoalEventKind | None:
    """The event an evaluation publishes: the state change's, else GoalProgressed when progress
    moved by at least PROGRESS_STEP, else none."""
    old_state = GoalState(old["state"]) if old else None
    kind = transition(old_state, GoalState(new["state"]))
    if kind is None and old is not None and _moved(old.get("progress"), new.get("progress")):
        return GoalEventKind.PROGRESSED
    return kind


def goal_event(
    goal: Mapping[str, Any], status: Mapping[str, Any], kind: GoalEventKind
) -> GoalEvent:
    """The event for a goal's new status; its id is derived, so a re-run stages the same id."""
    previous = goal.get("status")
    return EVENT_TYPES[kind].new(
        producer=PRODUCER,
        tenant_id=goal["tenant_id"],
        event_id=derived_event_id(
            "goal", goal["_id"], goal["revision"], kind.value, status["state"], status["progress"]
        ),
        correlation_id=goal["_id"],
        goal_id=goal["_id"],
        client_id=goal["client_id"],
        metric=goal["metric"],
        platform=goal["platform"],
        state=status["state"],
        previous_state=previous["state"] if previous else None,
        baseline=status["baseline"],
        target=status["target"],
        current=status["current"],
        progress=status["progress"],
        projected=status["projected"],
        deadline=goal["deadline"],
        evaluated_at=status["evaluated_at"],
    )


def _moved(old: Decimal | None, new: Decimal | None) -> bool:
    if old is None or new is None:
        return old != new
    return abs(new - old) >= PROGRESS_STEP


def _rounded(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return value.quantize(_QUANTUM)
    except InvalidOperation:  # too many digits to quantize: keep it exact
        return value


# --------------------------------------------------------------------------- the tracker
