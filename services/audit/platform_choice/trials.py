"""Platform trials (step 4: try a platform with a limited trial before committing): each trial
has an end date and a success criterion (a metric of the audit and a target); once its end has
passed it is judged from the client's own accounts on the platform over the trial, and
`PlatformTrialEnded` (keep or drop) is published once, in the transaction that closes it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.audit.accounts.models import AD_PLATFORMS
from services.audit.accounts.repository import AccountRepository
from services.audit.analysis.audit import figures_for
from services.audit.analysis.period import Period
from services.audit.readmodel.repository import ReadModel
from shared import mongo, tasks, topics
from shared.events import Platform, PlatformTrialEnded
from shared.money import ExactDecimal
from shared.runtime import Runtime

log = logging.getLogger("socialops.audit.trials")
INDEXES = {"platform_trials": [IndexModel([("status", ASCENDING), ("end", ASCENDING)])]}
Metric = Literal[
    "followers_end", "follower_growth", "posts_per_week", "engagement_rate", "engagements"
]
CHECK_EVERY_S = 2.0


class TrialIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Platform
    start: date
    end: date = Field(description="Last day of the trial (inclusive).")
    metric: Metric = Field(description="The audit figure the trial is judged by.")
    target: ExactDecimal = Field(ge=0, description="Keep the platform when achieved >= target.")

    @model_validator(mode="after")
    def _valid(self) -> TrialIn:
        if self.platform in AD_PLATFORMS:
            raise ValueError(f"platform: {self.platform.value} holds ads, not an audience")
        if self.end < self.start:
            raise ValueError("end: the trial ends before it starts")
        if (self.end - self.start).days > 366:
            raise ValueError("end: a trial lasts at most a year (a limited trial)")
        return self


class Trial(TrialIn):
    model_config = ConfigDict(extra="ignore", frozen=True)

    trial_id: str
    client_id: str
    status: Literal["running", "ended"]
    achieved: ExactDecimal | None = None
    recommendation: Literal["keep", "drop"] | None = None


def judge(achieved: Decimal | None, target: Decimal, metric: str) -> tuple[str, str]:
    """keep when the criterion is met; drop otherwise (with why)."""
    if achieved is None:
        return "drop", f"{metric} is not defined over the trial (no own data on the platform)"
    if achieved >= target:
        return "keep", f"{metric} {achieved} reached the target {target}"
    return "drop", f"{metric} {achieved} stayed below the target {target}"


class Trials:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.trials = db["platform_trials"]

    async def create(self, tenant_id: str, client_id: str, t: TrialIn) -> Trial:
        trial = Trial(
            **t.model_dump(), trial_id=f"tr-{uuid.uuid4().hex[:12]}", client_id=client_id,
            status="running",
        )  # fmt: skip
        doc = trial.model_dump(mode="json") | {"tenant_id": tenant_id, "_id": trial.trial_id}
        await self.trials.insert_one(doc)
        return trial

    async def for_client(self, tenant_id: str, client_id: str) -> list[Trial]:
        cursor = self.trials.find({"tenant_id": tenant_id, "client_id": client_id}, {"_id": 0})
        return [Trial.model_validate(d) async for d in cursor]


async def end_due(
    runtime: Runtime, trials: Trials, accounts: AccountRepository, reads: ReadModel, *, today: date
) -> int:
    """Judge every running trial whose last day is before `today`; publish each result once."""
    ended = 0
    async for doc in trials.trials.find({"status": "running", "end": {"$lt": today.isoformat()}}):
        trial = Trial.model_validate(doc)
        tenant = doc["tenant_id"]
        own = [
            a for a in await accounts.for_client(tenant, trial.client_id)
            if a.owned and a.platform == trial.platform
        ]  # fmt: skip
        figures, _ = await figures_for(
            reads, tenant, trial.client_id, own, Period(start=trial.start, end=trial.end)
        )
        values = [getattr(f, trial.metric) for f in figures if getattr(f, trial.metric) is not None]
        achieved = max(values) if values else None  # the best own account on the platform
        recommendation, reason = judge(achieved, trial.target, trial.metric)
        event = PlatformTrialEnded.new(
            producer="audit", tenant_id=tenant, client_id=trial.client_id,
            trial_id=trial.trial_id, platform=trial.platform, start=trial.start, end=trial.end,
            metric=trial.metric, target=trial.target, achieved=achieved,
            recommendation=recommendation, reason=reason,
        )  # fmt: skip
        async with mongo.transaction(runtime.mongo) as session:
            closed = await trials.trials.update_one(
                {"_id": trial.trial_id, "status": "running"},
                {"$set": {"status": "ended", "recommendation": recommendation,
                          "achieved": None if achieved is None else str(achieved),
                          "event_id": event.event_id}},
                session=session,
            )  # fmt: skip
            if closed.modified_count == 1:  # a second checker finds it ended: no second event
                await runtime.outbox.stage(session, runtime.topics(topics.AUDIT_PLATFORMS), event)
                ended += 1
    return ended


async def run_checker(
    runtime: Runtime, trials: Trials, accounts: AccountRepository, reads: ReadModel
) -> None:
    """Check for ended trials every few seconds, for as long as the service runs."""
    while True:
        try:
            await end_due(runtime, trials, accounts, reads, today=datetime.now(UTC).date())
        except Exception:
            tasks.raise_if_stopping()
            log.exception("checking platform trials failed")
        await asyncio.sleep(CHECK_EVERY_S)
