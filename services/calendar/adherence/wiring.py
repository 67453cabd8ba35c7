"""The adherence capability as the calendar's composition root (`services/calendar/app.py`)
mounts it: its routes, its subscriber, its indexes and its periodic sweep."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.calendar.adherence import api, handlers
from services.calendar.adherence.monitor import AdherenceMonitor
from services.calendar.adherence.repository import INDEXES, AdherenceRepository
from services.calendar.adherence.settings import AdherenceSettings
from services.calendar.repository import CalendarRepository
from services.calendar.strategy.repository import StrategyRepository
from shared.runtime import Runtime

__all__ = ["INDEXES", "Adherence"]


@dataclass
class Adherence:
    runtime: Runtime
    settings: AdherenceSettings
    repo: AdherenceRepository
    monitor: AdherenceMonitor

    router = api.router

    @classmethod
    def build(cls, runtime: Runtime, settings: AdherenceSettings | None = None) -> Adherence:
        settings = settings or AdherenceSettings()
        repo = AdherenceRepository(runtime.db)
        monitor = AdherenceMonitor(runtime, repo, StrategyRepository(runtime.db), settings)
        return cls(runtime, settings, repo, monitor)

    def subscribe(self) -> None:
        """Put the PostPublished subscriber on the process's broker (it starts with it)."""
        router = handlers.build_router(
            self.runtime, self.repo, self.monitor, CalendarRepository(self.runtime.db)
        )
        self.runtime.broker.include_router(router, prefix=self.runtime.settings.topic_prefix)

    async def start(self) -> None:
        """Run the periodic sweep in this process (cancelled with the runtime's tasks)."""
        if self.settings.enabled:
            task = asyncio.create_task(self.monitor.run(), name="adherence-sweep")
            self.runtime.background.append(task)
