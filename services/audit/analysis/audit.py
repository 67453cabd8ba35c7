"""An audit of a client's accounts against its competitors over a period: figures per account,
standings per platform, the trend against the previous period, top posts and findings. Reads
only the read model's aggregates (never raw observations)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.audit.accounts.models import AUDIENCE_PLATFORMS, Account
from services.audit.analysis.compare import PlatformComparison, compare
from services.audit.analysis.figures import (
    ENGAGEMENT_RATE_DENOMINATOR,
    AccountFigures,
    account_figures,
    ratio,
)
from services.audit.analysis.period import Period
from services.audit.findings.rules import Finding, neglected, rank, standing_findings, winning_type
from services.audit.readmodel.repository import ReadModel
from shared.money import ExactDecimal

TOP_POSTS = 5
TREND_METRICS = ("followers_end", "posts_per_week", "engagements", "engagement_rate")
DEFINITIONS = {
    "engagements": "likes + comments + shares + saves",
    "engagement_rate": ENGAGEMENT_RATE_DENOMINATOR,
    "rank": "competition ranking (1224) within the group on the platform, 1 = highest",
    "percentile": "weak percentile rank: percent of the group's values at or below the "
    "account's (scipy.stats.percentileofscore kind='weak')",
    "share_of_voice": "the client's own accounts' share of the group's posts and engagements "
    "on the platform",
    "follower_growth": "(followers_end - followers_start) / followers_start, first and last "
    "reading in the period",
    "posts_per_week": "posts in the period * 7 / days in the period",
    "post_day": "a post counts on the UTC day it was first observed",
}


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    current: ExactDecimal | None
    previous: ExactDecimal | None
    change: ExactDecimal | None
    relative_change: ExactDecimal | None


class Trend(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    account_id: str
    changes: list[Change]


class TopPost(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    account_id: str
    owned: bool
    entity_id: str
    content_type: str
    day: str
    engagements: ExactDecimal


class Audit(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str
    client_name: str
    group: str | None
    period: Period
    previous_period: Period
    definitions: dict[str, str]
    platforms: list[PlatformComparison]
    trend: list[Trend]
    top_posts: list[TopPost]
    findings: list[Finding]


async def figures_for(
    reads: ReadModel,
    tenant_id: str,
    client_id: str,
    accounts: list[Account],
    period: Period,
    *,
    summaries: bool = True,
) -> tuple[list[AccountFigures], list[dict[str, Any]]]:
    """Each account's figures over the period (year summaries for whole calendar years, month
    buckets for other whole months, day buckets for the rest; `summaries=False`: no year
    summaries, the same figures from more documents), and the buckets' top posts published
    within the period."""
    keys = {(a.platform.value, a.account_id) for a in accounts}
    years, months, days = period.split_years() if summaries else ([], *period.split())
    rows = await reads.years_for(tenant_id, client_id, years=years, accounts=keys)
    rows += await reads.months_for(tenant_id, client_id, months=months, accounts=keys)
    rows += await reads.days_for(tenant_id, client_id, days=days, accounts=keys)
    by_account: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    top: list[dict[str, Any]] = []
    first, last = period.start.isoformat(), period.end.isoformat()
    for r in rows:
        by_account[(r["platform"], r["account_id"])].append(r)
        top += [
            {"entity_id": t[0], "content_type": t[1], "day": t[2], "engagements": t[3],
             "platform": r["platform"], "account_id": r["account_id"]}
            for t in r.get("top", [])
            if first <= t[2] <= last
        ]  # fmt: skip
    figures = [
        account_figures(
            platform=a.platform.value, account_id=a.account_id, name=a.name, owned=a.owned,
            days=period.days, buckets=by_account.get((a.platform.value, a.account_id), []),
        )
        for a in accounts
    ]  # fmt: skip
    return figures, top


def top_posts(candidates: list[dict[str, Any]], owned: set[tuple[str, str]]) -> list[TopPost]:
    """The TOP_POSTS posts with most engagements per platform (ties: by post id)."""
    unique = {(c["platform"], c["account_id"], c["entity_id"]): c for c in candidates}
    by_platform: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in unique.values():
        by_platform[c["platform"]].append(c)
    out = []
    for platform in sorted(by_platform):
        ranked = sorted(
            by_platform[platform], key=lambda c: (-Decimal(c["engagements"]), c["entity_id"])
        )
        out += [
            TopPost(
                platform=platform, account_id=c["account_id"],
                owned=(platform, c["account_id"]) in owned, entity_id=c["entity_id"],
                content_type=c["content_type"], day=c["day"], engagements=c["engagements"],
            )
            for c in ranked[:TOP_POSTS]
        ]  # fmt: skip
    return out


def trend(current: list[AccountFigures], previous: list[AccountFigures]) -> list[Trend]:
    """Each own account's figures against the previous period."""
    before = {(f.platform, f.account_id): f for f in previous}
    out = []
    for f in current:
        if not f.owned:
            continue
        p = before[(f.platform, f.account_id)]
        changes = []
        for m in TREND_METRICS:
            now, then = getattr(f, m), getattr(p, m)
            delta = None if now is None or then is None else Decimal(now) - Decimal(then)
            changes.append(
                Change(
                    metric=m,
                    current=now,
                    previous=then,
                    change=delta,
                    relative_change=ratio(delta, Decimal(then))
                    if delta is not None and then
                    else None,
                )
            )
        out.append(Trend(platform=f.platform, account_id=f.account_id, changes=changes))
    return out


def findings(comparisons: list[PlatformComparison], figures: list[AccountFigures]) -> list[Finding]:
    """Every finding of the audit, ranked by impact."""
    found: list[Finding] = []
    for c in comparisons:
        found += standing_findings(c)
        if (w := winning_type(c)) is not None:
            found.append(w)
    brands = {f.name or f.account_id for f in figures if not f.owned}
    for p in AUDIENCE_PLATFORMS:
        on = [f for f in figures if f.platform == p.value]
        active = {f.name or f.account_id for f in on if not f.owned and f.posts > 0}
        own_active = any(f.owned and f.posts > 0 for f in on)
        if (n := neglected(p.value, brands, active, own_active)) is not None:
            found.append(n)
    return rank(found)


async def run_audit(
    *,
    reads: ReadModel,
    tenant_id: str,
    client: dict[str, Any],
    accounts: list[Account],
    group: str | None,
    period: Period,
    summaries: bool = True,
) -> Audit:
    """The audit of the client's accounts in scope (a group's, or all) over the period
    (`summaries=False`: without the year summaries, to check them against the months)."""
    client_id = client["client_id"]
    current, candidates = await figures_for(
        reads, tenant_id, client_id, accounts, period, summaries=summaries
    )
    previous, _ = await figures_for(
        reads, tenant_id, client_id, accounts, period.previous(), summaries=summaries
    )
    by_platform: dict[str, list[AccountFigures]] = defaultdict(list)
    for f in current:
        by_platform[f.platform].append(f)
    comparisons = [compare(p, by_platform[p]) for p in sorted(by_platform)]
    owned = {(a.platform.value, a.account_id) for a in accounts if a.owned}
    top = top_posts(candidates, owned)
    return Audit(
        client_id=client_id,
        client_name=client.get("name", client_id),
        group=group,
        period=period,
        previous_period=period.previous(),
        definitions=DEFINITIONS,
        platforms=comparisons,
        trend=trend(current, previous),
        top_posts=top,
        findings=findings(comparisons, current),
    )
