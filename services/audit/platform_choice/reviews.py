"""Yearly platform reviews (step 4: re-evaluate every year): each strategy platform's review
date arrives with `StrategyUpdated`; when it comes, `PlatformReviewDue` is published once per
client, strategy, platform and date, with the platform's current platform-choice score, in the
transaction that marks the review announced. A newer strategy version that moves the date
re-arms the review for the new date (the old upcoming one is superseded)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from dateutil.relativedelta import relativedelta
from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.audit.analysis.api import audit_of
from services.audit.platform_choice.scoring import ChoiceIn, score, weights_of
from shared import mongo, tasks, topics
from shared.envelope import derived_event_id
from shared.events import Platform, PlatformReviewDue, StrategyUpdated
from shared.money import ExactDecimal
from shared.runtime import Runtime

if TYPE_CHECKING:
    from services.audit.accounts.repository import AccountRepository
    from services.audit.platform_choice.handlers import Strategies
    from services.audit.readmodel.repository import ReadModel
    from shared.known_clients import KnownClients

log = logging.getLogger("socialops.audit.reviews")
INDEXES = {
    "platform_reviews": [
        IndexModel([("status", ASCENDING), ("review_on", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING)]),
    ]
}
CHECK_EVERY_S = 2.0
# The review scores the platform over the year before its date, with the default goal and
# weights (an agency that wants other weights asks POST .../audit/platform-choice).
CHOICE = ChoiceIn()


class Review(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    strategy_id: str
    platform: Platform
    review_on: date
    status: Literal["upcoming", "announced"]
    strategy_version: int
    score: ExactDecimal | None = None
    components: dict[str, ExactDecimal] | None = None
    announced_at: datetime | None = None


def review_key(tenant_id: str, client_id: str, strategy_id: str, platform: str, on: date) -> str:
    return f"{tenant_id}|{client_id}|{strategy_id}|{platform}|{on.isoformat()}"


class Reviews:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.reviews = db["platform_reviews"]

    async def record(self, e: StrategyUpdated) -> None:
        """Arm each platform's review date of this strategy version; supersede the upcoming
        reviews it no longer has. An older version arriving late changes nothing; so does a
        repeat. A version 1 event carries no dates: nothing to arm or supersede."""
        if e.event_version < 2:  # v2 added `reviews`
            return
        mine = {"tenant_id": e.tenant_id, "client_id": e.client_id, "strategy_id": e.strategy_id}
        if await self.reviews.find_one(mine | {"strategy_version": {"$gt": e.version}}):
            return
        current = []
        for r in e.reviews:
            key = review_key(e.tenant_id, e.client_id, e.strategy_id, r.platform.value, r.review_on)
            current.append(key)
            await self.reviews.update_one(
                {"_id": key, "status": "superseded"}, {"$set": {"status": "upcoming"}}
            )
            await self.reviews.update_one(
                {"_id": key},
                {"$set": {"strategy_version": e.version},
                 "$setOnInsert": mine | {"platform": r.platform.value,
                                         "review_on": r.review_on.isoformat(),
                                         "status": "upcoming"}},
                upsert=True,
            )  # fmt: skip
        await self.reviews.update_many(
            mine | {"status": "upcoming", "_id": {"$nin": current}},
            {"$set": {"status": "superseded", "strategy_version": e.version}},
        )

    async def for_client(self, tenant_id: str, client_id: str) -> list[Review]:
        """Upcoming and announced reviews, soonest first."""
        cursor = self.reviews.find(
            {"tenant_id": tenant_id, "client_id": client_id,
             "status": {"$in": ["upcoming", "announced"]}},
        ).sort([("review_on", ASCENDING), ("platform", ASCENDING), ("_id", ASCENDING)])  # fmt: skip
        return [Review.model_validate(d) async for d in cursor]


async def announce_due(
    runtime: Runtime,
    reviews: Reviews,
    *,
    strategies: Strategies,
    known: KnownClients,
    accounts: AccountRepository,
    reads: ReadModel,
    today: date,
) -> int:
    """Publish `PlatformReviewDue` for every upcoming review dated today or earlier, once."""
    announced = 0
    due = reviews.reviews.find({"status": "upcoming", "review_on": {"$lte": today.isoformat()}})
    async for doc in due:
        try:
            announced += await _announce(
                runtime, reviews, doc, strategies=strategies, known=known, accounts=accounts,
                reads=reads,
            )  # fmt: skip
        except Exception:
            tasks.raise_if_stopping()  # e.g. the client is not known here yet: next round
            log.exception("announcing platform review %s failed", doc["_id"])
    if announced:
        runtime.outbox.kick()
    return announced


async def _announce(
    runtime: Runtime,
    reviews: Reviews,
    doc: dict[str, Any],
    *,
    strategies: Strategies,
    known: KnownClients,
    accounts: AccountRepository,
    reads: ReadModel,
) -> int:
    tenant, client, platform = doc["tenant_id"], doc["client_id"], doc["platform"]
    review_on = date.fromisoformat(doc["review_on"])
    start = end = review_on
    audit = None  # a period no audit covers (near the year 1 or 9999): not scored
    try:  # a client the audit does not know yet raises 404: tried again next round
        start, end = review_on - relativedelta(years=1), review_on - timedelta(days=1)
        audit = await audit_of(
            client_id=client, start=start, end=end, group=None, tenant_id=tenant, known=known,
            accounts=accounts, reads=reads,
        )  # fmt: skip
    except HTTPException as e:
        if e.status_code != status.HTTP_422_UNPROCESSABLE_CONTENT:
            raise
    except (ValueError, OverflowError):
        pass
    strategy_platforms, personas = await strategies.audience(tenant, client)
    scored = score(audit, strategy_platforms, CHOICE, personas) if audit is not None else []
    mine = next((s for s in scored if s.platform == platform), None)  # None: an ad platform
    weights = {k: v.normalize() for k, v in weights_of({}).items()}
    event = PlatformReviewDue.new(
        producer="audit", tenant_id=tenant, client_id=client, strategy_id=doc["strategy_id"],
        platform=platform, review_on=review_on, period_start=start, period_end=end,
        goal=CHOICE.goal, score=None if mine is None else mine.score,
        components=mine.components if mine else {},
        weights=weights,
        event_id=derived_event_id("PlatformReviewDue", doc["_id"]),
    )  # fmt: skip
    async with mongo.transaction(runtime.mongo) as session:
        marked = await reviews.reviews.update_one(
            {"_id": doc["_id"], "status": "upcoming"},
            {"$set": {"status": "announced", "event_id": event.event_id,
                      "announced_at": datetime.now(UTC),
                      "score": None if event.score is None else str(event.score),
                      "components": {k: str(v) for k, v in event.components.items()}}},
            session=session,
        )  # fmt: skip
        if marked.modified_count != 1:  # another checker announced it (or a strategy moved it)
            return 0
        await runtime.outbox.stage(session, runtime.topics(topics.AUDIT_PLATFORM_REVIEWS), event)
    return 1


async def run_checker(
    runtime: Runtime,
    reviews: Reviews,
    *,
    strategies: Strategies,
    known: KnownClients,
    accounts: AccountRepository,
    reads: ReadModel,
) -> None:
    """Check for review dates that arrived every few seconds, for as long as the service runs."""
    while True:
        try:
            await announce_due(
                runtime, reviews, strategies=strategies, known=known, accounts=accounts,
                reads=reads, today=datetime.now(UTC).date(),
            )  # fmt: skip
        except Exception:
            tasks.raise_if_stopping()
            log.exception("checking platform reviews failed")
        await asyncio.sleep(CHECK_EVERY_S)
