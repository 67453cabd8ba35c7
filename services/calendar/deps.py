"""FastAPI dependencies of the calendar's capability packages (strategy, planning): the
repositories the composition root put on the app, and the client lookup every route starts with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, status

from services.calendar.models import Client
from services.calendar.repository import CalendarRepository
from shared.deps import RuntimeDep, app_state

__all__ = ["Clients", "RuntimeDep", "client_or_404", "unprocessable"]

Clients = Annotated[CalendarRepository, Depends(app_state("repo"))]


async def client_or_404(clients: CalendarRepository, tenant_id: str, client_id: str) -> Client:
    """The tenant's client; another agency's client answers exactly like a missing one."""
    client = await clients.get_client(tenant_id, client_id)
    if client is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"client '{client_id}' not found")
    return client


def unprocessable(*loc: str | int, msg: str) -> HTTPException:
    """A 422 naming the field, shaped like FastAPI's own validation errors."""
    detail: list[dict[str, Any]] = [{"loc": list(loc), "msg": msg, "type": "value_error"}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)
