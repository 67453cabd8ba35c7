"""The pieces every service process composes in its app factory, and its HTTP shell:
lifespan (indexes, broker, outbox relay), `/healthz`, `/readyz`, `/metrics`, API-key auth and
request limits.
Nothing connects at import or construction; everything starts in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from shared import auth, logs, mongo, outbox, tasks, topics
from shared.auth import Agency, AgencyDirectory, Principal
from shared.broker import ensure_topics, make_broker
from shared.delivery import DeadLetters, PermanentError
from shared.http_limits import (
    MISSING_KEY,
    PRINCIPAL_STATE,
    HttpLimits,
    RequestGuard,
    api_key,
)
from shared.observability import exposition
from shared.ops import HttpMetrics, OpsProbe
from shared.settings import ServiceSettings
from shared.topics import Topics

log = logging.getLogger("socialops.runtime")


@dataclass
class Runtime:
    """Connections and plumbing of one service process (one per process)."""

    settings: ServiceSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    directory: AgencyDirectory
    broker: KafkaBroker
    topics: Topics
    outbox: outbox.Outbox
    background: list[asyncio.Task[None]] = field(default_factory=list)
    consumer_groups: set[str] = field(default_factory=set)  # whose lag the ops probe reads

    @property
    def dead_letters(self) -> DeadLetters:
        return DeadLetters(broker=self.broker, service=self.settings.service_name)

    @classmethod
    def build(cls, settings: ServiceSettings) -> Runtime:
        client = mongo.connect(settings.mongodb_uri, app_name=settings.service_name)
        db = client[settings.database_name]
        broker = make_broker(settings)
        return cls(
            settings=settings,
            mongo=client,
            db=db,
            directory=AgencyDirectory(
                client[settings.tenancy_database], cache_size=settings.auth_cache_size
            ),
            broker=broker,
            topics=Topics(settings.topic_prefix),
            outbox=outbox.Outbox(db, broker, service=settings.service_name),
        )

    def group(self, name: str) -> str:
        """A consumer group id for this deployment: prefixed like its topics, so environments
        sharing a cluster never share (and rebalance) a group."""
        group = self.settings.topic_prefix + name
        self.consumer_groups.add(group)
        return group

    async def require_tenant(self, tenant_id: str) -> None:
        """Reject (dead-letter) an event whose tenant is no known agency."""
        if not await self.directory.tenant_exists(tenant_id):
            raise PermanentError(f"unknown tenant '{tenant_id}'")

    async def start(self, indexes: Mapping[str, Iterable[IndexModel]]) -> None:
        await mongo.ensure_indexes(self.db, {**outbox.INDEXES, **indexes})
        await mongo.ensure_indexes(self.directory.db, auth.INDEXES)
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            [self.topics(name) for name in topics.ALL],
            partitions=self.settings.topic_partitions,
            replication=self.settings.topic_replication,
        )
        await self.broker.start()
        self.background.append(asyncio.create_task(self.outbox.run(), name="outbox-relay"))
        probe = OpsProbe(
            service=self.settings.service_name,
            bootstrap=self.settings.kafka_bootstrap_servers,
            groups=self.consumer_groups,
            outbox=self.outbox.collection,
        )
        self.background.append(asyncio.create_task(probe.run(), name="ops-probe"))
        gc.freeze()  # what start-up built lives as long as the process: never scan it again

    async def stop(self) -> None:
        await tasks.stop(self.background)
        await self.broker.stop()
        await self.mongo.close()

    async def readiness(self) -> dict[str, bool]:
        return {
            "database": await mongo.ping(self.mongo),
            "broker": await self.broker.ping(timeout=2.0),
        }


# --------------------------------------------------------------------------- HTTP dependencies


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def current_principal(
    request: Request,
    x_api_key: Annotated[str | None, Header(description="API key of your agency")] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The key that came with the request (`X-API-Key` or `Bearer`) and its agency, else 401.

    `RequestGuard` checked the key (and its role, clients and expiry) before the body was read
    and left it in the request's state; the lookup here only serves an app mounted without the
    guard."""
    principal = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if isinstance(principal, Principal):
        return principal
    headers = {"x-api-key": x_api_key or "", "authorization": authorization or ""}
    key = api_key(headers)
    principal = await get_runtime(request).directory.authenticate(key) if key else None
    if principal is None or principal.expired():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=MISSING_KEY, headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_agency(principal: CurrentPrincipal) -> Agency:
    """The agency whose API key came with the request."""
    return principal.agency


CurrentAgency = Annotated[Agency, Depends(current_agency)]


def _printable(value: Any) -> Any:
    """`value` with every bytes object decoded (undecodable bytes replaced)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, also when the refused input is bytes that are not UTF-8 (a text/csv body
    that is not text): FastAPI's own handler raised UnicodeDecodeError rendering it (a 500)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": jsonable_encoder(_printable(list(errors)))}, status_code=422)


async def write_conflict(request: Request, exc: Exception) -> JSONResponse:
    """A transaction that lost a write conflict to a concurrent change of the same documents
    (after its retries, where the route retries): nothing was written; 409 says to send it
    again. Any other database failure stays a 500."""
    if isinstance(exc, OperationFailure) and exc.has_error_label("TransientTransactionError"):
        detail = "a concurrent change to the same data conflicted; nothing was written; retry"
        return JSONResponse({"detail": detail}, status_code=409, headers={"Retry-After": "1"})
    raise exc


def create_http_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    kafka_router: KafkaRouter,
    indexes: Mapping[str, Iterable[IndexModel]],
    on_startup: Iterable[Callable[[], Awaitable[None]]] = (),
) -> FastAPI:
    """A service's FastAPI app: its routes behind API keys and request limits (`RequestGuard`),
    health/metrics routes, and a lifespan that starts the database indexes, the Kafka broker
    and the outbox relay."""
    logs.configure(runtime.settings.service_name, runtime.settings.log_level)
    runtime.broker.include_router(kafka_router, prefix=runtime.settings.topic_prefix)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start(indexes)
        for hook in on_startup:
            await hook()
        log.info("%s started", runtime.settings.service_name)
        yield
        await runtime.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.add_middleware(
        RequestGuard,
        authenticate=runtime.directory.authenticate,
        limits=HttpLimits.from_settings(runtime.settings),
    )
    app.add_middleware(HttpMetrics, service=runtime.settings.service_name)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationFailure, write_conflict)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": runtime.settings.service_name}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Readiness: the broker and the database are reachable."""
        checks = await runtime.readiness()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(exposition(), media_type="text/plain; version=0.0.4")

    asyncapi = AsyncAPI(runtime.broker, title=title, description=description, version="0.1.0")

    @app.get("/asyncapi.json", tags=["docs"], include_in_schema=False)
    async def asyncapi_json() -> JSONResponse:
        """The service's events (subscribed and published) as an AsyncAPI 3 document."""
        return JSONResponse(asyncapi.to_specification().to_jsonable())

    @app.get("/asyncapi", tags=["docs"], include_in_schema=False)
    async def asyncapi_html() -> HTMLResponse:
        """The AsyncAPI document rendered, next to /docs."""
        return HTMLResponse(get_asyncapi_html(asyncapi.to_specification(), try_it_out_path=None))

    return app
