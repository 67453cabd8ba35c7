"""Strategy HTTP API: create a client's strategy, change it (a new version each time, history
kept), read any version and the readable diff between two. Each version publishes
`StrategyUpdated` through the outbox."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, status
from pydantic import BaseModel
from pymongo.errors import DuplicateKeyError

from services.calendar.deps import Clients, RuntimeDep, client_or_404
from services.calendar.strategy import rules
from services.calendar.strategy.diff import Change, diff
from services.calendar.strategy.models import CONTENT_TYPES, Strategy, StrategyIn
from services.calendar.strategy.repository import StrategyRepository
from shared import mongo, topics
from shared.activity import stage_activity
from shared.auth import Principal
from shared.bounds import MAX_COUNT
from shared.envelope import utcnow
from shared.events import PlatformReviewDate, StrategyPersona, StrategyUpdated
from shared.runtime import CurrentAgency, CurrentPrincipal

router = APIRouter(tags=["strategy"])


def get_strategies(request: Request) -> StrategyRepository:
    repo: StrategyRepository = request.app.state.strategies
    return repo


Strategies = Annotated[StrategyRepository, Depends(get_strategies)]


class StrategyDiff(BaseModel):
    strategy_id: str
    from_version: int
    to_version: int
    changes: list[Change]
    lines: list[str]


def _checked(spec: StrategyIn) -> StrategyIn:
    found = rules.problems(spec)
    if found:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=found)
    return spec


async def _store(
    runtime: RuntimeDep,
    repo: StrategyRepository,
    strategy: Strategy,
    previous: Strategy | None,
    principal: Principal,
) -> None:
    changes = (
        diff(previous.spec.model_dump(mode="json"), strategy.spec.model_dump(mode="json"))
        if previous
        else []
    )
    event = StrategyUpdated.new(
        producer="calendar",
        tenant_id=strategy.tenant_id,
        client_id=strategy.client_id,
        strategy_id=strategy.strategy_id,
        version=strategy.version,
        previous_version=previous.version if previous else None,
        period=strategy.spec.period.value,
        start=strategy.spec.start,
        end=strategy.end,
        platforms=tuple(p.platform for p in strategy.spec.platforms),
        changes=tuple(c.line()[:500] for c in changes[:200]),
        personas=tuple(
            StrategyPersona(
                name=p.name, platforms=tuple(dict.fromkeys(x.platform for x in p.platforms))
            )
            for p in strategy.spec.personas
        ),
        reviews=tuple(
            PlatformReviewDate(platform=p.platform, review_on=strategy.spec.reevaluation(p))
            for p in strategy.spec.platforms
        ),
    )
    try:
        async with mongo.transaction(runtime.mongo) as session:
            await repo.add_version(strategy, session=session)
            await runtime.outbox.stage(session, runtime.topics(topics.STRATEGIES), event)
            await stage_activity(
                session, runtime, principal, entity="strategy", entity_id=strategy.strategy_id,
                client_id=strategy.client_id, action="updated" if previous else "created",
                before=previous, after=strategy,
            )  # fmt: skip
    except DuplicateKeyError as e:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"version {strategy.version} was just written by another request; reload",
        ) from e
    runtime.outbox.kick()


@router.get("/content-types")
async def content_types(agency: CurrentAgency) -> list[str]:
    """The content types of the method (a strategy may add its own)."""
    return list(CONTENT_TYPES)


@router.post("/clients/{client_id}/strategies", status_code=status.HTTP_201_CREATED)
async def create_strategy(
    client_id: str,
    body: StrategyIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    clients: Clients,
    repo: Strategies,
    runtime: RuntimeDep,
) -> Strategy:
    """Write a client's strategy for a period (version 1); publishes `StrategyUpdated`."""
    await client_or_404(clients, agency.tenant_id, client_id)
    spec = _checked(body)
    strategy = Strategy(
        strategy_id=f"st-{uuid.uuid4().hex[:12]}",
        tenant_id=agency.tenant_id,
        client_id=client_id,
        version=1,
        end=spec.end,
        spec=spec,
        created_at=utcnow(),
    )
    await _store(runtime, repo, strategy, None, principal)
    return strategy


@router.get("/clients/{client_id}/strategies")
async def list_strategies(
    client_id: str, agency: CurrentAgency, clients: Clients, repo: Strategies
) -> list[Strategy]:
    """The latest version of each of the client's strategies, by period start."""
    await client_or_404(clients, agency.tenant_id, client_id)
    return await repo.latest_of_client(agency.tenant_id, client_id)


async def strategy_or_404(
    repo: StrategyRepository,
    tenant_id: str,
    client_id: str,
    strategy_id: str,
    version: int | None = None,
) -> Strategy:
    found = await repo.get(tenant_id, client_id, strategy_id, version)
    if found is None:
        what = f"version {version} of strategy" if version else "strategy"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} '{strategy_id}' not found")
    return found


@router.get("/clients/{client_id}/strategies/{strategy_id}")
async def get_strategy(
    client_id: str, strategy_id: str, agency: CurrentAgency, repo: Strategies
) -> Strategy:
    """The latest version."""
    return await strategy_or_404(repo, agency.tenant_id, client_id, strategy_id)


@router.put("/clients/{client_id}/strategies/{strategy_id}")
async def update_strategy(
    client_id: str,
    strategy_id: str,
    body: StrategyIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Strategies,
    runtime: RuntimeDep,
    if_match: Annotated[
        str | None, Header(description="The version you edited; 409 if it is not the latest.")
    ] = None,
) -> Strategy:
    """Change the strategy: stores a new version (the old ones stay readable) and publishes
    `StrategyUpdated` with the readable changes."""
    current = await strategy_or_404(repo, agency.tenant_id, client_id, strategy_id)
    if if_match is not None and if_match.strip('"W/ ') != str(current.version):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"you edited version {if_match}, the latest is {current.version}; reload",
        )
    spec = _checked(body)
    strategy = current.model_copy(
        update={"version": current.version + 1, "spec": spec, "end": spec.end,
                "created_at": utcnow()}
    )  # fmt: skip
    await _store(runtime, repo, strategy, current, principal)
    return strategy


@router.get("/clients/{client_id}/strategies/{strategy_id}/versions")
async def list_versions(
    client_id: str, strategy_id: str, agency: CurrentAgency, repo: Strategies
) -> list[dict[str, Any]]:
    """Every version, newest first (number and when it was written)."""
    found = await repo.versions(agency.tenant_id, client_id, strategy_id)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"strategy '{strategy_id}' not found")
    return [{"version": s.version, "created_at": s.created_at} for s in found]


@router.get("/clients/{client_id}/strategies/{strategy_id}/versions/{version}")
async def get_version(
    client_id: str,
    strategy_id: str,
    version: Annotated[int, Path(ge=1, le=MAX_COUNT)],  # the database holds 8-byte ints
    agency: CurrentAgency,
    repo: Strategies,
) -> Strategy:
    return await strategy_or_404(repo, agency.tenant_id, client_id, strategy_id, version)


@router.get("/clients/{client_id}/strategies/{strategy_id}/diff")
async def strategy_diff(
    client_id: str,
    strategy_id: str,
    agency: CurrentAgency,
    repo: Strategies,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_COUNT)],
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=MAX_COUNT)] = None,
) -> StrategyDiff:
    """What changed from one version to another (`to` defaults to the latest)."""
    old = await strategy_or_404(repo, agency.tenant_id, client_id, strategy_id, from_version)
    new = await strategy_or_404(repo, agency.tenant_id, client_id, strategy_id, to_version)
    changes = diff(old.spec.model_dump(mode="json"), new.spec.model_dump(mode="json"))
    return StrategyDiff(
        strategy_id=strategy_id,
        from_version=old.version,
        to_version=new.version,
        changes=changes,
        lines=[c.line() for c in changes],
    )
