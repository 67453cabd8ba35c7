"""SMART goals as pure logic: a validated goal spec, its evaluation against measured points
(progress, least-squares projection to the deadline, status) and the event a status change emits.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.metrics.kpis import KPI_NAMES
from services.metrics.registry import METRICS, is_known
from shared.events import Platform
from shared.money import ExactDecimal

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

_MICROS_PER_DAY = Decimal(86_400_000_000)


class GoalState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    ACHIEVED = "achieved"
    MISSED = "missed"


class GoalEventKind(StrEnum):
    """The event type published when a goal's state changes."""

    PROGRESSED = "GoalProgressed"
    AT_RISK = "GoalAtRisk"
    ACHIEVED = "GoalAchieved"
    MISSED = "GoalMissed"


class GoalSpec(BaseModel):
    """A SMART goal: metric + platform + baseline + target (absolute or relative) + deadline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(description="Canonical metric or KPI name.", examples=["followers", "ctr"])
    platform: Platform
    baseline: ExactDecimal | None = Field(
        default=None, description="Value at start; if absent the caller supplies it."
    )
    target_value: ExactDecimal | None = Field(default=None, description="Absolute target.")
    target_change_pct: ExactDecimal | None = Field(
        default=None, ge=-100, description="Relative target in percent of baseline (+10 = +10%)."
    )
    start: AwareDatetime | None = None
    deadline: AwareDatetime | None = None

    @field_validator("metric")
    @classmethod
    def _measurable(cls, name: str) -> str:
        if not is_known(name) and name not in KPI_NAMES:
            known = ", ".join([*METRICS, *KPI_NAMES])
            raise ValueError(f"goal metric '{name}' is not measurable here; known: {known}")
        return name

    @model_validator(mode="after")
    def _smart(self) -> Self:
        if (self.target_value is None) == (self.target_change_pct is None):
            raise ValueError("give exactly one target: target_value or target_change_pct")
        if self.target_change_pct == 0:
            raise ValueError("target_change_pct of 0 asks for no change")
        if self.start is None or self.deadline is None:
            raise ValueError("goal is not time-bound: both start and deadline are required")
        if self.deadline <= self.start:
            raise ValueError("deadline must be after start")
        if is_known(self.metric):  # a count or duration; KPIs such as ROI may be negative
            for name in ("baseline", "target_value"):
                value = getattr(self, name)
                if value is not None and value < 0:
                    raise ValueError(f"{name} of '{self.metric}' cannot be negative: {value}")
        if self.baseline is not None and self.target(self.baseline) == self.baseline:
            raise ValueError("target equals baseline: nothing to achieve")
        return self

    def target(self, baseline: Decimal) -> Decimal:
        """The absolute target for a baseline (relative targets scale it)."""
        if self.target_value is not None:
            return self.target_value
        assert self.target_change_pct is not None  # guaranteed by validation
        return baseline * (1 + self.target_change_pct / 100)


class GoalStatus(BaseModel):
    """Where a goal stands at `evaluated_at`."""

    model_config = ConfigDict(frozen=True)

    state: GoalState
    baseline: Decimal
    target: Decimal
    current: Decimal = Field(description="Latest measured value (baseline if none yet).")
    progress: Decimal | None = Field(
        description="(current - baseline) / (target - baseline); None when target = baseline."
    )
    projected: Decimal | None = Field(
        description="Least-squares trend value at the deadline; None without two instants."
    )
    evaluated_at: AwareDatetime
    points_used: int = Field(ge=0)


def evaluate(
    spec: GoalSpec,
    *,
    points: Sequence[tuple[datetime, Decimal]],
    now: datetime,
    baseline: Decimal | None = None,
) -> GoalStatus:
    """Progress, deadline projection and state of a goal from measured (time, value) points.

    Points between start and min(now, deadline) count. Before the deadline a goal is achieved
    while its latest value meets the target, else at risk when the trend line through
    (start, baseline) and the points misses the target at the deadline. After the deadline it
    is achieved or missed for good.
    """
    if now.tzinfo is None or any(t.tzinfo is None for t, _ in points):
        raise ValueError("now and every point time must be timezone-aware")
    base = _baseline(spec, baseline)
    target = spec.target(base)
    assert spec.start is not None and spec.deadline is not None  # guaranteed by validation
    cutoff = min(now, spec.deadline)
    used = sorted((t, Decimal(v)) for t, v in points if spec.start <= t <= cutoff)
    current = used[-1][1] if used else base
    projected = _project([(spec.start, base), *used], at=spec.deadline, origin=spec.start)

    if now >= spec.deadline:
        state = GoalState.ACHIEVED if _reached(current, base, target) else GoalState.MISSED
    elif _reached(current, base, target):
        state = GoalState.ACHIEVED
    elif projected is not None and not _reached(projected, base, target):
        state = GoalState.AT_RISK
    else:
        state = GoalState.ON_TRACK
    progress = None if target == base else (current - base) / (target - base)
    return GoalStatus(
        state=state,
        baseline=base,
        target=target,
        current=current,
        progress=progress,
        projected=projected,
        evaluated_at=now,
        points_used=len(used),
    )


def transition(old: GoalState | None, new: GoalState) -> GoalEventKind | None:
    """The event to publish when a goal's state goes from `old` (None: first time) to `new`."""
    if old == new:
        return None
    return {
        GoalState.ON_TRACK: GoalEventKind.PROGRESSED,
        GoalState.AT_RISK: GoalEventKind.AT_RISK,
        GoalState.ACHIEVED: GoalEventKind.ACHIEVED,
        GoalState.MISSED: GoalEventKind.MISSED,
    }[new]


def _baseline(spec: GoalSpec, supplied: Decimal | None) -> Decimal:
    if spec.baseline is not None and supplied is not None and supplied != spec.baseline:
        raise ValueError(f"baseline {supplied} contradicts the goal's baseline {spec.baseline}")
    base = spec.baseline if spec.baseline is not None else supplied
    if base is None:
        raise ValueError("goal has no baseline: supply one from history")
    return Decimal(base)


def _reached(value: Decimal, baseline: Decimal, target: Decimal) -> bool:
    """Whether a value meets the target in the goal's direction (down for 'reduce CPC')."""
    if target > baseline:
        return value >= target
    if target < baseline:
        return value <= target
    return value == target


def _project(
    points: Sequence[tuple[datetime, Decimal]], *, at: datetime, origin: datetime
) -> Decimal | None:
    """The least-squares line through the points, evaluated at `at`; None if all share a time."""
    xs = [_days(t - origin) for t, _ in points]
    ys = [v for _, v in points]
    n = Decimal(len(points))
    mean_x, mean_y = sum(xs, Decimal(0)) / n, sum(ys, Decimal(0)) / n
    spread = sum(((x - mean_x) ** 2 for x in xs), Decimal(0))
    if spread == 0:
        return None
    slope = sum(((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)), Decimal(0))
    slope /= spread
    return mean_y + slope * (_days(at - origin) - mean_x)


def _days(delta: timedelta) -> Decimal:
    """A timedelta in days, exactly (integer microseconds, no float)."""
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / _MICROS_PER_DAY
