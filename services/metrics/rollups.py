"""Rollups and KPIs over stored contributions (pure): what a KPI query groups by, and how one
group's sums become totals and KPIs exactly as DOMAIN.md defines them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.metrics.kpis import KpiSet, compute_kpis
from services.metrics.registry import METRICS, MetricKind, MetricTag
from shared.money import ExactDecimal, Money


class GroupBy(StrEnum):
    """Dimensions a KPI query can group by (each is a field of the stored observation)."""

    NONE = "none"
    CLIENT = "client"
    PLATFORM = "platform"
    POST = "post"
    CONTENT_TYPE = "content_type"
    PILLAR = "pillar"
    STAGE = "stage"  # customer-journey stage of the post (from the calendar)
    ACCOUNT = "account"
    ENTITY_LEVEL = "entity_level"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


FIELD: dict[GroupBy, str | None] = {
    GroupBy.NONE: None,
    GroupBy.CLIENT: "client_id",
    GroupBy.PLATFORM: "platform",
    GroupBy.POST: "post_id",
    GroupBy.CONTENT_TYPE: "content_type",
    GroupBy.PILLAR: "pillar",
    GroupBy.STAGE: "stage",
    GroupBy.ACCOUNT: "account_id",
    GroupBy.ENTITY_LEVEL: "entity_level",
    GroupBy.DAY: "day",
    GroupBy.WEEK: "week",
    GroupBy.MONTH: "month",
}
# group_by day/week/month read in another zone than UTC: keys formed from each value's `at`
# in the query (the stored day/week/month keys are UTC), the same text forms as the stored ones.
LOCAL_FORMAT: dict[GroupBy, str] = {
    GroupBy.DAY: "%Y-%m-%d",
    GroupBy.WEEK: "%G-W%V",
    GroupBy.MONTH: "%Y-%m",
}


def group_key(group_by: GroupBy, zone: str | None) -> str | dict[str, Any] | None:
    """The stored field to group on, or for a calendar group in a zone other than UTC, the
    expression forming that key from `at` in the zone."""
    if zone and zone != "UTC" and group_by in LOCAL_FORMAT:
        return {"$dateToString": {"format": LOCAL_FORMAT[group_by], "date": "$at",
                                  "timezone": zone}}  # fmt: skip
    return FIELD[group_by]


STOCK = tuple(name for name, m in METRICS.items() if m.kind is MetricKind.STOCK)


class GroupKpis(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str | None
    observations: int
    totals: dict[str, ExactDecimal]
    bases: dict[str, str] = Field(
        default_factory=dict,
        description="How each total was formed from windows and entities (see the README's "
        "metric kinds), e.g. reach: 'sum of per-post lifetime reach (an upper bound ...)'.",
    )
    tags: dict[str, MetricTag]
    spend: Money | None
    revenue: Money | None
    kpis: KpiSet


class KpiReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str | None
    platform: str | None
    start: datetime
    end: datetime
    group_by: GroupBy
    groups: list[GroupKpis]
    notes: list[str]


def group_kpis(
    key: str | None,
    sums: Mapping[str, Any],
    *,
    levels_start: Mapping[str, Decimal],
    levels_end: Mapping[str, Decimal],
    currency: str | None,
    bases: Mapping[str, str] | None = None,
) -> GroupKpis:
    """One group's totals and KPIs. Flow metrics are sums over the window; stock metrics
    (followers) are levels at the window's end, with growth measured from its start."""
    totals = {m: Decimal(sums.get(m) or 0) for m in METRICS if sums.get(m)}
    bases = {m: b for m, b in (bases or {}).items() if m in totals}
    for m in STOCK:
        totals.pop(m, None)
        if m in levels_end:
            totals[m] = levels_end[m]
            bases[m] = "level at the end of the period"
    spend = Money(amount=Decimal(sums.get("spend") or 0), currency=currency) if currency else None
    revenue_sum = sums.get("revenue")
    revenue = (
        Money(amount=Decimal(revenue_sum), currency=currency)
        if currency and revenue_sum is not None and sums.get("revenue_seen")
        else None
    )
    return GroupKpis(
        key=key,
        observations=int(sums.get("observations", 0)),
        totals=totals,
        bases=bases,
        tags={m: METRICS[m].tag for m in totals},
        spend=spend,
        revenue=revenue,
        kpis=compute_kpis(
            totals,
            spend=spend,
            revenue=revenue,
            followers_start=levels_start.get("followers"),
            followers_end=levels_end.get("followers"),
            bases=bases,
        ),
    )
