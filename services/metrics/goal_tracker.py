"""SMART goals as live objects: resolve a new goal's baseline and target from stored history,
re-evaluate open goals as observations arrive (and periodically, for deadlines that pass
without data), store each status and stage the event it causes in the same transaction.

Delivery: the status and its event commit together (outbox), guarded by the goal's revision
so two evaluations racing (two replicas, a retry) commit one event; event ids derive from
(goal, revision, state, progress), so a re-run after a crash stages the same id again.
Ingestion only marks (tenant, client, platform) as touched; the `run` loop evaluates them,
so the hot ingestion path does no goal I/O and bursts of batches coalesce.

Bounds: a client has at most `max_open_goals_per_client` open goals (METRICS_ settings); the
Prometheus series count goals per tenant and state (`goal_metrics`), recomputed from storage
for the tenants whose goals changed and, every periodic round, for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.errors import BulkWriteError, OperationFailure

from services.metrics import goal_metrics
from services.metrics.goal_planning import (
    FINAL,
    GAUGE_RETENTION,
    GoalLimitError,
    GoalRejectedError,
    Plan,
    decide,
    evaluation_spec,
    goal_event,
    plan_goal,
    status_doc,
    user_spec,
)
from services.metrics.goal_store import (
    GoalRepository,
    Point,
    SeriesKind,
    Triple,
    bucket_for,
    level_name,
    needs_level,
    series_kind,
)
from services.metrics.goals import (
    GoalSpec,
    GoalState,
    evaluate,
)
from services.metrics.settings import DEFAULT_MAX_OPEN_GOALS_PER_CLIENT, MetricsSettings
from shared import mongo, tasks, topics
from shared.envelope import utcnow
from shared.events import GoalEvent
from shared.runtime import Runtime

log = logging.getLogger("socialops.metrics.goals")


class _LostRaceError(Exception):
    """Another evaluation committed first (the goal's revision moved)."""


class GoalTracker:
    """Creates goals and keeps every open goal's status current, publishing what changes."""

    def __init__(
        self,
        runtime: Runtime,
        repo: GoalRepository,
        *,
        stale_after_s: float = 300.0,
        max_open_per_client: int | None = None,
    ):
        self.runtime = runtime
        self.repo = repo
        self.stale_after = timedelta(seconds=stale_after_s)
        settings = getattr(runtime, "settings", None)
        if max_open_per_client is None:
            max_open_per_client = (
                settings.max_open_goals_per_client
                if isinstance(settings, MetricsSettings)
                else DEFAULT_MAX_OPEN_GOALS_PER_CLIENT
            )
        self.max_open_per_client = max_open_per_client
        self._tenants: set[str] | None = None  # tenants with open goals (None: not loaded yet)
        self._created: set[str] = set()  # tenants given goals while the set was reloading
        self._pending: set[Triple] = set()
        self._wake = asyncio.Event()
        self._changed: set[str] = set()  # tenants whose goal counts may have moved
        self._gauged: set[str] = set()  # tenants with goal-count series

    # creation -----------------------------------------------------------------------------

    async def create_goal(
        self, tenant_id: str, client_id: str, spec: GoalSpec, *, name: str | None = None
    ) -> dict[str, Any]:
        """Resolve, store and evaluate a new goal; GoalRejectedError when it cannot be measured,
        GoalLimitError when the client has the maximum of open goals already (two concurrent
        creations may both pass the check: the cap bounds the count, not to the unit)."""
        assert spec.start is not None and spec.deadline is not None  # GoalSpec guarantees both
        now = utcnow()
        if spec.deadline <= now:
            raise GoalRejectedError("deadline", "the deadline has already passed")
        if await self.repo.count_open(tenant_id, client_id) >= self.max_open_per_client:
            goal_metrics.GOALS_REFUSED.inc()
            raise GoalLimitError(client_id, self.max_open_per_client)
        kind = series_kind(spec.metric)
        goal: dict[str, Any] = {
            "_id": f"go-{uuid.uuid4().hex[:12]}",
            "tenant_id": tenant_id,
            "client_id": client_id,
            "name": name,
            "metric": spec.metric,
            "kind": kind.value,
            "platform": spec.platform.value,
            "spec": spec.model_dump(include={"baseline", "target_value", "target_change_pct"}),
            "start": spec.start,
            "deadline": spec.deadline,
            "created_at": now,
            "open": True,
            "revision": 0,
            "status": None,
            "evaluated_at": None,
        }
        goal |= await self._resolve(goal, now=now, strict=True)
        await self.repo.insert(goal)
        self._created.add(tenant_id)
        if self._tenants is not None:
            self._tenants.add(tenant_id)
        self._changed.add(tenant_id)
        try:
            return await self.evaluate_goal(goal) or goal
        except Exception:  # the periodic round evaluates goals never evaluated
            log.exception("first evaluation of goal %s failed", goal["_id"])
            goal_metrics.GOAL_EVALUATION_ERRORS.inc()
            return goal
        finally:
            await self._refresh_quietly()

    async def delete_goal(self, tenant_id: str, goal_id: str) -> bool:
        deleted = await self.repo.delete(tenant_id, goal_id)
        if deleted:
            self._changed.add(tenant_id)
            await self._refresh_quietly()
        return deleted

    async def _resolve(
        self, goal: Mapping[str, Any], *, now: datetime, strict: bool
    ) -> dict[str, Any]:
        """Baseline, target and the stock level before start, from history as of start (or as
        of now while start is ahead: provisional, resolved again once start passes)."""
        spec = user_spec(goal)
        assert spec.start is not None and spec.deadline is not None
        kind = series_kind(spec.metric)
        at = min(spec.start, now)
        key = (goal["tenant_id"], goal["client_id"], goal["platform"])
        history = None
        if spec.baseline is None or kind is SeriesKind.FLOW:
            if kind is SeriesKind.STOCK:
                history = await self.repo.level_before(*key, spec.metric, at)
            else:
                span = spec.deadline - spec.start
                history = await self.repo.window_total(*key, spec.metric, at - span, at)
        try:
            plan = plan_goal(spec, kind, history=history)
        except GoalRejectedError:
            if strict or goal.get("target") is None:
                raise
            log.warning("goal %s keeps its provisional baseline", goal["_id"], exc_info=True)
            plan = Plan(
                goal["baseline"], goal["target"], goal.get("reference"), goal["baseline_source"]
            )
        level = None
        if needs_level(spec.metric):
            level = await self.repo.level_before(*key, level_name(spec.metric), at)
        return {
            "baseline": plan.baseline,
            "target": plan.target,
            "reference": plan.reference,
            "baseline_source": plan.baseline_source,
            "start_level": level if level is not None else Decimal(0),
            "resolved": spec.start <= now,
        }

    # evaluation ---------------------------------------------------------------------------

    async def evaluate_goal(self, goal: Mapping[str, Any]) -> dict[str, Any] | None:
        """Evaluate one goal now: store its status and, when its state or progress moved, stage
        the matching event in the same transaction. Returns the goal as stored (None: deleted).
        Achieved and missed goals are final and returned as they are."""
        current: Mapping[str, Any] | None = goal
        for _ in range(5):
            if current is None or not current.get("open"):
                return dict(current) if current is not None else None
            stored = await self._evaluate_once(current)
            if stored is not None:
                return stored
            current = await self.repo.get(goal["tenant_id"], goal["_id"])  # lost a race
        log.warning("goal %s: gave up after repeated concurrent evaluations", goal["_id"])
        return dict(current) if current is not None else None

    async def _evaluate_once(self, goal: Mapping[str, Any]) -> dict[str, Any] | None:
        now = utcnow()
        changes: dict[str, Any] = {}
        if not goal.get("resolved") and goal["start"] <= now:
            changes |= await self._resolve(goal, now=now, strict=False)
        resolved = {**goal, **changes}
        points: list[Point] = []
        if now >= resolved["start"]:
            points = await self.repo.metric_points(
                resolved["tenant_id"],
                resolved["client_id"],
                resolved["platform"],
                resolved["metric"],
                resolved["start"],
                min(now, resolved["deadline"]),
                bucket=bucket_for(resolved["start"], resolved["deadline"]),
                start_level=resolved.get("start_level"),
            )
        status = status_doc(evaluate(evaluation_spec(resolved), points=points, now=now))
        kind = decide(goal.get("status"), status)
        final = GoalState(status["state"]) in FINAL
        changes |= {"status": status, "evaluated_at": now, "open": not final}
        if final:
            changes["closed_at"] = now
        event = goal_event(resolved, status, kind) if kind else None
        if not await self._commit(goal, changes, event):
            return None
        stored = {**resolved, **changes, "revision": goal["revision"] + 1}
        self._changed.add(stored["tenant_id"])
        if event is not None:
            goal_metrics.GOAL_EVENTS.labels(stored["tenant_id"], event.event_type).inc()
            self.runtime.outbox.kick()
        return stored

    async def _commit(
        self, goal: Mapping[str, Any], changes: Mapping[str, Any], event: GoalEvent | None
    ) -> bool:
        """Store the status (and stage its event) unless another evaluation committed first."""
        if event is None:
            return await self.repo.update(goal, changes)
        topic = self.runtime.topics(topics.GOAL_EVENTS)
        try:
            async with mongo.transaction(self.runtime.mongo) as session:
                if not await self.repo.update(goal, changes, session=session):
                    raise _LostRaceError
                await self.runtime.outbox.stage(session, topic, event)
        except _LostRaceError:
            return False
        except BulkWriteError as e:  # that very event is staged already: a concurrent twin
            if mongo.only_duplicates(e):
                return False
            raise
        except OperationFailure as e:  # a write conflict with a concurrent evaluation
            if e.has_error_label("TransientTransactionError"):
                return False
            raise
        return True

    async def _safe_evaluate(self, goal: Mapping[str, Any]) -> None:
        try:
            await self.evaluate_goal(goal)
        except asyncio.CancelledError:
            raise
        except Exception:  # one goal's failure must not stop the others; retried next round
            goal_metrics.GOAL_EVALUATION_ERRORS.inc()
            log.exception("evaluation of goal %s failed", goal.get("_id"))

    # triggers -----------------------------------------------------------------------------

    async def on_ingested(self, touched: Iterable[Triple]) -> None:
        """Note (tenant_id, client_id, platform) triples that got new observations; the run
        loop re-evaluates their open goals. No I/O: tenants without open goals are dropped."""
        tenants = self._tenants
        wanted = {t for t in touched if tenants is None or t[0] in tenants}
        if wanted:
            self._pending |= wanted
            self._wake.set()

    async def drain(self) -> int:
        """Evaluate the open goals of every triple touched since the last drain (one query)."""
        touched, self._pending = self._pending, set()
        if not touched:
            return 0
        try:
            goals = await self.repo.open_goals_for(touched)
        except Exception:
            self._pending |= touched
            raise
        for goal in goals:
            await self._safe_evaluate(goal)
        await self.refresh_gauges()
        return len(goals)

    async def evaluate_due(self) -> int:
        """Reload the tenants with open goals, and evaluate the goals due without new data:
        deadline passed, start passed with a provisional baseline, or not evaluated lately."""
        self._created.clear()
        tenants = await self.repo.tenants_with_open_goals()
        self._tenants = tenants | self._created
        now = utcnow()
        evaluated = 0
        for tenant_id in sorted(tenants):
            due = await self.repo.due_goals(tenant_id, now=now, stale_before=now - self.stale_after)
            for goal in due:
                await self._safe_evaluate(goal)
            evaluated += len(due)
        await self.refresh_gauges(every_tenant=True)
        return evaluated

    async def refresh_gauges(self, *, every_tenant: bool = False) -> None:
        """Recount the goals by state of the tenants whose goals changed (or of every tenant:
        closed goals age out of the counts, tenants left without goals lose their series)."""
        since = utcnow() - GAUGE_RETENTION
        tenants, self._changed = self._changed, set()
        try:
            if every_tenant:
                current = await self.repo.tenants_with_recent_goals(since=since)
                for gone in self._gauged - current - tenants:
                    goal_metrics.forget(gone)
                    self._gauged.discard(gone)
                tenants |= current
            for tenant_id in sorted(tenants):
                goal_metrics.set_counts(
                    tenant_id, await self.repo.count_by_state(tenant_id, since=since)
                )
                self._gauged.add(tenant_id)
                tenants.discard(tenant_id)
        finally:
            self._changed |= tenants  # what was not recounted, next time

    async def _refresh_quietly(self) -> None:
        """Recount after an HTTP change; a failure leaves it to the loop's next round."""
        try:
            await self.refresh_gauges()
        except Exception:
            log.warning("goal counts not refreshed; the next round will", exc_info=True)

    async def run(self, interval_s: float = 30.0) -> None:
        """Background loop: evaluate touched goals as soon as ingestion reports them, and every
        `interval_s` the goals due without data (so a deadline passing yields `missed`)."""
        next_due = 0.0
        while True:
            self._wake.clear()
            try:
                if time.monotonic() >= next_due:
                    await self.evaluate_due()
                    next_due = time.monotonic() + interval_s
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                tasks.raise_if_stopping()
                log.exception("goal tracking round failed; will retry")
                next_due = time.monotonic() + min(interval_s, 5.0)
            timeout = max(0.0, next_due - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
