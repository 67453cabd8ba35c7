"""Budget service composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.budget import api, handlers
from services.budget.repository import INDEXES, BudgetRepository
from services.budget.settings import BudgetSettings
from shared.runtime import Runtime, create_http_app


def create_app(settings: BudgetSettings | None = None) -> FastAPI:
    runtime = Runtime.build(settings or BudgetSettings())
    repo = BudgetRepository(runtime.db)
    app = create_http_app(
        runtime,
        title="SocialOps budget",
        description="Budgets, spend ledger and threshold alerts.",
        routers=[api.router],
        kafka_router=handlers.build_router(runtime, repo),
        indexes=INDEXES,
    )
    app.state.repo = repo
    return app
