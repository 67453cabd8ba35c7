"""Adherence subscriber: `PostPublished` on calendar.posts.lifecycle.v1 -> the read model of
published posts (consumer group `calendar-adherence`). A post published late, for a week the
client is judged on, has its client evaluated again at once; the other lifecycle events are
not adherence's business."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaRouter

from services.calendar.adherence.monitor import AdherenceMonitor
from services.calendar.adherence.repository import AdherenceRepository
from services.calendar.repository import CalendarRepository
from shared import topics
from shared.broker import at_least_once
from shared.delivery import PermanentError
from shared.events import POST_LIFECYCLE_EVENTS, PostPublished
from shared.lru import BoundedCache
from shared.runtime import Runtime

GROUP = "calendar-adherence"


def build_router(
    runtime: Runtime,
    repo: AdherenceRepository,
    monitor: AdherenceMonitor,
    clients: CalendarRepository,
) -> KafkaRouter:
    router = KafkaRouter()
    zones: BoundedCache[tuple[str, str], str] = BoundedCache(100_000, 300.0)

    async def zone_of(tenant_id: str, client_id: str) -> str | None:
        """The client's time zone (cached: read once per client, not per published post)."""
        zone = zones.get((tenant_id, client_id))
        if zone is None:
            client = await clients.get_client(tenant_id, client_id)
            if client is None:
                return None
            zone = client.timezone
            zones.put((tenant_id, client_id), zone)
        return zone

    @router.subscriber(topics.POST_LIFECYCLE, **at_least_once(runtime.group(GROUP)))
    async def on_post_lifecycle(body: dict[str, Any]) -> None:
        """Record a published post once; re-judge its client if it lands in a judged week."""
        kind = POST_LIFECYCLE_EVENTS.get(str(body.get("event_type")))
        if kind is None:
            raise PermanentError(f"unknown event_type {str(body.get('event_type'))[:100]!r}")
        if kind is not PostPublished:
            return
        event = PostPublished.model_validate(body)
        await runtime.require_tenant(event.tenant_id)
        if not await repo.record(event):
            return  # a replay
        zone = await zone_of(event.tenant_id, event.client_id)
        if zone is None:
            return  # a client this calendar does not know: nothing planned to compare with
        start, end = monitor.judged_weeks(zone)
        if start <= event.scheduled_at.astimezone(monitor.zone(zone)).date() < end:
            await monitor.evaluate(event.tenant_id, event.client_id, zone)

    return router
