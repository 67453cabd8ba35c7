"""Metrics HTTP API: batch observation intake for integrators that do not speak Kafka, and
reads of stored observations."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from pydantic import ValidationError

from services.metrics.repository import MetricsRepository
from shared import topics
from shared.broker import publish
from shared.events import AnalyticsObserved
from shared.runtime import CurrentAgency, Runtime, get_runtime

router = APIRouter(tags=["metrics"])
MAX_BATCH = 5000
ENVELOPE_FIELDS = {"event_type", "event_version", "producer", "occurred_at"}


def get_repo(request: Request) -> MetricsRepository:
    repo: MetricsRepository = request.app.state.repo
    return repo


Repo = Annotated[MetricsRepository, Depends(get_repo)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def parse_observations(items: list[dict[str, Any]], tenant_id: str) -> list[AnalyticsObserved]:
    """Validate a batch for one tenant; raise 422 listing every bad item, field and reason."""
    errors: list[dict[str, Any]] = []
    events: list[AnalyticsObserved] = []
    for i, item in enumerate(items):
        loc = ["body", "observations", i]
        if not isinstance(item, dict):
            errors.append({"loc": loc, "msg": "must be an object", "type": "type_error"})
            continue
        if item.get("tenant_id", tenant_id) != tenant_id:
            errors.append(
                {"loc": [*loc, "tenant_id"], "msg": "does not match your API key's agency",
                 "type": "value_error"}
            )  # fmt: skip
            continue
        payload = {k: v for k, v in item.items() if k not in ENVELOPE_FIELDS | {"tenant_id"}}
        try:
            events.append(
                AnalyticsObserved.new(producer="metrics.http", tenant_id=tenant_id, **payload)
            )
        except ValidationError as e:
            errors.extend(
                {"loc": [*loc, *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in e.errors(include_url=False, include_input=False)
            )
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors)
    return events


@router.post("/observations", status_code=status.HTTP_202_ACCEPTED)
async def submit_observations(
    agency: CurrentAgency,
    runtime: RuntimeDep,
    observations: Annotated[
        list[dict[str, Any]],
        Body(
            embed=True, max_length=MAX_BATCH, description="AnalyticsObserved payloads (no envelope)"
        ),
    ],
) -> dict[str, Any]:
    """Accept a batch of observations; all-or-nothing validation, then onto the Kafka topic."""
    events = parse_observations(observations, agency.tenant_id)
    topic = runtime.topics(topics.ANALYTICS_OBSERVATIONS)
    await asyncio.gather(*(publish(runtime.broker, topic, e) for e in events))
    return {"accepted": len(events), "event_ids": [e.event_id for e in events]}


@router.get("/clients/{client_id}/observations")
async def recent_observations(
    client_id: str,
    agency: CurrentAgency,
    repo: Repo,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The newest stored observations of a client, and how many are stored in all."""
    docs = await repo.recent(agency.tenant_id, client_id, limit)
    return {
        "client_id": client_id,
        "stored": await repo.count(agency.tenant_id, client_id),
        "observations": [{**d, "observation_id": d.pop("_id")} for d in docs],
    }
