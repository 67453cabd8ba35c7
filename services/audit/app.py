"""Audit service composition root."""

from __future__ import annotations

from fastapi import FastAPI

from services.audit import api, handlers
from services.audit.repository import INDEXES, AuditRepository
from services.audit.settings import AuditSettings
from shared.runtime import Runtime, create_http_app


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    runtime = Runtime.build(settings or AuditSettings())
    repo = AuditRepository(runtime.db)
    app = create_http_app(
        runtime,
        title="SocialOps audit",
        description="Own and competitor account audits.",
        routers=[api.router],
        kafka_router=handlers.build_router(runtime, repo),
        indexes=INDEXES,
    )
    app.state.repo = repo
    return app
