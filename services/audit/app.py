"""Audit service composition root."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.audit import api, handlers
from services.audit.accounts import api as accounts_api
from services.audit.accounts.repository import INDEXES as ACCOUNT_INDEXES
from services.audit.accounts.repository import AccountRepository
from services.audit.analysis import api as analysis_api
from services.audit.importer import api as import_api
from services.audit.platform_choice import api as trials_api
from services.audit.platform_choice import handlers as choice_handlers
from services.audit.platform_choice import reviews as reviews_mod
from services.audit.platform_choice import trials as trials_mod
from services.audit.readmodel import handlers as readmodel_handlers
from services.audit.readmodel.repository import INDEXES as READ_INDEXES
from services.audit.readmodel.repository import ReadModel
from services.audit.report import api as report_api
from services.audit.repository import INDEXES, AuditRepository
from services.audit.settings import AuditSettings
from shared import known_clients
from shared.known_clients import KnownClients
from shared.runtime import Runtime, create_http_app


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    runtime = Runtime.build(settings or AuditSettings())
    repo = AuditRepository(runtime.db)
    known = KnownClients(runtime.db)
    reads = ReadModel(runtime.db)
    accounts = AccountRepository(runtime.db)
    trials = trials_mod.Trials(runtime.db)

    strategies = choice_handlers.Strategies(runtime.db)
    reviews = reviews_mod.Reviews(runtime.db)

    async def start_checker() -> None:
        runtime.background.append(
            asyncio.create_task(
                trials_mod.run_checker(runtime, trials, accounts, reads), name="trial-checker"
            )
        )
        review_checker = reviews_mod.run_checker(
            runtime, reviews, strategies=strategies, known=known, accounts=accounts, reads=reads
        )
        runtime.background.append(asyncio.create_task(review_checker, name="review-checker"))

    kafka_router = handlers.build_router(runtime, repo)
    kafka_router.include_router(known_clients.router(runtime, known, group="audit"))
    kafka_router.include_router(readmodel_handlers.build_router(runtime, reads))
    kafka_router.include_router(choice_handlers.build_router(runtime, strategies, reviews))
    app = create_http_app(
        runtime,
        title="SocialOps audit",
        description="Own and competitor account audits.",
        routers=[
            api.router,
            accounts_api.router,
            analysis_api.router,
            report_api.router,
            import_api.router,
            trials_api.router,
        ],
        kafka_router=kafka_router,
        indexes={
            **INDEXES,
            **known_clients.INDEXES,
            **ACCOUNT_INDEXES,
            **READ_INDEXES,
            **trials_mod.INDEXES,
            **reviews_mod.INDEXES,
        },
        on_startup=[reads.mark_if_new, start_checker],
    )
    app.state.repo = repo
    app.state.known = known
    app.state.accounts = accounts
    app.state.trials = trials
    app.state.strategies = strategies
    app.state.reviews = reviews
    app.state.read_model = reads
    return app
