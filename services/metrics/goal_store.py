"""Goal storage (collection `goals`, every document and tenant query scoped by tenant) and the
measured series a goal is evaluated against, read from stored observations' contributions.

What a goal measures, by the kind of its metric (owned entities only):
- stock (followers): the level at each point in time, i.e. the level just before `start`
  plus every contribution since; the history baseline is that level just before `start`.
- flow (clicks, views, leads...) and unique (reach): the total counted from `start`, so the
  baseline is 0. An entity whose first reading arrives after `start` contributes its whole
  running total then (that is what its first contribution is). Reach is summed across
  entities and windows, so it counts an account once per post that reached it.
- KPI (ctr, engagement_rate_*, cpc...): the KPI (kpis.py) over the goal window [start, t],
  from the window's totals; the history baseline is the KPI over the window of equal length
  just before `start`. Points where the KPI is not defined are left out.
Points are bucketed (hour, day or week by the goal's span): one per bucket, at the bucket's
latest observation, carrying the value after it, so an evaluation reads a bounded series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.metrics.kpis import ENGAGEMENT_PARTS, KPI_NAMES, compute_kpis
from services.metrics.registry import MetricKind, metric
from services.metrics.repository import BUCKETS, indexed_stages
from shared.money import Money

GOALS = "goals"
Bucket = Literal["hour", "day", "week"]
Point = tuple[datetime, Decimal]
Triple = tuple[str, str, str]  # (tenant_id, client_id, platform)

INDEXES = {
    GOALS: [
        # the tracker: open goals of touched (tenant, client, platform); due goals per tenant
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("open", ASCENDING),
                ("client_id", ASCENDING),
                ("platform", ASCENDING),
            ]
        ),
        IndexModel([("tenant_id", ASCENDING), ("client_id", ASCENDING), ("created_at", ASCENDING)]),
        IndexModel([("open", ASCENDING), ("tenant_id", ASCENDING)]),  # tenants with open goals
        IndexModel([("tenant_id", ASCENDING), ("closed_at", ASCENDING)]),  # recently closed
    ]
}

# Stored outside `contrib`: money contributions of an observation.
_MONEY_PATHS = {"spend": ("$spend_contrib", "$spend_currency"),
                "revenue": ("$revenue_contrib", "$revenue_currency")}  # fmt: skip
_PARTS = tuple(ENGAGEMENT_PARTS)
KPI_COMPONENTS: dict[str, tuple[str, ...]] = {
    "engagement_rate_impressions": (*_PARTS, "impressions"),
    "engagement_rate_reach": (*_PARTS, "reach"),
    "engagement_rate_followers": (*_PARTS, "followers"),
    "ctr": ("clicks", "impressions"),
    "cpc": ("spend", "clicks"),
    "cpl": ("spend", "leads"),
    "cpm": ("spend", "impressions"),
    "lead_conversion_rate": ("leads", "visits", "clicks"),
    "follower_growth": ("followers",),
    "roi": ("spend", "revenue"),
}


class SeriesKind(StrEnum):
    STOCK = "stock"
    FLOW = "flow"
    KPI = "kpi"


def series_kind(name: str) -> SeriesKind:
    """How a goal metric is measured over time (unique metrics count like flows)."""
    if name in KPI_NAMES:
        return SeriesKind.KPI
    return SeriesKind.STOCK if metric(name).kind is MetricKind.STOCK else SeriesKind.FLOW


def components(name: str) -> tuple[str, ...]:
    """The stored contributions a goal metric is computed from."""
    return KPI_COMPONENTS.get(name, (name,))


def needs_level(name: str) -> bool:
    """Whether the metric's series starts from a stock level before the window (followers)."""
    return series_kind(name) is SeriesKind.STOCK or "followers" in components(name)


def level_name(name: str) -> str:
    """The stock whose level before the window the series builds on."""
    return name if series_kind(name) is SeriesKind.STOCK else "followers"


def bucket_for(start: datetime, deadline: datetime) -> Bucket:
    """Bucket size that keeps a goal's series at a few hundred points at most."""
    span = deadline - start
    if span <= timedelta(days=14):
        return "hour"
    return "day" if span <= timedelta(days=400) else "week"


# --------------------------------------------------------------------------- pure series logic


@dataclass(frozen=True)
class Sums:
    """Contributions summed over a bucket or window: which components were seen at all (an
    unreported component is unknown, not 0) and the currencies of the money summed."""

    at: datetime | None = None
    sums: Mapping[str, Decimal] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()
    currencies: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __add__(self, other: Sums) -> Sums:
        names = set(self.sums) | set(other.sums)
        zero = Decimal(0)
        return Sums(
            at=max((t for t in (self.at, other.at) if t is not None), default=None),
            sums={n: self.sums.get(n, zero) + other.sums.get(n, zero) for n in names},
            seen=self.seen | other.seen,
            currencies={
                n: self.currencies.get(n, frozenset()) | other.currencies.get(n, frozenset())
                for n in set(self.currencies) | set(other.currencies)
            },
        )

    def get(self, name: str) -> Decimal | None:
        """The total of a component, None if no observation reported it."""
        return self.sums.get(name, Decimal(0)) if name in self.seen else None

    def money(self, name: str) -> Money | None:
        """A summed money component; None if unreported or in more than one currency."""
        amount, currencies = self.get(name), self.currencies.get(name, frozenset())
        if amount is None or len(currencies) != 1:
            return None
        return Money(amount=amount, currency=next(iter(currencies)))


def group_stage(names: Iterable[str], bucket: Bucket | None) -> dict[str, Any]:
    """`$group` summing each component per bucket (or over everything when bucket is None)."""
    group: dict[str, Any] = {
        "_id": {"$dateTrunc": {"date": "$observed_at", "unit": bucket}} if bucket else None,
        "at": {"$max": "$observed_at"},
    }
    for name in names:
        path, currency = _MONEY_PATHS.get(name, (f"$contrib.{name}", None))
        group[f"s_{name}"] = {"$sum": path}
        group[f"p_{name}"] = {"$max": path}  # null when no observation carried it
        if currency:
            group[f"c_{name}"] = {"$addToSet": currency}
    return {"$group": group}


def sums_of(row: Mapping[str, Any], names: Iterable[str]) -> Sums:
    """The Sums of one `$group` result row."""
    names = tuple(names)
    return Sums(
        at=row.get("at"),
        sums={n: Decimal(row.get(f"s_{n}") or 0) for n in names},
        seen=frozenset(n for n in names if row.get(f"p_{n}") is not None),
        currencies={n: frozenset(c for c in row[f"c_{n}"] if c) for n in names if f"c_{n}" in row},
    )


def level_points(buckets: Sequence[Sums], name: str, *, base: Decimal) -> list[Point]:
    """Running total of one component after each bucket, starting from `base`."""
    points: list[Point] = []
    level = base
    for b in buckets:
        level += b.sums.get(name, Decimal(0))
        if b.at is not None:
            points.append((b.at, level))
    return points


def kpi_value(name: str, window: Sums, *, followers_start: Decimal | None) -> Decimal | None:
    """A KPI over a window's totals; followers at its end = level before it + contributions."""
    totals = {n: v for n in KPI_COMPONENTS[name] if n not in _MONEY_PATHS
              if (v := window.get(n)) is not None}  # fmt: skip
    totals.pop("followers", None)
    followers_end = None
    if followers_start is not None or "followers" in window.seen:
        followers_end = (followers_start or Decimal(0)) + window.sums.get("followers", Decimal(0))
    try:
        kpis = compute_kpis(
            totals,
            spend=window.money("spend"),
            revenue=window.money("revenue"),
            followers_start=followers_start,
            followers_end=followers_end,
        )
    except ValueError:  # spend and revenue in different currencies: ROI not defined
        return None
    return kpis.value(name)


def kpi_points(
    name: str, buckets: Sequence[Sums], *, followers_start: Decimal | None
) -> list[Point]:
    """The KPI over [start, t] after each bucket; buckets where it is not defined are skipped."""
    points: list[Point] = []
    window = Sums()
    for b in buckets:
        window = window + b
        value = kpi_value(name, window, followers_start=followers_start)
        if value is not None and b.at is not None:
            points.append((b.at, value))
    return points


# --------------------------------------------------------------------------- repository


def _open_or_closed_since(tenant_id: str, since: datetime) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "$or": [{"open": True}, {"closed_at": {"$gte": since}}]}


class GoalRepository:
    """Goals (one document each, `_id` = goal id) and reads of the observations they measure."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.goals = db[GOALS]
        self.observations = db[BUCKETS]  # read through `indexed_stages`

    # goals ------------------------------------------------------------------------------

    async def insert(self, doc: dict[str, Any]) -> None:
        await self.goals.insert_one(doc)

    async def get(self, tenant_id: str, goal_id: str) -> dict[str, Any] | None:
        return await self.goals.find_one({"_id": goal_id, "tenant_id": tenant_id})

    async def list_goals(
        self,
        tenant_id: str,
        client_id: str | None = None,
        *,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """A page of a tenant's goals, oldest first, optionally of one client and state."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if client_id:
            query["client_id"] = client_id
        if state:
            query["status.state"] = state
        cursor = self.goals.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return await cursor.skip(offset).limit(limit).to_list(None)

    async def count_open(self, tenant_id: str, client_id: str) -> int:
        """How many open goals a client has (the cap on goals is on these)."""
        return await self.goals.count_documents(
            {"tenant_id": tenant_id, "open": True, "client_id": client_id}
        )

    async def count_by_state(self, tenant_id: str, *, since: datetime) -> dict[str, int]:
        """A tenant's open goals and goals closed since `since`, counted by state (goals not
        evaluated yet under "pending")."""
        pipeline: list[dict[str, Any]] = [
            {"$match": _open_or_closed_since(tenant_id, since)},
            {"$group": {"_id": "$status.state", "n": {"$sum": 1}}},
        ]
        cursor = await self.goals.aggregate(pipeline)
        return {str(row["_id"] or "pending"): int(row["n"]) async for row in cursor}

    async def tenants_with_recent_goals(self, *, since: datetime) -> set[str]:
        """Tenants with an open goal or a goal closed since `since`."""
        query = {"$or": [{"open": True}, {"closed_at": {"$gte": since}}]}
        return {str(t) for t in await self.goals.distinct("tenant_id", query)}

    async def delete(self, tenant_id: str, goal_id: str) -> bool:
        result = await self.goals.delete_one({"_id": goal_id, "tenant_id": tenant_id})
        return result.deleted_count == 1

    async def update(
        self,
        goal: Mapping[str, Any],
        changes: Mapping[str, Any],
        *,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """Apply changes if the goal is still at the revision read (False: someone else won)."""
        result = await self.goals.update_one(
            {"_id": goal["_id"], "tenant_id": goal["tenant_id"], "revision": goal["revision"]},
            {"$set": dict(changes), "$inc": {"revision": 1}},
            session=session,
        )
        return result.matched_count == 1

    async def tenants_with_open_goals(self) -> set[str]:
        return {str(t) for t in await self.goals.distinct("tenant_id", {"open": True})}

    async def open_goals_for(self, touched: Iterable[Triple]) -> list[dict[str, Any]]:
        """Open goals of these (tenant, client, platform) triples, in one query."""
        wanted = set(touched)
        if not wanted:
            return []
        query = {
            "tenant_id": {"$in": sorted({t for t, _, _ in wanted})},
            "open": True,
            "client_id": {"$in": sorted({c for _, c, _ in wanted})},
            "platform": {"$in": sorted({p for _, _, p in wanted})},
        }
        docs = await self.goals.find(query).to_list(None)
        return [d for d in docs if (d["tenant_id"], d["client_id"], d["platform"]) in wanted]

    async def due_goals(
        self, tenant_id: str, *, now: datetime, stale_before: datetime
    ) -> list[dict[str, Any]]:
        """Open goals of a tenant that need an evaluation without new data: deadline passed,
        start passed with a provisional baseline, never evaluated, or not evaluated lately."""
        query = {
            "tenant_id": tenant_id,
            "open": True,
            "$or": [
                {"deadline": {"$lte": now}},
                {"resolved": False, "start": {"$lte": now}},
                {"evaluated_at": None},
                {"evaluated_at": {"$lte": stale_before}},
            ],
        }
        return await self.goals.find(query).to_list(None)

    # measured series ----------------------------------------------------------------------

    async def metric_points(
        self,
        tenant_id: str,
        client_id: str,
        platform: str,
        metric: str,
        start: datetime,
        end: datetime,
        *,
        bucket: Bucket | None = None,
        start_level: Decimal | None = None,
    ) -> list[Point]:
        """The goal metric's (time, value) points in [start, end], one per bucket (see module
        doc). `start_level` is the stock level just before start when already known."""
        kind = series_kind(metric)
        names = components(metric)
        rows = await self._sums(
            tenant_id, client_id, platform, names, start, end, bucket or bucket_for(start, end)
        )
        if needs_level(metric) and start_level is None:
            start_level = await self.level_before(
                tenant_id, client_id, platform, level_name(metric), start
            )
        if kind is SeriesKind.KPI:
            return kpi_points(metric, rows, followers_start=start_level)
        base = start_level if kind is SeriesKind.STOCK and start_level is not None else Decimal(0)
        return level_points(rows, metric, base=base)

    async def level_before(
        self, tenant_id: str, client_id: str, platform: str, name: str, at: datetime
    ) -> Decimal | None:
        """A stock's level just before `at` (sum of all earlier contributions); None if never
        reported before."""
        rows = await self._sums(
            tenant_id, client_id, platform, (name,), None, at, None, strict=True
        )
        return rows[0].get(name) if rows else None

    async def window_total(
        self, tenant_id: str, client_id: str, platform: str, metric: str, a: datetime, b: datetime
    ) -> Decimal | None:
        """A flow's total, or a KPI's value, over [a, b); None if unreported or not defined."""
        names = components(metric)
        rows = await self._sums(tenant_id, client_id, platform, names, a, b, None, strict=True)
        window = rows[0] if rows else Sums()
        if series_kind(metric) is not SeriesKind.KPI:
            return window.get(metric)
        followers_start = None
        if "followers" in names:
            followers_start = await self.level_before(
                tenant_id, client_id, platform, "followers", a
            )
        return kpi_value(metric, window, followers_start=followers_start)

    async def _sums(
        self,
        tenant_id: str,
        client_id: str,
        platform: str,
        names: Sequence[str],
        start: datetime | None,
        end: datetime,
        bucket: Bucket | None,
        *,
        strict: bool = False,
    ) -> list[Sums]:
        """Summed contributions of owned entities in [start, end] (end excluded if strict),
        per bucket in time order, or one row over everything when bucket is None."""
        when: dict[str, datetime] = {"$lt" if strict else "$lte": end}
        if start is not None:
            when["$gte"] = start
        match = {
            "tenant_id": tenant_id,
            "client_id": client_id,
            "platform": platform,
            "observed_at": when,
            "owned": True,
        }
        pipeline = [*indexed_stages(match), group_stage(names, bucket), {"$sort": {"_id": 1}}]
        cursor = await self.observations.aggregate(pipeline)
        return [sums_of(row, names) async for row in cursor]
