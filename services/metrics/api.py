"""Metrics HTTP intake for integrators that do not speak Kafka: normalized observations in
batches, native platform payloads through the adapters, and CSV files. All of it is validated
here (4xx naming the field) and then published to the observations topic, the one way in."""

from __future__ import annotations

import asyncio
import codecs
import io
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, create_model

from services.metrics import adapters
from services.metrics.csv_import import MAX_ERRORS_LISTED, import_csv
from services.metrics.idempotency import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    IdempotencyStore,
    KeyInFlightError,
    KeyReusedError,
    fingerprint,
)
from services.metrics.metrics import OBSERVATIONS_REJECTED
from services.metrics.repository import MetricsRepository
from services.metrics.validation import ObservationRejectedError, check_observation
from shared import topics
from shared.auth import Agency
from shared.broker import publish
from shared.envelope import derived_event_id
from shared.events import AnalyticsObserved
from shared.runtime import CurrentAgency, Runtime, get_runtime

router = APIRouter(tags=["metrics"])
MAX_BATCH = 5000
ENVELOPE_FIELDS = {"event_type", "event_version", "producer", "occurred_at"}
# Left out of a content-derived event id: they differ between two sends of the same fact.
NOT_CONTENT = {"event_id", *ENVELOPE_FIELDS, "correlation_id", "causation_id"}


def get_repo(request: Request) -> MetricsRepository:
    repo: MetricsRepository = request.app.state.repo
    return repo


def get_idempotency(request: Request) -> IdempotencyStore:
    return IdempotencyStore(get_runtime(request).db)


Repo = Annotated[MetricsRepository, Depends(get_repo)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Idempotency = Annotated[IdempotencyStore, Depends(get_idempotency)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=MAX_KEY_LENGTH,
        pattern=KEY_PATTERN,
        description="Sent again with the same body within 24 h, the request answers what it "
        "answered the first time and publishes nothing again.",
    ),
]


def _unprocessable(errors: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors)


def content_event_id(event: AnalyticsObserved) -> str:
    """An id derived from what was observed (tenant and the canonical JSON of the payload):
    the same observation sent twice, e.g. by a client's retry, is one event."""
    payload = event.model_dump(mode="json", exclude=NOT_CONTENT)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return derived_event_id("AnalyticsObserved", event.tenant_id, canonical)


def parse_observations(items: list[Any], tenant_id: str) -> list[AnalyticsObserved]:
    """Validate a batch for one tenant; raise 422 listing every bad item, field and reason.
    An observation without an `event_id` gets one derived from its content."""
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
            if "event_id" not in payload:
                event = event.model_copy(update={"event_id": content_event_id(event)})
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
    store: Idempotency,
    observations: Annotated[
        list[Any],
        Body(
            embed=True, max_length=MAX_BATCH, description="AnalyticsObserved payloads (no envelope)"
        ),
    ],
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Accept a batch of normalized observations: all-or-nothing validation, then Kafka.

    Observations without an `event_id` get one derived from their content, so a retry is
    stored once; with an `Idempotency-Key`, a retry also gets the first answer back."""
    events = parse_observations(observations, agency.tenant_id)
    if idempotency_key is None:
        await _publish_all(runtime, events)
        return {"accepted": len(events), "event_ids": [e.event_id for e in events]}
    tenant_id = agency.tenant_id
    try:
        stored = await store.begin(tenant_id, idempotency_key, fingerprint(observations))
    except (KeyReusedError, KeyInFlightError) as e:
        reused = isinstance(e, KeyReusedError)
        msg = (
            "was used before with a different body: use a new key for a new request"
            if reused
            else "a request with this key is still being handled: retry later"
        )
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT if reused else status.HTTP_409_CONFLICT,
            detail=[{"loc": ["header", "Idempotency-Key"], "msg": msg,
                     "type": "idempotency_key_reused" if reused else "idempotency_key_in_flight"}],
        ) from e  # fmt: skip
    if stored is not None:
        return JSONResponse(stored, status.HTTP_202_ACCEPTED, {"Idempotent-Replayed": "true"})
    try:
        await _publish_all(runtime, events)
    except Exception:
        await store.release(tenant_id, idempotency_key)
        raise
    answer = {"accepted": len(events), "event_ids": [e.event_id for e in events]}
    await store.complete(tenant_id, idempotency_key, answer)
    return answer


class NativePayload(BaseModel):
    """A platform's own response, plus what the poller knows that the payload does not."""

    context: dict[str, Any] = Field(
        description="client_id, account_id, observed_at (with zone), optional post_id, ..."
    )
    payload: dict[str, Any] | list[Any] = Field(
        description="The platform's response as it came (Google Ads searchStream: an array)."
    )
    options: dict[str, Any] = {}


async def _ingest_native(
    adapter: adapters.Adapter, body: NativePayload, agency: Agency, runtime: Runtime
) -> dict[str, Any]:
    """Normalize a native payload with its adapter (every refusal names its JSON path), then
    publish the observations. What is not ingested is listed with the reason (`skipped`)."""
    try:
        result = adapters.ingest(adapter, tenant_id=agency.tenant_id, context=body.context,
                                 payload=body.payload, options=body.options)  # fmt: skip
    except adapters.IngestRejectedError as e:
        raise _unprocessable(e.errors) from e
    events = list(result.observations)
    if len(events) > MAX_BATCH:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=[{"loc": ["body", "payload"], "type": "too_many_observations",
                     "msg": f"the payload yields {len(events):,} observations; at most "
                            f"{MAX_BATCH:,} per request: split the report"}],
        )  # fmt: skip
    await _publish_all(runtime, events)
    return {
        "accepted": len(events),
        "event_ids": [e.event_id for e in events],
        "unmapped": list(result.unmapped),
        "ignored": list(result.ignored),
        "skipped": [s.model_dump(mode="json") for s in result.skipped],
    }


def _adapter_route(adapter: adapters.Adapter) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The route of one adapter, its options model shown in the OpenAPI document."""
    body_model = create_model(
        f"{adapter.name.title().replace('_', '')}Body",
        __base__=NativePayload,
        options=(adapter.options_model, Field(default_factory=adapter.options_model)),
    )

    async def route(
        body: Annotated[Any, Body()], agency: CurrentAgency, runtime: RuntimeDep
    ) -> dict[str, Any]:
        return await _ingest_native(adapter, body, agency, runtime)

    route.__annotations__["body"] = Annotated[body_model, Body()]
    route.__doc__ = f"{adapter.description} Normalized by the `{adapter.name}` adapter."
    return route


for _adapter in adapters.REGISTRY.values():
    router.add_api_route(
        f"/ingest/{_adapter.name}",
        _adapter_route(_adapter),
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        name=f"ingest_{_adapter.name}",
        summary=f"Ingest a {_adapter.platform.value} payload ({_adapter.name})",
    )


@router.post("/ingest/{adapter}", status_code=status.HTTP_202_ACCEPTED, include_in_schema=False)
async def unknown_adapter(adapter: str, agency: CurrentAgency) -> None:
    """Any other adapter name: 404 listing the known ones."""
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=f"unknown adapter '{adapter}'; known: {', '.join(sorted(adapters.REGISTRY))}",
    )


@router.post("/imports/csv", status_code=status.HTTP_202_ACCEPTED)
async def import_csv_file(
    request: Request, agency: CurrentAgency, runtime: RuntimeDep
) -> dict[str, Any]:
    """Import a CSV (wide format: one row per observation, one column per metric; see
    `services/metrics/csv_import.py`). Valid rows are published; bad rows are listed with
    row number, field and reason (the first 10,000 errors; `rejected` counts them all).
    Importing the same file twice stores it once. At most `max_upload_bytes` (50 MiB)."""
    text = await _read_text(request, runtime.settings.max_upload_bytes)
    # parsing a large file takes seconds: off the event loop, so HTTP and consumers go on
    result = await asyncio.to_thread(import_csv, io.StringIO(text), tenant_id=agency.tenant_id)
    del text
    await _publish_all(runtime, list(result.events))
    return {
        "imported": len(result.events),
        "rejected": len(result.errors),
        "errors": [e.model_dump() for e in result.errors[:MAX_ERRORS_LISTED]],
        "errors_truncated": len(result.errors) > MAX_ERRORS_LISTED,
    }


async def _read_text(request: Request, cap: int) -> str:
    """The body streamed and decoded as UTF-8 as it arrives; 413 past `cap` bytes, without
    reading the rest (the request guard enforces the same cap; this holds without it too)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    parts: list[str] = []
    size = start = 0
    try:
        async for chunk in request.stream():
            start = size
            size += len(chunk)
            if size > cap:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    detail=f"request body larger than {cap} bytes, the limit of this route; "
                    "send less per request",
                )
            parts.append(decoder.decode(chunk))
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError as e:
        raise _unprocessable(
            [{"loc": ["body"], "msg": f"not UTF-8 at byte {start + e.start}: {e.reason}",
              "type": "value_error"}]
        ) from e  # fmt: skip
    return "".join(parts)


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
