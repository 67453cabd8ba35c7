"""Publishing routes: pause, resume and retry a post by hand; where a client's posts go
(publishing targets). Each change is one conditional write with its event in the outbox
(`PostPaused`, `PostResumed` on calendar.posts.lifecycle.v1). Failed posts and their reasons:
`GET /clients/{id}/posts?status=failed` (services/calendar/api.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.params import Depends
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from services.calendar.deps import Clients, client_or_404
from services.calendar.models import TRANSITIONS, Post, PostStatus
from services.calendar.publishing import lifecycle
from services.calendar.publishing.repository import PublishingRepository
from shared import signing
from shared.activity import activity
from shared.auth import Principal
from shared.deps import RuntimeDep
from shared.envelope import Event, utcnow
from shared.events import Platform
from shared.runtime import CurrentAgency, CurrentPrincipal, Runtime

router = APIRouter(tags=["publishing"])


def get_publishing(request: Request) -> PublishingRepository:
    repo: PublishingRepository = request.app.state.publishing
    return repo


Publishing = Annotated[PublishingRepository, Depends(get_publishing)]


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int | None = Field(default=None, ge=1, description="Expected version (stale: 409).")
    reason: str = Field(default="", max_length=500)


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int | None = Field(default=None, ge=1, description="Expected version (stale: 409).")


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["webhook", "sandbox"] = "webhook"
    url: AnyHttpUrl | None = Field(
        default=None, description="Where the webhook connector POSTs (kind webhook).",
        examples=["https://hooks.zapier.com/hooks/catch/123/abc"],
    )  # fmt: skip


class Target(BaseModel):
    client_id: str
    platform: Platform
    kind: str
    url: str | None = None
    secret: str | None = Field(
        default=None, description="Signing secret: shown once, when the target is set."
    )


async def _post(
    repo: PublishingRepository, tenant_id: str, client_id: str, post_id: str, version: int | None
) -> dict[str, Any]:
    doc = await repo.get(tenant_id, client_id, post_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"post '{post_id}' not found")
    if version is not None and doc.get("version", 1) != version:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"post is at version {doc.get('version', 1)}, not {version}: reload it",
        )
    return doc


def _allowed(doc: dict[str, Any], to: PostStatus, *, only_from: set[PostStatus]) -> None:
    current = PostStatus(doc["status"])
    if current not in only_from or to not in TRANSITIONS[current]:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"a {current.value} post cannot become {to.value}",
        )


def _logged(
    runtime: Runtime, principal: Principal, doc: dict[str, Any], action: str
) -> Callable[[dict[str, Any]], Event]:
    """The activity-log entry of a post's change by this key, from the post after it."""
    return lambda after: activity(
        runtime, principal, entity="post", entity_id=doc["_id"], client_id=doc["client_id"],
        action=action, before=doc, after=after,
    )  # fmt: skip


def _changed() -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail="post changed meanwhile: reload it")


@router.post("/clients/{client_id}/posts/{post_id}/pause")
async def pause_post(
    client_id: str,
    post_id: str,
    body: PauseIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Publishing,
    runtime: RuntimeDep,
) -> Post:
    """Hold a scheduled (or due, not yet publishing) post back; publishes `PostPaused`."""
    doc = await _post(repo, agency.tenant_id, client_id, post_id, body.version)
    _allowed(doc, PostStatus.PAUSED, only_from={PostStatus.SCHEDULED, PostStatus.DUE})
    reason = body.reason or "paused by hand"
    updated = await repo.transition(
        doc,
        to=PostStatus.PAUSED,
        changes={"paused_reason": reason},
        unset=("lease", "lease_until"),
        event=lifecycle.paused(doc, reason),
        activity=_logged(runtime, principal, doc, "paused"),
    )
    if updated is None:
        raise _changed()
    return Post.model_validate(updated)


@router.post("/clients/{client_id}/posts/{post_id}/resume")
async def resume_post(
    client_id: str,
    post_id: str,
    body: ChangeIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Publishing,
    runtime: RuntimeDep,
) -> Post:
    """Schedule a paused post again (due at once if its time has passed); `PostResumed`."""
    doc = await _post(repo, agency.tenant_id, client_id, post_id, body.version)
    _allowed(doc, PostStatus.SCHEDULED, only_from={PostStatus.PAUSED})
    updated = await repo.transition(
        doc,
        to=PostStatus.SCHEDULED,
        changes={"paused_reason": None},
        unset=("paused_budget_id",),  # resumed by hand: the budget's resume no longer applies
        event=lifecycle.resumed(doc),
        activity=_logged(runtime, principal, doc, "resumed"),
    )
    if updated is None:
        raise _changed()
    return Post.model_validate(updated)


@router.post("/clients/{client_id}/posts/{post_id}/retry")
async def retry_post(
    client_id: str,
    post_id: str,
    body: ChangeIn,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Publishing,
    runtime: RuntimeDep,
) -> Post:
    """Try a failed post again now (attempts start over; the last reason stays until it
    goes out); publishes `PostResumed`."""
    doc = await _post(repo, agency.tenant_id, client_id, post_id, body.version)
    _allowed(doc, PostStatus.SCHEDULED, only_from={PostStatus.FAILED})
    updated = await repo.transition(
        doc,
        to=PostStatus.SCHEDULED,
        changes={"attempts": 0, "retry_at": None, "failed_at": None},
        event=lifecycle.resumed(doc),
        activity=_logged(runtime, principal, doc, "retried"),
    )
    if updated is None:
        raise _changed()
    return Post.model_validate(updated)


@router.put("/clients/{client_id}/publishing/targets/{platform}")
async def set_target(
    client_id: str,
    platform: Platform,
    body: TargetIn,
    agency: CurrentAgency,
    clients: Clients,
    repo: Publishing,
) -> Target:
    """Where this client's posts on `platform` go: a webhook URL (answer shows the signing
    secret once; setting it again rotates it) or the sandbox platform."""
    await client_or_404(clients, agency.tenant_id, client_id)
    if body.kind == "webhook" and body.url is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "url"], "msg": "a webhook target needs a url",
                     "type": "value_error"}],
        )  # fmt: skip
    secret = signing.new_secret() if body.kind == "webhook" else None
    target = {
        "tenant_id": agency.tenant_id,
        "client_id": client_id,
        "platform": platform.value,
        "kind": body.kind,
        "url": str(body.url) if body.url else None,
        "secret": secret,
        "updated_at": utcnow(),
    }
    await repo.put_target(target)
    return Target(client_id=client_id, platform=platform, kind=body.kind,
                  url=target["url"], secret=secret)  # fmt: skip


@router.get("/clients/{client_id}/publishing/targets")
async def list_targets(
    client_id: str, agency: CurrentAgency, clients: Clients, repo: Publishing
) -> list[Target]:
    """This client's targets (secrets are never shown again)."""
    await client_or_404(clients, agency.tenant_id, client_id)
    found = await repo.list_targets(agency.tenant_id, client_id)
    return [Target(client_id=client_id, platform=t["platform"], kind=t["kind"], url=t.get("url"))
            for t in found]  # fmt: skip


@router.delete(
    "/clients/{client_id}/publishing/targets/{platform}", status_code=status.HTTP_204_NO_CONTENT
)
async def delete_target(
    client_id: str, platform: Platform, agency: CurrentAgency, clients: Clients, repo: Publishing
) -> Response:
    await client_or_404(clients, agency.tenant_id, client_id)
    if not await repo.delete_target(agency.tenant_id, client_id, platform.value):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no target for {platform.value}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
