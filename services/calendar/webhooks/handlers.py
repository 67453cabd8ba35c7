"""Webhook fan-out: every event an agency can subscribe to (PostScheduled on
calendar.posts.scheduled.v1; every post lifecycle event on calendar.posts.lifecycle.v1;
BudgetThresholdCrossed on budget.thresholds.v1; goal events on metrics.goals.v1;
AdherenceDropped on calendar.adherence.v1) becomes one persisted pending delivery per matching
subscription of its tenant; `sender.py` sends them. Consumer groups
`calendar-webhooks.<topic>`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaRouter

from services.calendar.webhooks import metrics
from services.calendar.webhooks.models import EVENTS, TOPICS
from services.calendar.webhooks.repository import WebhookRepository
from services.calendar.webhooks.sender import Sender
from shared.broker import at_least_once
from shared.delivery import PermanentError
from shared.envelope import utcnow
from shared.runtime import Runtime

GROUP = "calendar-webhooks"


def build_router(runtime: Runtime, repo: WebhookRepository, sender: Sender) -> KafkaRouter:
    router = KafkaRouter()

    def subscriber(topic: str) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def fan_out(body: dict[str, Any]) -> None:
            """Queue a delivery of this event for each subscription that wants it (once: the
            delivery's id is subscription + event id)."""
            kind = EVENTS.get(str(body.get("event_type")))
            if kind is None:
                raise PermanentError(f"unknown event_type {str(body.get('event_type'))[:100]!r}")
            event = kind.model_validate(body)
            await runtime.require_tenant(event.tenant_id)
            client_id = getattr(event, "client_id", None)
            subs = await repo.matching(event.tenant_id, event.event_type, client_id)
            new = await repo.enqueue(
                tenant_id=event.tenant_id,
                subscription_ids=subs,
                event_id=event.event_id,
                event_type=event.event_type,
                body=event.model_dump_json().encode(),
                now=utcnow(),
            )
            if new:
                metrics.ENQUEUED.inc(new)
                sender.kick()

        fan_out.__name__ = f"webhooks_on_{topic.replace('.', '_')}"
        return fan_out

    for topic in TOPICS:
        # a group per topic: five consumers joining one group would rebalance each other
        group = runtime.group(f"{GROUP}.{topic}")
        router.subscriber(topic, **at_least_once(group))(subscriber(topic))
    return router
