"""Metrics HTTP intake for integrators that do not speak Kafka: normalized observations in
batches, native platform payloads through the adapters, and CSV files. All of it is validated
here (4xx naming the field) and then published to the observations topic, the one way in."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ValidationError

from services.metrics import adapters
from services.metrics.csv_import import import_csv
from services.metrics.metrics import OBSERVATIONS_REJECTED
from services.metrics.repository import MetricsRepository
from services.metrics.validation import ObservationRejectedError, check_observation
from shared import topics
from shared.broker import publish
from shared.events import AnalyticsObserved
from shared.runtime import CurrentAgency, Runtime, get_runtime

router = APIRouter(tags=["metrics"])
MAX_BATCH = 5000
MAX_CSV_BYTES = 50 * 1024 * 1024
ENVELOPE_FIELDS = {"event_type", "event_version", "producer", "occurred_at"}
ADAPTERS: dict[str, Callable[..., adapters.AdapterResult]] = {
    "instagram_insights": adapters.instagram_insights,
    "instagram_fields": adapters.instagram_fields,
    "facebook_insights": adapters.facebook_insights,
    "x_posts": adapters.x_posts,
    "x_user": adapters.x_user,
    "tiktok_videos": adapters.tiktok_videos,
    "tiktok_user": adapters.tiktok_user,
    "youtube_report": adapters.youtube_report,
    "youtube_statistics": adapters.youtube_statistics,
    "linkedin_share_statistics": adapters.linkedin_share_statistics,
}


def get_repo(request: Request) -> MetricsRepository:
    repo: MetricsRepository = request.app.state.repo
    return repo


Repo = Annotated[MetricsRepository, Depends(get_repo)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _unprocessable(errors: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors)


def parse_observations(items: list[Any], tenant_id: str) -> list[AnalyticsObserved]:
    """Validate a batch for one tenant; raise 422 listing every bad item, field and reason."""
    errors: list[dict[str, Any]] = []
    events: list[AnalyticsObserved] = []
    for i, item in enumerate(items):
        loc: list[str | int] = ["body", "observations", i]
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
            event = AnalyticsObserved.new(producer="metrics.http", tenant_id=tenant_id, **payload)
            check_observation(event)
        except ValidationError as e:
            errors.extend(
                {"loc": [*loc, *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in e.errors(include_url=False, include_input=False)
            )
            continue
        except ObservationRejectedError as e:
            errors.append(
                {"loc": [*loc, *e.field.split(".")], "msg": e.reason, "type": "value_error"}
            )
            continue
        events.append(event)
    if errors:
        OBSERVATIONS_REJECTED.labels("unknown", "http").inc(len(errors))
        raise _unprocessable(errors)
    return events


async def _publish_all(runtime: Runtime, events: list[AnalyticsObserved]) -> None:
    topic = runtime.topics(topics.ANALYTICS_OBSERVATIONS)
    for i in range(0, len(events), 1000):  # pipelined, in bounded slices
        await asyncio.gather(*(publish(runtime.broker, topic, e) for e in events[i : i + 1000]))


@router.post("/observations", status_code=status.HTTP_202_ACCEPTED)
async def submit_observations(
    agency: CurrentAgency,
    runtime: RuntimeDep,
    observations: Annotated[
        list[Any],
        Body(
            embed=True, max_length=MAX_BATCH, description="AnalyticsObserved payloads (no envelope)"
        ),
    ],
) -> dict[str, Any]:
    """Accept a batch of normalized observations: all-or-nothing validation, then Kafka."""
    events = parse_observations(observations, agency.tenant_id)
    await _publish_all(runtime, events)
    return {"accepted": len(events), "event_ids": [e.event_id for e in events]}


class NativePayload(BaseModel):
    """A platform's own response, plus what the poller knows that the payload does not."""

    context: dict[str, Any]
    payload: dict[str, Any]
    options: dict[str, Any] = {}


@router.post("/ingest/{adapter}", status_code=status.HTTP_202_ACCEPTED)
async def ingest_native(
    adapter: str, body: NativePayload, agency: CurrentAgency, runtime: RuntimeDep
) -> dict[str, Any]:
    """Normalize a native payload (e.g. `instagram_insights`, `x_posts`, `youtube_report`)
    with its platform adapter, then publish the observations. Unmapped metrics are reported."""
    convert = ADAPTERS.get(adapter)
    if convert is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"unknown adapter '{adapter}'; known: {', '.join(sorted(ADAPTERS))}",
        )
    try:
        context = adapters.ObservationContext(**body.context, tenant_id=agency.tenant_id)
        result = convert(body.payload, context=context, **body.options)
    except ValidationError as e:
        raise _unprocessable(
            [{"loc": ["body", "context", *err["loc"]], "msg": err["msg"], "type": err["type"]}
             for err in e.errors(include_url=False, include_input=False)]
        ) from e  # fmt: skip
    except TypeError as e:  # an option the adapter does not take
        raise _unprocessable(
            [{"loc": ["body", "options"], "msg": str(e), "type": "type_error"}]
        ) from e
    except ValueError as e:  # adapters.PayloadError and value checks
        raise _unprocessable(
            [{"loc": ["body", "payload"], "msg": str(e), "type": "value_error"}]
        ) from e
    events = list(result.observations)
    await _publish_all(runtime, events)
    return {
        "accepted": len(events),
        "event_ids": [e.event_id for e in events],
        "unmapped": list(result.unmapped),
        "ignored": list(result.ignored),
    }


@router.post("/imports/csv", status_code=status.HTTP_202_ACCEPTED)
async def import_csv_file(
    request: Request, agency: CurrentAgency, runtime: RuntimeDep
) -> dict[str, Any]:
    """Import a CSV (wide format: one row per observation, one column per metric; see
    `services/metrics/csv_import.py`). Valid rows are published; bad rows are listed with
    row number, field and reason. Importing the same file twice stores it once."""
    raw = await request.body()
    if len(raw) > MAX_CSV_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail="CSV larger than 50 MB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _unprocessable(
            [{"loc": ["body"], "msg": f"not UTF-8: {e}", "type": "value_error"}]
        ) from e
    result = import_csv(io.StringIO(text), tenant_id=agency.tenant_id)
    await _publish_all(runtime, list(result.events))
    return {
        "imported": len(result.events),
        "rejected": len(result.errors),
        "errors": [e.model_dump() for e in result.errors],
    }


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
        "observations": [_jsonable({**d, "observation_id": d.pop("_id")}) for d in docs],
    }


def _jsonable(value: Any) -> Any:
    """Decimals as exact strings (FastAPI would turn them into floats)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
