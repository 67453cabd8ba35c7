"""Adherence as the calendar computes and watches it: the report of a client over ISO weeks in
its zone (`report`), and the evaluation of its last complete weeks against its threshold
(`evaluate`): a client that falls below gets one `AdherenceDropped` (calendar.adherence.v1),
staged in the outbox in the same transaction as its state, and none again until it has been
back above. One calendar process at a time (a lease in `adherence_sweeps`) sweeps every client
each `sweep_interval_s` (a week that ends short of its plan is only seen by time passing); a
late `PostPublished` for a judged week re-evaluates its client at once (`handlers.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from services.calendar.adherence import metrics
from services.calendar.adherence.repository import AdherenceRepository
from services.calendar.adherence.score import (
    Mix,
    PlatformSummary,
    Published,
    Totals,
    Week,
    iso_week,
    mix,
    monday,
    score,
    weeks_of,
)
from services.calendar.adherence.settings import AdherenceSettings
from services.calendar.strategy.models import Strategy
from services.calendar.strategy.repository import StrategyRepository
from shared import mongo, tasks, topics
from shared.envelope import utcnow
from shared.events import AdherenceDropped
from shared.runtime import Runtime

log = logging.getLogger("socialops.calendar.adherence")
SWEEP_PAGE = 500


class StrategyRef(BaseModel):
    strategy_id: str
    version: int


class AdherenceReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str
    timezone: str = Field(description="Weeks are ISO weeks in this zone.")
    start: date = Field(description="Monday of the first week.")
    end: date = Field(description="Monday after the last week.")
    threshold: Decimal
    strategy: StrategyRef | None = Field(description="Whose targets the mix is compared with.")
    totals: Totals
    platforms: list[PlatformSummary]
    weeks: list[Week]
    mix: Mix


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _overlap(strategy: Strategy, start: date, end: date) -> int:
    return max(0, (min(end, strategy.end) - max(start, strategy.spec.start)).days)


class AdherenceMonitor:
    def __init__(
        self,
        runtime: Runtime,
        repo: AdherenceRepository,
        strategies: StrategyRepository,
        settings: AdherenceSettings,
    ) -> None:
        self.runtime = runtime
        self.repo = repo
        self.strategies = strategies
        self.settings = settings

    async def threshold(self, tenant_id: str, client_id: str) -> Decimal:
        state = await self.repo.state(tenant_id, client_id)
        if state and state.get("threshold") is not None:
            return Decimal(state["threshold"])
        return self.settings.threshold

    async def report(
        self,
        tenant_id: str,
        client_id: str,
        timezone: str,
        start: date,
        end: date,
        *,
        now: datetime | None = None,
    ) -> AdherenceReport:
        """Adherence over the ISO weeks from `start`'s to the one before `end` (Mondays), as of
        `now` (slots after it are upcoming, not judged)."""
        zone = ZoneInfo(timezone)
        slots = await self.repo.planned(
            tenant_id, client_id, start.isoformat(), end.isoformat(), now=now or utcnow()
        )
        docs = await self.repo.published_between(
            tenant_id, client_id, _local_midnight(start, zone), _local_midnight(end, zone)
        )
        posts = [
            Published(d["platform"], d["scheduled_at"].astimezone(zone).date(),
                      d.get("pillar"), d.get("content_type"), d.get("stage"))
            for d in docs
        ]  # fmt: skip
        totals, weeks, platforms = score(weeks_of(start, end), slots, posts)
        strategy = await self._strategy(tenant_id, client_id, start, end)
        spec = strategy.spec if strategy else None
        return AdherenceReport(
            client_id=client_id,
            timezone=timezone,
            start=start,
            end=end,
            threshold=await self.threshold(tenant_id, client_id),
            strategy=StrategyRef(strategy_id=strategy.strategy_id, version=strategy.version)
            if strategy
            else None,
            totals=totals,
            platforms=platforms,
            weeks=weeks,
            mix=mix(
                posts,
                pillars={p.name: p.share for p in spec.pillars} if spec else {},
                content_types={t.name: t.share for t in spec.content_types} if spec else {},
                stages={s.stage.value: s.share for s in spec.stages} if spec else {},
            ),
        )

    async def _strategy(
        self, tenant_id: str, client_id: str, start: date, end: date
    ) -> Strategy | None:
        """The latest version of the strategy covering most of the range."""
        candidates = await self.strategies.latest_of_client(tenant_id, client_id)
        overlapping = [s for s in candidates if _overlap(s, start, end) > 0]
        return max(overlapping, key=lambda s: _overlap(s, start, end), default=None)

    @staticmethod
    def zone(timezone: str) -> ZoneInfo:
        return ZoneInfo(timezone)

    def judged_weeks(self, timezone: str, now: datetime | None = None) -> tuple[date, date]:
        """The last `window_weeks` complete ISO weeks in the client's zone: [start, end)."""
        today = (now or utcnow()).astimezone(ZoneInfo(timezone)).date()
        end = monday(today)
        return end - timedelta(weeks=self.settings.window_weeks), end

    async def evaluate(
        self, tenant_id: str, client_id: str, timezone: str, *, now: datetime | None = None
    ) -> AdherenceReport:
        """Judge the client's last complete weeks; announce a drop below its threshold once."""
        start, end = self.judged_weeks(timezone, now)
        report = await self.report(tenant_id, client_id, timezone, start, end, now=now)
        adherence = report.totals.adherence
        below = adherence is not None and adherence < report.threshold
        figures = {"adherence": adherence, "consistency": report.totals.consistency,
                   "planned": report.totals.planned, "evaluated_at": utcnow(),
                   "weeks": [w.week for w in report.weeks]}  # fmt: skip
        event = None
        if below and adherence is not None:
            event = AdherenceDropped.new(
                producer="calendar",
                tenant_id=tenant_id,
                client_id=client_id,
                adherence=adherence,
                threshold=report.threshold,
                consistency=report.totals.consistency,
                weeks=tuple(iso_week(w) for w in weeks_of(start, end)),
                planned=report.totals.planned,
                published=report.totals.published,
            )
        runtime = self.runtime
        async with mongo.transaction(runtime.mongo) as session:
            changed = await self.repo.mark(
                tenant_id, client_id, below=below, figures=figures, session=session
            )
            if changed and event is not None:
                await runtime.outbox.stage(session, runtime.topics(topics.ADHERENCE), event)
        if changed:
            if event is not None:
                runtime.outbox.kick()
                metrics.DROPS.labels(tenant_id).inc()
                log.info("client %s of %s below its adherence threshold: %s < %s",
                         client_id, tenant_id, adherence, report.threshold)  # fmt: skip
            metrics.CLIENTS_BELOW.labels(tenant_id).set(await self.repo.count_below(tenant_id))
        return report

    async def sweep(self, *, now: datetime | None = None) -> int:
        """Evaluate every client of every tenant; set the gauges. Returns clients evaluated."""
        after: str | None = None
        evaluated: Counter[str] = Counter()
        below: Counter[str] = Counter()
        while page := await self.repo.client_keys(after=after, limit=SWEEP_PAGE):
            for client in page:
                tenant_id = client["tenant_id"]
                zone = client.get("timezone") or "UTC"
                try:
                    report = await self.evaluate(tenant_id, client["_id"], zone, now=now)
                except Exception:  # a conflict with another process's sweep, say: the others
                    log.exception("adherence of client %s not evaluated", client["_id"])
                    continue  # go on, and the next sweep retries this one
                adherence = report.totals.adherence
                if adherence is not None:
                    evaluated[tenant_id] += 1
                    below[tenant_id] += adherence < report.threshold
            after = page[-1]["_id"]
        for tenant_id, n in evaluated.items():
            metrics.CLIENTS_EVALUATED.labels(tenant_id).set(n)
            metrics.CLIENTS_BELOW.labels(tenant_id).set(below[tenant_id])
        return sum(evaluated.values())

    async def run(self) -> None:
        """Set the gauge from the stored states, then sweep whenever this process holds the
        sweep lease (at most once per `sweep_interval_s` across processes); cancelled on
        shutdown."""
        owner = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        interval = self.settings.sweep_interval_s
        with contextlib.suppress(Exception):  # the database may still be starting
            for tenant_id, n in (await self.repo.below_by_tenant()).items():
                metrics.CLIENTS_BELOW.labels(tenant_id).set(n)
        while True:
            try:
                now = utcnow()
                until = now + timedelta(seconds=interval)
                if await self.repo.claim_sweep(owner=owner, now=now, until=until):
                    await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                tasks.raise_if_stopping()
                log.exception("adherence sweep failed; will retry")
            await asyncio.sleep(min(interval, 60.0))
