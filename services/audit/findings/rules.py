"""Findings from an audit (pure and deterministic): each cites the figures behind it and has
an impact, a relative gap, by which findings are ranked (then by kind, platform, metric).

- strength / weakness: an own account above / below the competitors' median on followers,
  follower growth or engagement rate. Impact: |own / median - 1| (growth, a rate itself:
  |own - median|; a zero median: 1).
- frequency_gap: an own account posts less than 3/4 of the competitors' median per week.
  Impact: 1 - own / median.
- neglected_platform: on a platform fewer than half of the competitor brands post in the
  period (absent or silent): an opening. Impact: 1 - active share.
- winning_content_type: on a platform where the client is, the content type with the highest
  median engagements per post among competitors (posted by at least 2 of them, beating their
  median over all types), which the client did not post. Impact: type median / all-types
  median - 1.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.audit.analysis.compare import PlatformComparison, median
from services.audit.analysis.figures import q
from shared.money import ExactDecimal

Kind = Literal[
    "strength", "weakness", "frequency_gap", "neglected_platform", "winning_content_type"
]
KIND_ORDER = {
    "weakness": 0, "frequency_gap": 1, "winning_content_type": 2, "neglected_platform": 3,
    "strength": 4,
}  # fmt: skip
COMPARED = ("followers_end", "follower_growth", "engagement_rate")
LABELS = {
    "followers_end": "followers",
    "follower_growth": "follower growth",
    "engagement_rate": "engagement rate (engagements per post / followers)",
}
FREQUENCY_GAP = Decimal("0.75")
ONE = Decimal(1)


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    platform: str
    metric: str | None = None
    account_id: str | None = None
    impact: ExactDecimal
    summary: str
    figures: dict[str, str]


def _s(v: Decimal | None) -> str:
    return "not defined" if v is None else f"{v.normalize():f}"


def _gap(metric: str, own: Decimal, med: Decimal) -> Decimal:
    if metric == "follower_growth":
        return abs(own - med)
    if med == 0:
        return ONE
    return abs(own / med - 1)


def standing_findings(c: PlatformComparison) -> list[Finding]:
    """Strengths, weaknesses and frequency gaps of each own account on the platform."""
    found = []
    for own in c.own:
        for metric in COMPARED:
            s = own.of(metric)
            if s.value is None or s.competitor_median is None or s.value == s.competitor_median:
                continue
            better = s.value > s.competitor_median
            found.append(
                Finding(
                    kind="strength" if better else "weakness",
                    platform=c.platform,
                    metric=metric,
                    account_id=own.account_id,
                    impact=q(_gap(metric, s.value, s.competitor_median)) or Decimal(0),
                    summary=f"{c.platform} {own.account_id}: {LABELS[metric]} "
                    f"{_s(s.value)} is {'above' if better else 'below'} the competitors' "
                    f"median {_s(s.competitor_median)} (rank {s.rank} of {s.of}, "
                    f"percentile {_s(s.percentile)})",
                    figures={
                        "value": _s(s.value),
                        "competitor_median": _s(s.competitor_median),
                        "rank": str(s.rank),
                        "of": str(s.of),
                        "percentile": _s(s.percentile),
                    },
                )
            )
        freq = own.of("posts_per_week")
        med = freq.competitor_median
        if freq.value is not None and med and freq.value < med * FREQUENCY_GAP:
            found.append(
                Finding(
                    kind="frequency_gap",
                    platform=c.platform,
                    metric="posts_per_week",
                    account_id=own.account_id,
                    impact=q(ONE - freq.value / med) or Decimal(0),
                    summary=f"{c.platform} {own.account_id}: {_s(freq.value)} posts a week "
                    f"against the competitors' median of {_s(med)}",
                    figures={"posts_per_week": _s(freq.value), "competitor_median": _s(med)},
                )
            )
    return found


def winning_type(c: PlatformComparison) -> Finding | None:
    """The competitors' best content type on the platform, if the client did not use it."""
    if not c.own:
        return None
    eligible = {
        t: m for t, m in c.competitor_type_medians.items() if c.competitors_posting_type[t] >= 2
    }
    if not eligible:
        return None
    best = min(eligible, key=lambda t: (-eligible[t], t))
    overall = median(
        [a.engagements_per_post for a in c.accounts if not a.owned and a.engagements_per_post]
    )
    used = any(a.type_mix.get(best, 0) for a in c.accounts if a.owned)
    if used or not overall or eligible[best] <= overall:
        return None
    return Finding(
        kind="winning_content_type",
        platform=c.platform,
        metric="engagements_per_post",
        impact=q(eligible[best] / overall - 1) or Decimal(0),
        summary=f"{c.platform}: competitors' {best} posts earn a median of "
        f"{_s(eligible[best])} engagements per post against {_s(overall)} over all their "
        f"posts; the client posted no {best}",
        figures={
            "content_type": best, "type_median": _s(eligible[best]),
            "all_types_median": _s(overall),
            "competitors_posting": str(c.competitors_posting_type[best]),
        },
    )  # fmt: skip


def neglected(
    platform: str, brands: set[str], active: set[str], own_active: bool
) -> Finding | None:
    """An opening: fewer than half of the competitor brands post on the platform."""
    if not brands:
        return None
    share = Decimal(len(active & brands)) / len(brands)
    if share >= Decimal("0.5"):
        return None
    you = "you post there" if own_active else "you are not there either"
    return Finding(
        kind="neglected_platform",
        platform=platform,
        impact=q(ONE - share) or Decimal(0),
        summary=f"{platform}: only {len(active & brands)} of {len(brands)} competitors post "
        f"there in the period ({you}): an opening",
        figures={
            "active_competitors": str(len(active & brands)), "competitors": str(len(brands)),
            "active_share": _s(q(share)),
        },
    )  # fmt: skip


def rank(findings: list[Finding]) -> list[Finding]:
    """Highest impact first; ties by kind, platform, metric, account (deterministic)."""
    return sorted(
        findings,
        key=lambda f: (
            -f.impact,
            KIND_ORDER[f.kind],
            f.platform,
            f.metric or "",
            f.account_id or "",
        ),
    )
