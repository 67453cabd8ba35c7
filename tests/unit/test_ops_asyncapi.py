"""Each service serves its AsyncAPI document (FastStream-generated) at /asyncapi.json and its
rendering at /asyncapi, without an API key, like /docs."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.audit.app import create_app as audit_app
from services.budget.app import create_app as budget_app
from services.calendar.app import create_app as calendar_app
from services.metrics.app import create_app as metrics_app

# an event each service consumes, so its schema must be documented
CONSUMES = {
    "calendar": (calendar_app, "BudgetThresholdCrossed"),
    "metrics": (metrics_app, "PostScheduled"),
    "budget": (budget_app, "MetricsIngested"),
    "audit": (audit_app, "MetricsIngested"),
}


@pytest.mark.parametrize("service", sorted(CONSUMES))
async def test_asyncapi_documents_the_consumed_events(service: str) -> None:
    factory, event = CONSUMES[service]
    app: FastAPI = factory()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as http:
        doc = (await http.get("/asyncapi.json")).raise_for_status().json()
        page = await http.get("/asyncapi")
    assert doc["asyncapi"] == "3.0.0"
    assert doc["channels"], service
    schemas = doc["components"]["schemas"]
    assert event in schemas, sorted(schemas)
    assert "event_version" in schemas[event]["properties"]
    assert page.status_code == 200
    assert "AsyncApiStandalone" in page.text or "asyncapi" in page.text.lower()
