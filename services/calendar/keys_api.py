"""The agency's API keys (admin keys only; `RequestGuard` refuses every other key before a
route runs): issue a key with a role and optionally a list of clients, list keys (never a key
or its hash), rotate a key with an overlap window, revoke a key. The calendar serves them
because it knows the agency's clients; the keys themselves live in the shared tenancy
database every service reads (`shared.auth`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from services.calendar.deps import Clients, RuntimeDep, unprocessable
from shared import pages
from shared.activity import record_activity
from shared.auth import KeyRecord, Role
from shared.bounds import Id, Instant, Name
from shared.envelope import utcnow
from shared.runtime import CurrentPrincipal

router = APIRouter(tags=["keys"])
MAX_CLIENTS_PER_KEY = 100
MAX_KEYS_LISTED = 500
DEFAULT_OVERLAP_S = 86_400
MAX_OVERLAP_S = 30 * 86_400
KeyId = Annotated[str, Path(max_length=64, description="The key's public id (`key-...`).")]


class KeyIn(BaseModel):
    name: Name = Field(description="What the key is for.", examples=["Freelancer Ana"])
    role: Role = Field(
        default=Role.ANALYST,
        description="admin: everything; editor: everything but managing keys; analyst: read only.",
    )
    clients: list[Id] | None = Field(
        default=None,
        max_length=MAX_CLIENTS_PER_KEY,
        min_length=1,
        description="Restrict the key to these clients of the agency; null: every client.",
    )
    expires_at: Instant | None = Field(
        default=None, description="Zone-aware time after which the key is refused; null: never."
    )


class IssuedKey(BaseModel):
    key: str = Field(description="The API key, shown this once: send it as `X-API-Key`.")
    record: KeyRecord


@router.post("/keys", status_code=status.HTTP_201_CREATED)
async def create_key(
    body: KeyIn, principal: CurrentPrincipal, clients: Clients, runtime: RuntimeDep
) -> IssuedKey:
    """Issue a key (admin keys only). The key is in this answer only; store it now."""
    tenant_id = principal.tenant_id
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise unprocessable("body", "expires_at", msg="must lie in the future")
    for i, client_id in enumerate(body.clients or []):
        if await clients.get_client(tenant_id, client_id) is None:
            raise unprocessable("body", "clients", i, msg=f"no client '{client_id}' in your agency")
    key, record = await runtime.directory.create_key(
        tenant_id,
        name=body.name,
        role=body.role,
        clients=body.clients,
        expires_at=body.expires_at,
    )
    await record_activity(
        runtime, principal, entity="key", entity_id=record.key_id, client_id=None,
        action="created", before=None, after=record,
    )  # fmt: skip
    return IssuedKey(key=key, record=record)


@router.get("/keys")
async def list_keys(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[KeyRecord]:
    """The agency's keys, newest first, revoked and expired ones included, a page at a time
    (next page: the `X-Next-Cursor` header)."""
    after = None
    if (position := pages.decode_cursor(cursor, 2)) is not None:
        try:
            after = (datetime.fromisoformat(position[0]), position[1])
        except ValueError:
            raise pages.bad_cursor() from None
    records = await runtime.directory.list_keys(principal.tenant_id, limit=limit + 1, after=after)
    page = records[:limit]
    if len(records) > limit:
        last = page[-1]
        pages.link_next(
            request, response, pages.encode_cursor(last.created_at.isoformat(), last.key_id)
        )
    return page


@router.get("/keys/{key_id}")
async def get_key(key_id: KeyId, principal: CurrentPrincipal, runtime: RuntimeDep) -> KeyRecord:
    """One key's record."""
    record = await runtime.directory.get_key(principal.tenant_id, key_id)
    if record is None:
        raise _not_found(key_id)
    return record


@router.post("/keys/{key_id}/rotate", status_code=status.HTTP_201_CREATED)
async def rotate_key(
    key_id: KeyId,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    overlap_s: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OVERLAP_S,
            description="Seconds the old key keeps working beside the new one (default a day).",
        ),
    ] = DEFAULT_OVERLAP_S,
) -> IssuedKey:
    """A new key with the same name, role, clients and expiry; the old key expires after
    `overlap_s` seconds (other service processes may accept it up to 30 s longer)."""
    old = await runtime.directory.get_key(principal.tenant_id, key_id)
    rotated = await runtime.directory.rotate_key(principal.tenant_id, key_id, overlap_s=overlap_s)
    if rotated is None:
        raise _not_found(key_id)
    key, record = rotated
    await record_activity(
        runtime, principal, entity="key", entity_id=key_id, client_id=None,
        action="rotated", before=old, after=record,
    )  # fmt: skip
    return IssuedKey(key=key, record=record)


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: KeyId, principal: CurrentPrincipal, runtime: RuntimeDep) -> KeyRecord:
    """Revoke a key: refused at once by this process, by every process within 30 s. An
    agency's last working admin key cannot revoke itself (409)."""
    directory = runtime.directory
    if key_id == principal.key_id:
        now = utcnow()
        admins = [
            k
            for k in await directory.list_keys(principal.tenant_id, limit=MAX_KEYS_LISTED)
            if k.role is Role.ADMIN
            and k.clients is None
            and k.revoked_at is None
            and (k.expires_at is None or k.expires_at > now)
        ]
        if [k.key_id for k in admins] == [key_id]:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail="this is the agency's last admin key: issue another admin key first",
            )
    old = await directory.get_key(principal.tenant_id, key_id)
    record = await directory.revoke_key(principal.tenant_id, key_id)
    if record is None:
        raise _not_found(key_id)
    await record_activity(
        runtime, principal, entity="key", entity_id=key_id, client_id=None,
        action="revoked", before=old, after=record,
    )  # fmt: skip
    return record


def _not_found(key_id: str) -> HTTPException:
    """Another agency's key answers exactly like a missing one."""
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"key '{key_id}' not found")
