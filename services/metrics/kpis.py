"""KPI formulas exactly as DOMAIN.md defines them, over metric totals. A ratio whose denominator
is zero or unknown is "not defined" (None): never 0, never an exception. Exact Decimal throughout.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.metrics.registry import MetricTag
from shared.money import Money

if TYPE_CHECKING:
    from collections.abc import Mapping

Count = Decimal | int
EngagementBase = Literal["impressions", "reach", "followers"]

ENGAGEMENT_PARTS = ("likes", "comments", "shares", "saves")
PLATFORM_ENGAGEMENT = "engagement"  # a platform's own total, used only without the parts

# Exposure-priced or popularity KPIs are vanity; KPIs of audience actions are behavioural.
KPI_TAGS: dict[str, MetricTag] = {
    "engagement_rate_impressions": MetricTag.BEHAVIOURAL,
    "engagement_rate_reach": MetricTag.BEHAVIOURAL,
    "engagement_rate_followers": MetricTag.BEHAVIOURAL,
    "ctr": MetricTag.BEHAVIOURAL,
    "cpc": MetricTag.BEHAVIOURAL,
    "cpl": MetricTag.BEHAVIOURAL,
    "cpm": MetricTag.VANITY,
    "lead_conversion_rate": MetricTag.BEHAVIOURAL,
    "follower_growth": MetricTag.VANITY,
    "roi": MetricTag.BEHAVIOURAL,
}
KPI_NAMES: tuple[str, ...] = tuple(KPI_TAGS)


class Rate(BaseModel):
    """A ratio KPI with the names of what it divided; value None means not defined."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: Decimal | None = Field(description="Exact fraction (0.05 = 5%); None: not defined.")
    numerator: str
    denominator: str | None = Field(description="What was divided by; None if nothing known.")
    tag: MetricTag
    basis: str | None = Field(
        default=None,
        description="How the numerator or denominator was formed where it is not a plain sum "
        "(e.g. reach: 'sum of per-post lifetime reach'; engagements: the platform's total).",
    )


class Cost(BaseModel):
    """A money-per-unit KPI (CPC, CPL, CPM) in the spend's currency; value None: not defined."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: Money | None
    denominator: str
    tag: MetricTag


class KpiSet(BaseModel):
    """Every KPI of DOMAIN.md for one set of totals."""

    model_config = ConfigDict(frozen=True)

    engagements: Decimal | None = Field(description="likes + comments + shares + saves.")
    engagement_rate_impressions: Rate
    engagement_rate_reach: Rate
    engagement_rate_followers: Rate
    ctr: Rate
    lead_conversion_rate: Rate
    follower_growth: Rate
    roi: Rate
    cpc: Cost
    cpl: Cost
    cpm: Cost

    def value(self, name: str) -> Decimal | None:
        """A KPI's value by name as a Decimal (money KPIs: the amount); None if not defined."""
        if name not in KPI_TAGS:
            raise ValueError(f"unknown KPI '{name}'")
        kpi: Rate | Cost = getattr(self, name)
        if isinstance(kpi, Cost):
            return kpi.value.amount if kpi.value is not None else None
        return kpi.value


def ratio(numerator: Count | None, denominator: Count | None) -> Decimal | None:
    """numerator / denominator, or None when either is unknown or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return Decimal(numerator) / Decimal(denominator)


def engagements(totals: Mapping[str, Decimal]) -> Decimal | None:
    """likes + comments + shares + saves, plus the platform's own engagement total (legacy
    Instagram `engagement`) where one was reported; None if neither.

    A platform total is stored only for an observation that lacks its components (adapters
    skip it otherwise, and `ingest` drops it for every other way in), so the two never count
    the same interaction twice: a legacy post's 143 and a current post's likes add up."""
    parts = [Decimal(totals[name]) for name in ENGAGEMENT_PARTS if totals.get(name) is not None]
    reported = totals.get(PLATFORM_ENGAGEMENT)
    if reported is not None:
        parts.append(Decimal(reported))
    return sum(parts, Decimal(0)) if parts else None


def engagements_basis(totals: Mapping[str, Decimal]) -> str | None:
    """How `engagements` was formed, when not only from its parts."""
    if totals.get(PLATFORM_ENGAGEMENT) is None:
        return None
    if any(totals.get(name) is not None for name in ENGAGEMENT_PARTS):
        return (
            "engagements: likes + comments + shares + saves, plus the platform's reported "
            "engagement total for items whose components were not reported"
        )
    return "engagements: the platform's reported engagement total (components not reported)"


def engagement_rate(
    *,
    engagements: Count | None,
    denominator: Count | None,
    by: EngagementBase,
    basis: str | None = None,
) -> Rate:
    """engagements / impressions, reach or followers; the denominator is named in the result,
    and `basis` says how a figure was formed where it is not a plain sum."""
    name = f"engagement_rate_{by}"
    return Rate(
        name=name,
        value=ratio(engagements, denominator),
        numerator="engagements",
        denominator=by,
        tag=KPI_TAGS[name],
        basis=basis,
    )


def ctr(*, clicks: Count | None, impressions: Count | None) -> Decimal | None:
    """Click-through rate: clicks / impressions."""
    return ratio(clicks, impressions)


def cpc(*, spend: Money | None, clicks: Count | None) -> Money | None:
    """Cost per click: spend / clicks, in the spend's currency."""
    return _cost(spend, clicks)


def cpl(*, spend: Money | None, leads: Count | None) -> Money | None:
    """Cost per lead: spend / leads, in the spend's currency."""
    return _cost(spend, leads)


def cpm(*, spend: Money | None, impressions: Count | None) -> Money | None:
    """Cost per mille: spend / impressions * 1000, in the spend's currency."""
    return _cost(spend, impressions, per=1000)


def lead_conversion_rate(
    *, leads: Count | None, visits: Count | None, clicks: Count | None = None
) -> Rate:
    """leads / visits from social, or leads / clicks when visits are unknown (named in result)."""
    denominator, by = (visits, "visits") if visits is not None else (clicks, "clicks")
    return Rate(
        name="lead_conversion_rate",
        value=ratio(leads, denominator),
        numerator="leads",
        denominator=by if denominator is not None else None,
        tag=KPI_TAGS["lead_conversion_rate"],
    )


def follower_growth(*, start: Count | None, end: Count | None) -> Decimal | None:
    """(followers_end - followers_start) / followers_start."""
    if start is None or end is None:
        return None
    return ratio(Decimal(end) - Decimal(start), start)


def roi(*, spend: Money | None, revenue: Money | None) -> Decimal | None:
    """(revenue - spend) / spend, only where revenue is known; mixed currencies raise."""
    if spend is None or revenue is None:
        return None
    return ratio((revenue - spend).amount, spend.amount)


def compute_kpis(
    totals: Mapping[str, Decimal],
    *,
    spend: Money | None = None,
    revenue: Money | None = None,
    followers_start: Count | None = None,
    followers_end: Count | None = None,
    bases: Mapping[str, str] | None = None,
) -> KpiSet:
    """Every KPI from canonical metric totals; followers_end defaults to totals['followers'].
    `bases` says how totals were formed (see `aggregation`); rates divided by reach carry it."""
    total = totals.get
    engaged = engagements(totals)
    bases = bases or {}

    def basis_of(denominator: str) -> str | None:
        said = [b for b in (engagements_basis(totals),) if b]
        if denominator == "reach" and "reach" in bases:
            said.append(f"reach: {bases['reach']}")
        return "; ".join(said) or None

    followers = followers_end if followers_end is not None else total("followers")

    def rate(name: str, value: Decimal | None, numerator: str, denominator: str) -> Rate:
        return Rate(
            name=name,
            value=value,
            numerator=numerator,
            denominator=denominator,
            tag=KPI_TAGS[name],
        )

    def cost(name: str, value: Money | None, denominator: str) -> Cost:
        return Cost(name=name, value=value, denominator=denominator, tag=KPI_TAGS[name])

    return KpiSet(
        engagements=engaged,
        engagement_rate_impressions=engagement_rate(
            engagements=engaged,
            denominator=total("impressions"),
            by="impressions",
            basis=basis_of("impressions"),
        ),
        engagement_rate_reach=engagement_rate(
            engagements=engaged, denominator=total("reach"), by="reach", basis=basis_of("reach")
        ),
        engagement_rate_followers=engagement_rate(
            engagements=engaged,
            denominator=followers,
            by="followers",
            basis=basis_of("followers"),
        ),
        ctr=rate(
            "ctr",
            ctr(clicks=total("clicks"), impressions=total("impressions")),
            "clicks",
            "impressions",
        ),
        lead_conversion_rate=lead_conversion_rate(
            leads=total("leads"), visits=total("visits"), clicks=total("clicks")
        ),
        follower_growth=rate(
            "follower_growth",
            follower_growth(start=followers_start, end=followers),
            "followers_end - followers_start",
            "followers_start",
        ),
        roi=rate("roi", roi(spend=spend, revenue=revenue), "revenue - spend", "spend"),
        cpc=cost("cpc", cpc(spend=spend, clicks=total("clicks")), "clicks"),
        cpl=cost("cpl", cpl(spend=spend, leads=total("leads")), "leads"),
        cpm=cost("cpm", cpm(spend=spend, impressions=total("impressions")), "impressions / 1000"),
    )


def _cost(spend: Money | None, count: Count | None, *, per: int = 1) -> Money | None:
    """spend * per / count in the spend's currency; exact, rounded only when displayed."""
    if spend is None or count is None or count == 0:
        return None
    return Money(amount=spend.amount * per / Decimal(count), currency=spend.currency)
