"""Routes of outgoing webhooks: subscribe a URL to event types (the signing secret is shown
once), list and read subscriptions, rotate the secret (the new one shown once; the old one
keeps signing alongside for `rotation_overlap_s`), re-enable a disabled subscription, delete,
and read a subscription's delivery log (newest first, keyset pages)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from services.calendar.deps import unprocessable
from services.calendar.webhooks.models import (
    Delivery,
    DeliveryStatus,
    SecretRotated,
    Subscription,
    SubscriptionCreated,
    SubscriptionIn,
)
from services.calendar.webhooks.policy import url_problem
from services.calendar.webhooks.repository import WebhookRepository
from services.calendar.webhooks.settings import WebhookSettings
from shared import pages
from shared.envelope import utcnow
from shared.runtime import CurrentAgency
from shared.signing import new_secret

router = APIRouter(tags=["webhooks"])
MAX_SUBSCRIPTIONS = 100
HINT = 10  # "whsec_" and 4 characters


def get_repo(request: Request) -> WebhookRepository:
    repo: WebhookRepository = request.app.state.webhooks.repo
    return repo


def get_settings(request: Request) -> WebhookSettings:
    settings: WebhookSettings = request.app.state.webhooks.settings
    return settings


Repo = Annotated[WebhookRepository, Depends(get_repo)]
Settings = Annotated[WebhookSettings, Depends(get_settings)]


def _view(doc: dict[str, Any]) -> Subscription:
    return Subscription.model_validate(doc | {"secret_hint": doc["secret"][:HINT]})


async def _sub_or_404(repo: WebhookRepository, tenant_id: str, sub_id: str) -> dict[str, Any]:
    doc = await repo.get(tenant_id, sub_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"subscription '{sub_id}' not found")
    return doc


@router.post("/webhooks", status_code=status.HTTP_201_CREATED)
async def subscribe(
    body: SubscriptionIn, agency: CurrentAgency, repo: Repo, settings: Settings
) -> SubscriptionCreated:
    """Subscribe a URL to event types. The answer carries the signing secret, only this once."""
    problem = url_problem(body.url, allow_http_localhost=settings.allow_http_localhost)
    if problem:
        raise unprocessable("body", "url", msg=problem)
    if len(await repo.of_tenant(agency.tenant_id, limit=MAX_SUBSCRIPTIONS)) >= MAX_SUBSCRIPTIONS:
        raise unprocessable("body", msg=f"at most {MAX_SUBSCRIPTIONS} subscriptions per agency")
    secret = new_secret()
    fields = body.model_dump(mode="json") | {"secret": secret}
    doc = await repo.create(agency.tenant_id, fields, now=utcnow())
    return SubscriptionCreated.model_validate(_view(doc).model_dump() | {"secret": secret})


@router.get("/webhooks")
async def list_subscriptions(agency: CurrentAgency, repo: Repo) -> list[Subscription]:
    return [_view(d) for d in await repo.of_tenant(agency.tenant_id, limit=MAX_SUBSCRIPTIONS)]


@router.get("/webhooks/{subscription_id}")
async def get_subscription(subscription_id: str, agency: CurrentAgency, repo: Repo) -> Subscription:
    return _view(await _sub_or_404(repo, agency.tenant_id, subscription_id))


@router.delete("/webhooks/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(subscription_id: str, agency: CurrentAgency, repo: Repo) -> Response:
    """Stop a subscription; deliveries not yet made are cancelled, the log stays readable."""
    if not await repo.delete(agency.tenant_id, subscription_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"subscription '{subscription_id}' not found"
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhooks/{subscription_id}/rotate-secret")
async def rotate_secret(
    subscription_id: str, agency: CurrentAgency, repo: Repo, settings: Settings
) -> SecretRotated:
    """A new signing secret, shown once. Until `previous_secret_valid_until` every delivery
    is signed under both (two `v1=` in the header), so receivers can switch without a gap."""
    doc = await _sub_or_404(repo, agency.tenant_id, subscription_id)
    now = utcnow()
    until = now + timedelta(seconds=settings.rotation_overlap_s)
    secret = new_secret()
    await repo.update(
        agency.tenant_id,
        subscription_id,
        {"secret": secret, "previous_secret": doc["secret"], "previous_secret_until": until,
         "secret_rotated_at": now},
    )  # fmt: skip
    return SecretRotated(
        subscription_id=subscription_id, secret=secret, previous_secret_valid_until=until
    )


@router.post("/webhooks/{subscription_id}/enable")
async def enable(
    subscription_id: str, request: Request, agency: CurrentAgency, repo: Repo
) -> Subscription:
    """Turn a disabled subscription back on; deliveries held while it was off go out."""
    if not await repo.enable(agency.tenant_id, subscription_id, now=utcnow()):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"subscription '{subscription_id}' not found"
        )
    request.app.state.webhooks.sender.kick()
    return _view(await _sub_or_404(repo, agency.tenant_id, subscription_id))


@router.get("/webhooks/{subscription_id}/deliveries")
async def delivery_log(
    subscription_id: str,
    request: Request,
    response: Response,
    agency: CurrentAgency,
    repo: Repo,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: pages.Limit = pages.DEFAULT_PAGE,
    cursor: pages.Cursor = None,
) -> list[Delivery]:
    """Deliveries newest first, each with every attempt (time, status code, error, duration);
    the next page starts at the `X-Next-Cursor` header."""
    await _sub_or_404(repo, agency.tenant_id, subscription_id)
    position = pages.decode_cursor(cursor, 2)
    before = None
    if position is not None:
        try:
            before = (datetime.fromisoformat(position[0]), position[1])
        except ValueError:
            raise pages.bad_cursor() from None
    docs = await repo.log(
        agency.tenant_id,
        subscription_id,
        status=status_.value if status_ else None,
        limit=limit,
        before=before,
    )
    if len(docs) == limit:
        last = docs[-1]
        pages.link_next(request, response, pages.encode_cursor(last["created_at"].isoformat(),
                                                               last["_id"]))  # fmt: skip
    return [Delivery.model_validate(d | {"delivery_id": d["_id"]}) for d in docs]
