"""Metrics service composition root: observations in (Kafka, HTTP), KPIs and goals out."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.metrics import api, goal_store, goals_api, handlers, idempotency, kpis_api
from services.metrics.goal_store import GoalRepository
from services.metrics.goal_tracker import GoalTracker
from services.metrics.pipeline import Ingestion
from services.metrics.repository import INDEXES, MetricsRepository
from services.metrics.settings import MetricsSettings
from shared.runtime import Runtime, create_http_app


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()
    runtime = Runtime.build(settings)
    repo = MetricsRepository(runtime.db)
    goal_repo = GoalRepository(runtime.db)
    tracker = GoalTracker(runtime, goal_repo)
    ingestion = Ingestion(
        runtime=runtime,
        repo=repo,
        tracker=tracker,
        latency_budget_s=settings.ingest_latency_budget_ms / 1000,
    )

    async def start_goal_tracker() -> None:
        runtime.background.append(asyncio.create_task(tracker.run(), name="goal-tracker"))

    app = create_http_app(
        runtime,
        title="SocialOps metrics",
        description="Analytics observations, KPIs and SMART goals.",
        routers=[api.router, kpis_api.router, goals_api.router],
        kafka_router=handlers.build_router(
            runtime, repo, ingestion, max_records=settings.batch_max_records
        ),
        indexes={**INDEXES, **goal_store.INDEXES, **idempotency.INDEXES},
        on_startup=[start_goal_tracker],
    )
    app.state.repo = repo
    app.state.goal_repo = goal_repo
    app.state.goal_tracker = tracker
    app.state.ingestion = ingestion
    return app
