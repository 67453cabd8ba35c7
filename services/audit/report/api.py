"""Route: the audit report, as a self-contained HTML page or as JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from services.audit.analysis.api import End, Group, Start, audit_of
from services.audit.deps import Accounts, Known, Reads
from services.audit.report.charts import render
from services.audit.report.html import render_html
from shared.runtime import CurrentAgency

router = APIRouter(tags=["audit"])


@router.get(
    "/clients/{client_id}/audit/report",
    response_class=HTMLResponse,
    response_model=None,
    responses={200: {"content": {"text/html": {}, "application/json": {}}}},
)
async def get_report(
    client_id: str,
    start: Start,
    end: End,
    agency: CurrentAgency,
    known: Known,
    accounts: Accounts,
    reads: Reads,
    group: Group = None,
    format: Annotated[
        Literal["html", "json"], Query(description="html (default) or json")
    ] = "html",
) -> HTMLResponse | JSONResponse:
    """The audit as a report: HTML with inline SVG charts (phone and print friendly), or the
    same content as JSON."""
    audit = await audit_of(
        client_id=client_id, start=start, end=end, group=group, tenant_id=agency.tenant_id,
        known=known, accounts=accounts, reads=reads,
    )  # fmt: skip
    if format == "json":
        return JSONResponse(audit.model_dump(mode="json"))
    return HTMLResponse(render_html(audit, await render(audit)))
