"""Goal tracking logic (pure parts of goal_tracker): baseline and target resolution per metric
kind, which event an evaluation publishes, deterministic event ids, and the ingestion trigger."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.metrics.goal_store import SeriesKind
from services.metrics.goal_tracker import (
    GoalRejectedError,
    GoalTracker,
    decide,
    evaluation_spec,
    goal_event,
    plan_goal,
    status_doc,
    user_spec,
)
from services.metrics.goals import GoalEventKind, GoalSpec, GoalState, evaluate
from shared.events import GoalAtRisk, GoalProgressed, Platform
from shared.observability import registry

D = Decimal
START = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = START + timedelta(days=90)


def spec(**changes: Any) -> GoalSpec:
    fields: dict[str, Any] = {
        "metric": "followers",
        "platform": Platform.INSTAGRAM,
        "baseline": None,
        "target_value": D(1100),
        "start": START,
        "deadline": DEADLINE,
    }
    return GoalSpec(**(fields | changes))


# --------------------------------------------------------------------------- plan_goal


def test_stock_baseline_from_history_and_relative_target() -> None:
    plan = plan_goal(
        spec(target_value=None, target_change_pct=D(10)), SeriesKind.STOCK, history=D(1000)
    )
    assert (plan.baseline, plan.target, plan.baseline_source) == (D(1000), D(1100), "history")


def test_given_baseline_wins_over_history() -> None:
    plan = plan_goal(spec(baseline=D(900)), SeriesKind.STOCK, history=D(1000))
    assert (plan.baseline, plan.target, plan.baseline_source) == (D(900), D(1100), "given")


def test_stock_without_history_or_baseline_is_rejected_on_baseline() -> None:
    with pytest.raises(GoalRejectedError, match="no stored history") as e:
        plan_goal(spec(), SeriesKind.STOCK, history=None)
    assert e.value.field == "baseline"


def test_history_baseline_equal_to_target_is_rejected() -> None:
    with pytest.raises(GoalRejectedError, match="target equals the baseline") as e:
        plan_goal(spec(), SeriesKind.STOCK, history=D(1100))
    assert e.value.field == "target_value"


def test_kpi_baseline_from_the_period_before_start() -> None:
    ctr = spec(metric="ctr", target_value=None, target_change_pct=D(50))
    plan = plan_goal(ctr, SeriesKind.KPI, history=D("0.01"))
    assert (plan.baseline, plan.target) == (D("0.01"), D("0.015"))
    with pytest.raises(GoalRejectedError, match="not defined over the period before start"):
        plan_goal(ctr, SeriesKind.KPI, history=None)


def test_flow_counts_from_zero_toward_an_absolute_target() -> None:
    plan = plan_goal(spec(metric="clicks", target_value=D(50)), SeriesKind.FLOW, history=D(30))
    assert (plan.baseline, plan.target, plan.reference) == (D(0), D(50), D(30))
    assert plan.baseline_source == "zero"


def test_flow_relative_target_scales_the_reference_period() -> None:
    views = spec(metric="views", target_value=None, target_change_pct=D(10))
    assert plan_goal(views, SeriesKind.FLOW, history=D(2000)).target == D(2200)
    given = spec(metric="views", baseline=D(1000), target_value=None, target_change_pct=D(10))
    assert plan_goal(given, SeriesKind.FLOW, history=D(2000)).target == D(1100)


@pytest.mark.parametrize("history", [None, D(0)])
def test_flow_relative_target_without_a_reference_is_rejected(history: Decimal | None) -> None:
    views = spec(metric="views", target_value=None, target_change_pct=D(10))
    with pytest.raises(GoalRejectedError, match="no stored total") as e:
        plan_goal(views, SeriesKind.FLOW, history=history)
    assert e.value.field == "baseline"


def test_flow_reductions_are_rejected_naming_the_target() -> None:
    with pytest.raises(GoalRejectedError, match="not a reduction") as e:
        plan_goal(
            spec(metric="followers_lost", target_value=None, target_change_pct=D(-20)),
            SeriesKind.FLOW,
            history=D(100),
        )
    assert e.value.field == "target_change_pct"
    with pytest.raises(GoalRejectedError, match="not a reduction") as e:
        plan_goal(
            spec(metric="clicks", baseline=D(60), target_value=D(50)), SeriesKind.FLOW, history=None
        )
    assert e.value.field == "target_value"


# --------------------------------------------------------------------------- evaluation outcome


def goal_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": "go-1",
        "tenant_id": "agency-1",
        "client_id": "cl-1",
        "metric": "followers",
        "platform": "instagram",
        "start": START,
        "deadline": DEADLINE,
        "revision": 3,
        "spec": {"baseline": D(1000), "target_value": D(1100), "target_change_pct": None},
        "baseline": D(1000),
        "target": D(1100),
        "status": None,
    }
    return doc | changes


def status_at(value: int, day: int, deadline_days: int = 90) -> dict[str, Any]:
    goal = goal_doc(deadline=START + timedelta(days=deadline_days))
    status = evaluate(
        evaluation_spec(goal),
        points=[(START + timedelta(days=day), D(value))],
        now=START + timedelta(days=day, hours=1),
    )
    return status_doc(status)


def test_specs_round_trip_from_the_stored_goal() -> None:
    goal = goal_doc()
    assert user_spec(goal).target_value == D(1100)
    assert evaluation_spec(goal).baseline == D(1000)


def test_status_doc_rounds_progress_and_projection() -> None:
    doc = status_at(1040, 30)
    assert doc["progress"] == D("0.400000")
    assert doc["state"] == "on_track"
    assert doc["projected"] is not None and doc["projected"].as_tuple().exponent == -6


def test_first_evaluation_always_publishes() -> None:
    no_data = status_doc(evaluate(evaluation_spec(goal_doc()), points=[], now=START))
    assert no_data["state"] == "on_track"
    assert decide(None, no_data) is GoalEventKind.PROGRESSED
    assert decide(None, status_at(1000, 10)) is GoalEventKind.AT_RISK


def test_state_change_publishes_its_event() -> None:
    on_track = status_at(1050, 30)
    at_risk = status_at(1001, 60)
    assert at_risk["state"] == "at_risk"
    assert decide(on_track, at_risk) is GoalEventKind.AT_RISK
    assert decide(at_risk, status_at(1100, 61)) is GoalEventKind.ACHIEVED


def test_progress_publishes_only_when_it_moves_enough() -> None:
    old = {"state": "on_track", "progress": D("0.5")}
    assert decide(old, {"state": "on_track", "progress": D("0.5009")}) is None
    assert decide(old, {"state": "on_track", "progress": D("0.501")}) is GoalEventKind.PROGRESSED
    assert decide(old, {"state": "on_track", "progress": D("0.499")}) is GoalEventKind.PROGRESSED


def test_event_ids_are_derived_from_goal_revision_state_and_progress() -> None:
    goal, status = goal_doc(), status_at(1050, 30)
    first = goal_event(goal, status, GoalEventKind.PROGRESSED)
    again = goal_event(
        goal, {**status, "evaluated_at": datetime.now(UTC)}, GoalEventKind.PROGRESSED
    )
    assert isinstance(first, GoalProgressed)
    assert first.event_id == again.event_id  # a re-run after a crash stages the same id
    assert goal_event(goal_doc(revision=4), status, GoalEventKind.PROGRESSED).event_id != (
        first.event_id
    )
    risk = goal_event(
        goal_doc(status={"state": "on_track"}), status_at(1001, 60), GoalEventKind.AT_RISK
    )
    assert isinstance(risk, GoalAtRisk)
    assert (risk.previous_state, risk.state, risk.goal_id) == ("on_track", "at_risk", "go-1")
    assert risk.partition_key() == b"agency-1:cl-1"


def test_deadline_passed_short_of_target_is_missed_and_final() -> None:
    doc = status_at(1050, 95, deadline_days=90)
    assert doc["state"] == GoalState.MISSED.value
    assert decide({"state": "on_track", "progress": D("0.5")}, doc) is GoalEventKind.MISSED


# --------------------------------------------------------------------------- ingestion trigger


def tracker() -> GoalTracker:
    return GoalTracker(runtime=None, repo=None)  # type: ignore[arg-type]  # no I/O here


async def test_ingestion_of_tenants_without_open_goals_is_ignored() -> None:
    t = tracker()
    t._tenants = {"agency-1"}
    await t.on_ingested({("agency-2", "cl-1", "instagram")})
    assert not t._pending and not t._wake.is_set()
    await t.on_ingested({("agency-1", "cl-1", "instagram"), ("agency-2", "cl-1", "x")})
    assert t._pending == {("agency-1", "cl-1", "instagram")}
    assert t._wake.is_set()


async def test_before_the_tenant_set_is_loaded_every_triple_is_kept() -> None:
    t = tracker()
    await t.on_ingested({("agency-9", "cl-1", "x")})
    assert t._pending == {("agency-9", "cl-1", "x")}


async def test_drain_with_nothing_touched_does_no_io() -> None:
    assert await tracker().drain() == 0


class FakeRepo:
    """Records what the tracker's loop asks the repository (no goals stored)."""

    def __init__(self) -> None:
        self.asked: list[set[tuple[str, str, str]]] = []
        self.due_rounds = 0

    async def tenants_with_recent_goals(self, *, since: datetime) -> set[str]:
        return {"agency-1"}

    async def count_by_state(self, tenant_id: str, *, since: datetime) -> dict[str, int]:
        return {}

    async def tenants_with_open_goals(self) -> set[str]:
        return {"agency-1"}

    async def due_goals(self, tenant_id: str, **_: Any) -> list[dict[str, Any]]:
        self.due_rounds += 1
        return []

    async def open_goals_for(self, touched: set[tuple[str, str, str]]) -> list[dict[str, Any]]:
        self.asked.append(set(touched))
        return []


async def test_run_loop_loads_tenants_then_evaluates_what_ingestion_touched() -> None:
    repo = FakeRepo()
    t = GoalTracker(runtime=None, repo=repo)  # type: ignore[arg-type]
    task = asyncio.create_task(t.run(interval_s=60))
    try:
        for _ in range(100):
            if t._tenants is not None:
                break
            await asyncio.sleep(0.01)
        assert t._tenants == {"agency-1"}
        assert repo.due_rounds == 1
        await t.on_ingested({("agency-1", "cl-1", "x"), ("agency-2", "cl-1", "x")})
        await t.on_ingested({("agency-1", "cl-2", "tiktok")})
        for _ in range(100):
            if repo.asked:
                break
            await asyncio.sleep(0.01)
        # both batches coalesce into one query; the tenant without open goals is dropped
        assert set().union(*repo.asked) == {
            ("agency-1", "cl-1", "x"),
            ("agency-1", "cl-2", "tiktok"),
        }
        assert repo.due_rounds == 1  # the periodic round waits for its interval
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class CountingRepo:
    """Goal counts per tenant as storage would answer them."""

    def __init__(self, counts: dict[str, dict[str, int]]) -> None:
        self.counts = counts

    async def tenants_with_recent_goals(self, *, since: datetime) -> set[str]:
        return set(self.counts)

    async def count_by_state(self, tenant_id: str, *, since: datetime) -> dict[str, int]:
        return self.counts.get(tenant_id, {})


async def test_goal_counts_follow_storage_and_tenants_without_goals_lose_their_series() -> None:
    """Issue 14 item 8: the tracker recounts changed tenants, and every tenant each round."""

    def count(tenant: str, state: str) -> float | None:
        return registry.get_sample_value("socialops_goals", {"tenant": tenant, "state": state})

    repo = CountingRepo({"agency-c": {"on_track": 3, "pending": 1}})
    t = GoalTracker(runtime=None, repo=repo)  # type: ignore[arg-type]
    await t.refresh_gauges(every_tenant=True)
    assert (count("agency-c", "on_track"), count("agency-c", "missed")) == (3, 0)

    repo.counts = {"agency-c": {"missed": 1}}
    t._changed.add("agency-c")
    await t.refresh_gauges()
    assert (count("agency-c", "on_track"), count("agency-c", "missed")) == (0, 1)

    repo.counts = {}  # its last goal aged out
    await t.refresh_gauges(every_tenant=True)
    assert count("agency-c", "missed") is None


def test_the_cap_of_open_goals_comes_from_the_settings() -> None:
    """Issue 14 item 8: METRICS_MAX_OPEN_GOALS_PER_CLIENT, 200 by default."""
    assert tracker().max_open_per_client == 200
    capped = GoalTracker(None, None, max_open_per_client=5)  # type: ignore[arg-type]
    assert capped.max_open_per_client == 5
