"""Budget service composition root."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.budget import api, handlers, ledger_api, review_api, underspend
from services.budget.repository import (
    INDEXES,
    BudgetRepository,
    CountsRepository,
    StrategyPlatforms,
)
from services.budget.settings import BudgetSettings
from shared import known_clients
from shared.known_clients import KnownClients
from shared.runtime import Runtime, create_http_app


def create_app(settings: BudgetSettings | None = None) -> FastAPI:
    settings = settings or BudgetSettings()
    runtime = Runtime.build(settings)
    repo = BudgetRepository(runtime.db)
    known = KnownClients(runtime.db)
    counts = CountsRepository(runtime.db)
    strategies = StrategyPlatforms(runtime.db)
    kafka_router = handlers.build_router(runtime, repo, counts, strategies)

    async def start_sweep() -> None:
        task = underspend.run(runtime=runtime, repo=repo, interval_s=settings.underspend_interval_s)
        runtime.background.append(asyncio.create_task(task, name="underspend-sweep"))

    kafka_router.include_router(known_clients.router(runtime, known, group=handlers.GROUP))
    app = create_http_app(
        runtime,
        title="SocialOps budget",
        description="Budgets planned by category, an append-only spend ledger, threshold, "
        "pacing and underspend alerts.",
        routers=[api.router, ledger_api.router, review_api.router],
        kafka_router=kafka_router,
        indexes={**INDEXES, **known_clients.INDEXES},
        on_startup=[start_sweep],
    )
    app.state.repo = repo
    app.state.known = known
    app.state.counts = counts
    app.state.strategies = strategies
    return app
