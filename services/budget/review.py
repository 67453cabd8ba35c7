"""Performance per euro and the quarterly review (pure): plan vs actual per category, KPIs per
channel (DOMAIN.md formulas; a ratio with a zero or unknown denominator is None), and a
suggestion to move money from the channel with the worst cost per goal unit to the best,
within the minimum and maximum shares the agency sets."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from services.budget.models import Budget
from shared.money import Money

ENGAGEMENT_PARTS = ("likes", "comments", "shares", "saves")


def _ratio(num: Decimal | None, den: Decimal | None, scale: int = 1) -> Decimal | None:
    if num is None or den is None or den == 0:
        return None
    return num * scale / den


def kpis(spend: Decimal, counts: Mapping[str, Decimal]) -> dict[str, Decimal | None]:
    """CPL, CPC, CPM, cost per engagement and ROI (revenue known) of `spend`."""
    parts = [counts[p] for p in ENGAGEMENT_PARTS if p in counts]
    engagements = sum(parts, Decimal(0)) if parts else None
    revenue = counts.get("revenue")
    return {
        "cpl": _ratio(spend, counts.get("leads")),
        "cpc": _ratio(spend, counts.get("clicks")),
        "cpm": _ratio(spend, counts.get("impressions"), 1000),
        "cost_per_engagement": _ratio(spend, engagements),
        "roi": _ratio(revenue - spend, spend) if revenue is not None else None,
    }


GOAL_KPI = {
    "leads": "cpl",
    "clicks": "cpc",
    "impressions": "cpm",
    "engagements": "cost_per_engagement",
}


def _q(value: Decimal | None, places: str = "0.0001") -> str | None:
    return None if value is None else str(value.quantize(Decimal(places)))


def performance(
    key: str, spend: Mapping[str, Decimal], counts: Mapping[str, Mapping[str, Decimal]]
) -> list[dict[str, str | None]]:
    """One row per `key` value (campaign or pillar) with its spend and KPIs (null when
    undefined), sorted by that value."""
    rows = []
    for name in sorted(set(spend) | set(counts)):
        s = spend.get(name, Decimal(0))
        k = kpis(s, counts.get(name, {}))
        row: dict[str, str | None] = {key: name, "spend": str(s)}
        rows.append(row | {n: _q(v) for n, v in k.items()})
    return rows


def review(
    budget: Budget,
    *,
    spend_by_category: Mapping[str, Decimal],
    spend_by_platform: Mapping[str, Decimal],
    counts_by_platform: Mapping[str, Mapping[str, Decimal]],
    spend_by_campaign: Mapping[str, Decimal] | None = None,
    counts_by_campaign: Mapping[str, Mapping[str, Decimal]] | None = None,
    spend_by_pillar: Mapping[str, Decimal] | None = None,
    counts_by_pillar: Mapping[str, Mapping[str, Decimal]] | None = None,
    goal: str,
    min_share_pct: Decimal,
    max_share_pct: Decimal,
    shift_pct: Decimal,
) -> dict[str, Any]:
    """The review document (JSON-ready: money and ratios as strings)."""
    cur = budget.limit.currency
    limit = budget.limit.amount
    plan_by_cat: dict[str, Decimal] = {}
    for a in budget.allocations:
        plan_by_cat[a.category.value] = plan_by_cat.get(a.category.value, Decimal(0)) + (
            a.planned_amount.amount
        )
    categories = [
        {
            "category": cat,
            "planned": str(plan_by_cat.get(cat, Decimal(0))),
            "actual": str(spend_by_category.get(cat, Decimal(0))),
            "variance": str(
                spend_by_category.get(cat, Decimal(0)) - plan_by_cat.get(cat, Decimal(0))
            ),
        }
        for cat in sorted(set(plan_by_cat) | set(spend_by_category))
    ]
    channels = []
    costs: dict[str, Decimal] = {}
    for platform in sorted(set(spend_by_platform) | set(counts_by_platform)):
        spend = spend_by_platform.get(platform, Decimal(0))
        k = kpis(spend, counts_by_platform.get(platform, {}))
        row: dict[str, str | None] = {"platform": platform, "spend": str(spend)}
        channels.append(row | {n: _q(v) for n, v in k.items()})
        cost = k[GOAL_KPI[goal]]
        if cost is not None and spend > 0:
            costs[platform] = cost
    planned_by_platform: dict[str, Decimal] = {}
    for a in budget.allocations:
        if a.platform is not None:
            key = a.platform.value
            planned_by_platform[key] = (
                planned_by_platform.get(key, Decimal(0)) + a.planned_amount.amount
            )
    suggestions = []
    ranked = sorted((c, p) for p, c in costs.items() if p in planned_by_platform)
    if len(ranked) >= 2:
        (best_cost, best), (worst_cost, worst) = ranked[0], ranked[-1]
        if worst_cost > best_cost:
            floor = limit * min_share_pct / 100
            ceiling = limit * max_share_pct / 100
            amount = min(
                planned_by_platform[worst] * shift_pct / 100,
                planned_by_platform[worst] - floor,
                ceiling - planned_by_platform[best],
            )
            amount = Money(amount=max(amount, Decimal(0)), currency=cur).rounded().amount
            if amount > 0:
                suggestions.append(
                    {
                        "move": str(amount),
                        "currency": cur,
                        "from_platform": worst,
                        "to_platform": best,
                        "because": {
                            "goal": goal,
                            "kpi": GOAL_KPI[goal],
                            "from_cost": _q(worst_cost),
                            "to_cost": _q(best_cost),
                            "from_planned": str(planned_by_platform[worst]),
                            "to_planned": str(planned_by_platform[best]),
                            "min_share_pct": str(min_share_pct),
                            "max_share_pct": str(max_share_pct),
                            "shift_pct": str(shift_pct),
                        },
                    }
                )
    return {
        "budget_id": budget.budget_id,
        "client_id": budget.client_id,
        "period_start": budget.period_start.isoformat(),
        "period_end": budget.period_end.isoformat(),
        "currency": cur,
        "limit": str(limit),
        "spent": str(budget.spent.amount),
        "categories": categories,
        "channels": channels,
        "campaigns": performance("campaign", spend_by_campaign or {}, counts_by_campaign or {}),
        "pillars": performance("pillar", spend_by_pillar or {}, counts_by_pillar or {}),
        "suggestions": suggestions,
    }


KPI_COLUMNS = ("cpl", "cpc", "cpm", "cost_per_engagement", "roi")


def review_csv(doc: Mapping[str, Any]) -> str:
    """The review as CSV: one section per table (section,key,columns...)."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "name", "planned", "actual", "variance"])
    for c in doc["categories"]:
        w.writerow(["category", c["category"], c["planned"], c["actual"], c["variance"]])
    w.writerow(["section", "platform", "spend", "cpl", "cpc", "cpm", "cost_per_engagement", "roi"])
    for ch in doc["channels"]:
        w.writerow(["channel", ch["platform"], ch["spend"], ch["cpl"], ch["cpc"], ch["cpm"],
                    ch["cost_per_engagement"], ch["roi"]])  # fmt: skip
    w.writerow(
        ["section", "from_platform", "to_platform", "move", "currency", "from_cost", "to_cost"]
    )
    for s in doc["suggestions"]:
        b = s["because"]
        w.writerow(["suggestion", s["from_platform"], s["to_platform"], s["move"], s["currency"],
                    b["from_cost"], b["to_cost"]])  # fmt: skip
    for key, rows in (("campaign", doc.get("campaigns", [])), ("pillar", doc.get("pillars", []))):
        w.writerow(["section", key, "spend", *KPI_COLUMNS])
        for row in rows:
            w.writerow([key, row[key], row["spend"], *(row[k] for k in KPI_COLUMNS)])
    return out.getvalue()
