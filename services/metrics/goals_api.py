"""Goals HTTP API: create SMART goals (a goal that is not SMART is answered 422 naming the field
and the reason; past the cap of open goals per client, 409 naming the limit), read their live
status (listed a page at a time), delete them. Every route is scoped to the caller's agency:
another agency's goal answers 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from services.metrics.goal_planning import GoalLimitError, GoalRejectedError
from services.metrics.goal_store import GoalRepository
from services.metrics.goal_tracker import GoalTracker
from services.metrics.goals import GoalSpec, GoalState
from shared.deps import app_state
from shared.events import Platform
from shared.money import ExactDecimal
from shared.runtime import CurrentAgency

router = APIRouter(tags=["goals"])


GoalRepo = Annotated[GoalRepository, Depends(app_state("goal_repo"))]
Tracker = Annotated[GoalTracker, Depends(app_state("goal_tracker"))]


class GoalIn(BaseModel):
    """A SMART goal: metric + platform + baseline (or from history) + target + start + deadline."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(
        default=None, max_length=200, examples=["Instagram followers from 1,000 to 1,100"]
    )
    metric: str = Field(
        description="Canonical metric (followers, clicks, views...) or KPI (ctr, cpc, "
        "engagement_rate_impressions...).",
        examples=["followers"],
    )
    platform: Platform
    baseline: ExactDecimal | None = Field(
        default=None,
        description="Value at start. Omitted: taken from stored history (stock metrics: the "
        "level just before start; KPIs: the KPI over the period of equal length before start; "
        "flows count from 0, and a relative target scales the total of that earlier period).",
    )
    target_value: ExactDecimal | None = Field(default=None, description="Absolute target.")
    target_change_pct: ExactDecimal | None = Field(
        default=None, description="Relative target in percent of the baseline (+10 = +10%)."
    )
    start: AwareDatetime | None = Field(default=None, examples=["2026-01-01T00:00:00Z"])
    deadline: AwareDatetime | None = Field(default=None, examples=["2026-03-31T23:59:59Z"])


class GoalOut(BaseModel):
    """A goal and where it stands (status fields are null until its first evaluation)."""

    goal_id: str
    client_id: str
    name: str | None
    metric: str
    kind: str = Field(description="stock, flow or kpi: how the metric is measured over time.")
    platform: Platform
    start: datetime
    deadline: datetime
    created_at: datetime
    open: bool = Field(description="False once achieved or missed (final).")
    baseline: ExactDecimal
    baseline_source: str = Field(description="given, history, or zero (flows count from 0).")
    reference: ExactDecimal | None = Field(
        description="Flows: the total of the reference period a relative target scales."
    )
    target: ExactDecimal
    target_value: ExactDecimal | None
    target_change_pct: ExactDecimal | None
    state: GoalState | None
    current: ExactDecimal | None
    progress: ExactDecimal | None = Field(description="0..1 from baseline to target.")
    projected: ExactDecimal | None = Field(description="Trend value at the deadline.")
    evaluated_at: datetime | None

    @classmethod
    def of(cls, goal: dict[str, Any]) -> GoalOut:
        current = goal.get("status") or {}
        given = goal["spec"]
        return cls(
            goal_id=goal["_id"],
            **{k: goal.get(k) for k in ("client_id", "name", "metric", "kind", "platform",
                                        "start", "deadline", "created_at", "open", "baseline",
                                        "baseline_source", "reference", "target")},
            target_value=given.get("target_value"),
            target_change_pct=given.get("target_change_pct"),
            state=current.get("state"),
            current=current.get("current"),
            progress=current.get("progress"),
            projected=current.get("projected"),
            evaluated_at=current.get("evaluated_at"),
        )  # fmt: skip


def smart_spec(body: GoalIn) -> GoalSpec:
    """Validate a goal through GoalSpec; 422 naming each field and reason when it is not SMART."""
    data = body.model_dump(exclude={"client_id", "name"})
    try:
        return GoalSpec(**data)
    except ValidationError as e:
        detail = [
            {
                "loc": ["body", *(err["loc"] or (field_of(err["msg"], data),))],
                "msg": err["msg"].removeprefix("Value error, "),
                "type": err["type"],
            }
            for err in e.errors(include_url=False, include_input=False)
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail) from e


def field_of(message: str, data: dict[str, Any]) -> str:
    """The field a whole-goal (model-level) GoalSpec error is about."""
    reason = message.removeprefix("Value error, ")
    if "not time-bound" in reason:
        return "deadline" if data.get("deadline") is None else "start"
    if reason.startswith("deadline"):
        return "deadline"
    for name in ("baseline", "target_value", "target_change_pct"):
        if reason.startswith(f"{name} of "):  # "<field> of '<metric>' cannot be negative"
            return name
    if "no change" in reason:
        return "target_change_pct"
    if "target" in reason:  # exactly one target; target equals baseline
        return "target_change_pct" if data.get("target_value") is None else "target_value"
    return "goal"


def _not_found(goal_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"goal '{goal_id}' not found")


@router.post("/goals", status_code=status.HTTP_201_CREATED)
async def create_goal(body: GoalIn, agency: CurrentAgency, tracker: Tracker) -> GoalOut:
    """Set a SMART goal for a client; it is evaluated at once and whenever data arrives, and
    publishes GoalProgressed / GoalAtRisk / GoalAchieved / GoalMissed on metrics.goals.v1.
    A client has at most METRICS_MAX_OPEN_GOALS_PER_CLIENT open goals (default 200): past
    that, 409."""
    spec = smart_spec(body)
    try:
        goal = await tracker.create_goal(agency.tenant_id, body.client_id, spec, name=body.name)
    except GoalRejectedError as e:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", e.field], "msg": e.reason, "type": "value_error"}],
        ) from e
    except GoalLimitError as e:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=[{"loc": ["body", "client_id"], "msg": str(e), "type": "limit_exceeded",
                     "limit": e.limit}],
        ) from e  # fmt: skip
    return GoalOut.of(goal)


@router.get("/goals")
async def list_goals(
    agency: CurrentAgency,
    repo: GoalRepo,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
    state: GoalState | None = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Goals per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Goals to skip.")] = 0,
) -> list[GoalOut]:
    """Your agency's goals, oldest first, optionally of one client and in one state; a page of
    `limit` (at most 500) after skipping `offset`. A page shorter than `limit` is the last."""
    goals = await repo.list_goals(
        agency.tenant_id,
        client_id,
        state=state.value if state else None,
        limit=limit,
        offset=offset,
    )
    return [GoalOut.of(g) for g in goals]


@router.get("/goals/{goal_id}")
async def get_goal(goal_id: str, agency: CurrentAgency, repo: GoalRepo) -> GoalOut:
    """A goal's current status: state, baseline, target, current, progress, projection."""
    goal = await repo.get(agency.tenant_id, goal_id)
    if goal is None:
        raise _not_found(goal_id)
    return GoalOut.of(goal)


@router.delete("/goals/{goal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_goal(goal_id: str, agency: CurrentAgency, tracker: Tracker) -> Response:
    """Delete a goal (its events stay on the topic)."""
    if not await tracker.delete_goal(agency.tenant_id, goal_id):
        raise _not_found(goal_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
