"""The webhooks capability as the calendar's composition root (`services/calendar/app.py`)
mounts it: its routes, its Kafka subscribers, its indexes and its background sender."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from faststream.kafka import KafkaRouter

from services.calendar.webhooks import api, handlers
from services.calendar.webhooks.repository import INDEXES, WebhookRepository
from services.calendar.webhooks.sender import Sender
from services.calendar.webhooks.settings import WebhookSettings
from shared.runtime import Runtime

__all__ = ["INDEXES", "Webhooks"]


@dataclass
class Webhooks:
    runtime: Runtime
    settings: WebhookSettings
    repo: WebhookRepository
    sender: Sender

    router = api.router

    @classmethod
    def build(cls, runtime: Runtime, settings: WebhookSettings | None = None) -> Webhooks:
        settings = settings or WebhookSettings()
        repo = WebhookRepository(runtime.db, cache_ttl_s=settings.subscription_cache_s)
        return cls(runtime, settings, repo, Sender(runtime, repo, settings))

    def kafka_router(self) -> KafkaRouter:
        return handlers.build_router(self.runtime, self.repo, self.sender)

    def subscribe(self) -> None:
        """Put the fan-out subscribers on the process's broker (they start with it)."""
        self.runtime.broker.include_router(
            self.kafka_router(), prefix=self.runtime.settings.topic_prefix
        )

    async def start(self) -> None:
        """Run the sender in this process (cancelled with the runtime's background tasks)."""
        task = asyncio.create_task(self.sender.run(), name="webhook-sender")
        self.runtime.background.append(task)
