"""Calendar subscribers: BudgetThresholdCrossed (budget.thresholds.v1) -> pause that budget's
paid posts, each with a `PostPaused` on calendar.posts.lifecycle.v1 (same transaction);
BudgetResumed (budget.resumptions.v1) -> schedule again the posts that budget paused, each with
a `PostResumed`; ActivityRecorded (tenancy.activity.v1) -> the agency's activity log (once per
event id)."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaRouter
from pymongo.asynchronous.client_session import AsyncClientSession

from services.calendar import activity
from services.calendar.metrics import POSTS_PAUSED, POSTS_RESUMED
from services.calendar.publishing import lifecycle
from services.calendar.repository import CalendarRepository
from shared import mongo, topics
from shared.broker import at_least_once
from shared.events import ActivityRecorded, BudgetResumed, BudgetThresholdCrossed
from shared.runtime import Runtime

log = logging.getLogger("socialops.calendar")
GROUP = "calendar"


def build_router(runtime: Runtime, repo: CalendarRepository) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(topics.BUDGET_THRESHOLDS, **at_least_once(runtime.group(GROUP)))
    async def on_budget_threshold_crossed(event: BudgetThresholdCrossed) -> None:
        """Pause paid posts of a budget that reached 100%; once per event."""
        await runtime.require_tenant(event.tenant_id)
        if not event.pause_paid_posts:
            return
        reason = f"budget {event.budget_id} reached {event.threshold_pct}% ({event.spent})"

        async def pause(session: AsyncClientSession) -> int:
            posts = await repo.pause_paid_posts(
                event.tenant_id, event.budget_id, reason=reason, session=session
            )
            events = [lifecycle.paused(p, reason, cause=event) for p in posts]
            if events:
                await runtime.outbox.stage(session, runtime.topics(topics.POST_LIFECYCLE), *events)
            return len(posts)

        paused = await mongo.run_once(
            runtime.mongo,
            runtime.db,
            consumer=GROUP,
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            effect=pause,
        )
        if paused:
            runtime.outbox.kick()
            POSTS_PAUSED.labels(event.tenant_id).inc(paused)
            log.info("paused %s paid posts of budget %s", paused, event.budget_id)

    @router.subscriber(topics.BUDGET_RESUMPTIONS, **at_least_once(runtime.group(GROUP)))
    async def on_budget_resumed(event: BudgetResumed) -> None:
        """Schedule again the posts this budget's crossing paused (not those paused by hand or
        by another budget); once per event."""
        await runtime.require_tenant(event.tenant_id)

        async def resume(session: AsyncClientSession) -> int:
            posts = await repo.resume_paid_posts(event.tenant_id, event.budget_id, session=session)
            events = [lifecycle.resumed(p, cause=event) for p in posts]
            if events:
                await runtime.outbox.stage(session, runtime.topics(topics.POST_LIFECYCLE), *events)
            return len(posts)

        resumed = await mongo.run_once(
            runtime.mongo,
            runtime.db,
            consumer=GROUP,
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            effect=resume,
        )
        if resumed:
            runtime.outbox.kick()
            POSTS_RESUMED.labels(event.tenant_id).inc(resumed)
            log.info("resumed %s paid posts of budget %s", resumed, event.budget_id)

    @router.subscriber(topics.ACTIVITY, **at_least_once(runtime.group(GROUP)))
    async def on_activity_recorded(event: ActivityRecorded) -> None:
        """Append a change to its agency's activity log; a redelivery stores nothing twice."""
        await runtime.require_tenant(event.tenant_id)
        if await activity.store(runtime.db, event):
            log.info("activity %s %s %s", event.entity, event.entity_id, event.action)

    return router
