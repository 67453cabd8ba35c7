"""Metrics service composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.metrics import api, handlers, kpis_api
from services.metrics.repository import INDEXES, MetricsRepository
from services.metrics.settings import MetricsSettings
from shared.runtime import Runtime, create_http_app


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()
    runtime = Runtime.build(settings)
    repo = MetricsRepository(runtime.db)
    app = create_http_app(
        runtime,
        title="SocialOps metrics",
        description="Analytics observations, KPIs and goals.",
        routers=[api.router, kpis_api.router],
        kafka_router=handlers.build_router(runtime, repo, max_records=settings.batch_max_records),
        indexes=INDEXES,
    )
    app.state.repo = repo
    return app
