"""Routes: platform choice, trials and yearly reviews of a client."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from services.audit.analysis.api import End, Group, Start, audit_of
from services.audit.deps import Accounts, Known, Reads
from services.audit.errors import unprocessable
from services.audit.platform_choice.handlers import Strategies
from services.audit.platform_choice.reviews import Review, Reviews
from services.audit.platform_choice.scoring import ChoiceIn, PlatformScore, score
from services.audit.platform_choice.trials import Trial, TrialIn, Trials
from shared.runtime import CurrentAgency

router = APIRouter(tags=["audit platform choice"])


def _trials(request: Request) -> Trials:
    trials: Trials = request.app.state.trials
    return trials


@router.post("/clients/{client_id}/audit/platform-trials", status_code=status.HTTP_201_CREATED)
async def create_trial(
    client_id: str, body: TrialIn, request: Request, agency: CurrentAgency, known: Known
) -> Trial:
    """Start a limited trial of a platform with its success criterion; after its last day
    the audit judges it and publishes `PlatformTrialEnded` (keep or drop) once."""
    await known.require(agency.tenant_id, client_id)
    return await _trials(request).create(agency.tenant_id, client_id, body)


@router.get("/clients/{client_id}/audit/platform-trials")
async def list_trials(
    client_id: str, request: Request, agency: CurrentAgency, known: Known
) -> list[Trial]:
    """The client's trials, running and ended (with the recommendation)."""
    await known.require(agency.tenant_id, client_id)
    return await _trials(request).for_client(agency.tenant_id, client_id)


@router.post("/clients/{client_id}/audit/platform-choice")
async def platform_choice(
    client_id: str,
    body: ChoiceIn,
    request: Request,
    start: Start,
    end: End,
    agency: CurrentAgency,
    known: Known,
    accounts: Accounts,
    reads: Reads,
    group: Group = None,
) -> list[PlatformScore]:
    """A score per platform (0-100, best first) from audience, goal fit, competitor activity,
    own performance and cost, with the weights used; see `services/audit/platform_choice`.
    Audience presence is the share of the current strategy's personas who use the platform
    (2 of 3 personas: 0.666667); a strategy without personas: 1 if it lists the platform,
    else 0."""
    audit = await audit_of(
        client_id=client_id, start=start, end=end, group=group, tenant_id=agency.tenant_id,
        known=known, accounts=accounts, reads=reads,
    )  # fmt: skip
    strategies: Strategies = request.app.state.strategies
    platforms, personas = await strategies.audience(agency.tenant_id, client_id)
    try:
        return score(audit, platforms, body, personas)
    except ValueError as e:
        raise unprocessable("body", "weights", msg=str(e)) from e


@router.get("/clients/{client_id}/platform-reviews")
async def list_reviews(
    client_id: str, request: Request, agency: CurrentAgency, known: Known
) -> list[Review]:
    """The client's yearly platform reviews, soonest first: upcoming (from each strategy
    platform's re-evaluation date) and announced (`PlatformReviewDue` was published, with the
    platform-choice score then)."""
    await known.require(agency.tenant_id, client_id)
    reviews: Reviews = request.app.state.reviews
    return await reviews.for_client(agency.tenant_id, client_id)
