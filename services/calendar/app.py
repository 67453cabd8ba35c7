"""Calendar service composition root: settings -> runtime -> repository -> routes/subscribers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from fastapi import FastAPI
from pymongo import IndexModel

from services.calendar import activity, api, handlers, keys_api
from services.calendar.adherence.wiring import INDEXES as ADHERENCE_INDEXES
from services.calendar.adherence.wiring import Adherence
from services.calendar.planning import api as planning_api
from services.calendar.planning import buffer_api, exchange_api, feeds_api, posts_api
from services.calendar.planning.repository import INDEXES as PLANNING_INDEXES
from services.calendar.planning.repository import PlanningRepository, migrate_slot_documents
from services.calendar.publishing import api as publishing_api
from services.calendar.publishing.connectors.registry import Connectors
from services.calendar.publishing.dispatcher import Dispatcher
from services.calendar.publishing.repository import INDEXES as PUBLISHING_INDEXES
from services.calendar.publishing.repository import PublishingRepository
from services.calendar.repository import INDEXES, OBSOLETE_INDEXES, CalendarRepository
from services.calendar.settings import CalendarSettings
from services.calendar.strategy import api as strategy_api
from services.calendar.strategy.repository import INDEXES as STRATEGY_INDEXES
from services.calendar.strategy.repository import StrategyRepository
from services.calendar.webhooks.wiring import INDEXES as WEBHOOK_INDEXES
from services.calendar.webhooks.wiring import Webhooks
from shared import mongo
from shared.runtime import Runtime, create_http_app

log = logging.getLogger("socialops.calendar")


def create_app(settings: CalendarSettings | None = None) -> FastAPI:
    settings = settings or CalendarSettings()
    runtime = Runtime.build(settings)
    repo = CalendarRepository(runtime.db)
    webhooks = Webhooks.build(runtime)
    webhooks.subscribe()
    adherence = Adherence.build(runtime)
    adherence.subscribe()
    publishing = PublishingRepository(runtime, runtime.db)

    async def start_dispatcher() -> None:
        """Due posts go out from every calendar process (leases keep them apart)."""
        if settings.publish_enabled:
            dispatcher = Dispatcher(settings, publishing, Connectors(settings, publishing))
            app.state.dispatcher = dispatcher
            runtime.background.append(asyncio.create_task(dispatcher.run(), name="dispatcher"))

    async def migrate_slots() -> None:
        """Slots stored one document each (before week documents) move into their weeks;
        indexes no longer used are dropped."""
        await mongo.drop_indexes(runtime.db, OBSOLETE_INDEXES)
        moved = await migrate_slot_documents(runtime.db)
        if moved:
            log.info("moved %d slots into week documents", moved)

    app = create_http_app(
        runtime,
        title="SocialOps calendar",
        description="Clients and their content calendars.",
        routers=[
            api.router,
            strategy_api.router,
            planning_api.router,
            posts_api.router,
            feeds_api.router,
            exchange_api.router,
            buffer_api.router,
            publishing_api.router,
            webhooks.router,
            adherence.router,
            keys_api.router,
            activity.router,
        ],
        kafka_router=handlers.build_router(runtime, repo),
        indexes=_indexes(
            INDEXES,
            STRATEGY_INDEXES,
            PLANNING_INDEXES,
            PUBLISHING_INDEXES,
            WEBHOOK_INDEXES,
            ADHERENCE_INDEXES,
            activity.INDEXES,
        ),
        on_startup=[migrate_slots, start_dispatcher, webhooks.start, adherence.start],
    )
    app.state.repo = repo
    app.state.strategies = StrategyRepository(runtime.db)
    app.state.planning = PlanningRepository(runtime.db)
    app.state.webhooks = webhooks
    app.state.adherence = adherence
    app.state.publishing = publishing
    return app


def _indexes(*specs: Mapping[str, Iterable[IndexModel]]) -> dict[str, list[IndexModel]]:
    """Every capability's indexes, those of one collection together."""
    merged: dict[str, list[IndexModel]] = {}
    for spec in specs:
        for collection, indexes in spec.items():
            merged.setdefault(collection, []).extend(indexes)
    return merged
