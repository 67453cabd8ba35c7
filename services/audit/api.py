"""Audit HTTP API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.audit.deps import Known
from services.audit.repository import AuditRepository
from services.audit.service import ClientSummary, summarize
from shared.runtime import CurrentAgency

router = APIRouter(tags=["audit"])


def get_repo(request: Request) -> AuditRepository:
    repo: AuditRepository = request.app.state.repo
    return repo


Repo = Annotated[AuditRepository, Depends(get_repo)]


@router.get("/clients/{client_id}/summary")
async def client_summary(
    client_id: str, agency: CurrentAgency, repo: Repo, known: Known
) -> ClientSummary:
    """Per-platform totals and engagement for one of the agency's clients (404 for others)."""
    await known.require(agency.tenant_id, client_id)
    return summarize(client_id, await repo.for_client(agency.tenant_id, client_id))
