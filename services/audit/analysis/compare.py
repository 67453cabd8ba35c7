"""Where each own account stands in its group on one platform (pure).

- rank: competition ranking ("1224"), 1 = the highest value; accounts without a value for a
  metric are left out of that metric.
- percentile: the weak percentile rank, the share of the group's values at or below the
  account's (as `scipy.stats.percentileofscore(values, x, kind="weak")`), 0-100.
- share of voice: the client's own accounts' share of the group's posts, and of its
  engagements, on the platform (None when the group has none).
- competitor median: `statistics.median` of the competitors' values.
"""

from __future__ import annotations

import statistics
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from services.audit.analysis.figures import AccountFigures, q, ratio
from shared.money import ExactDecimal

RANKED = ("followers_end", "follower_growth", "posts_per_week", "engagement_rate", "engagements")


def value(f: AccountFigures, metric: str) -> Decimal | None:
    v = getattr(f, metric)
    return None if v is None else Decimal(v)


def competition_rank(x: Decimal, values: list[Decimal]) -> int:
    """1 + how many values are strictly higher."""
    return 1 + sum(1 for v in values if v > x)


def weak_percentile(x: Decimal, values: list[Decimal]) -> Decimal:
    """Percent of values at or below x."""
    return q(Decimal(100) * sum(1 for v in values if v <= x) / len(values)) or Decimal(0)


def median(values: list[Decimal]) -> Decimal | None:
    return q(statistics.median(values)) if values else None


class Standing(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    value: ExactDecimal | None
    rank: int | None
    of: int
    percentile: ExactDecimal | None
    competitor_median: ExactDecimal | None


class OwnStanding(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: str
    standings: list[Standing]

    def of(self, metric: str) -> Standing:
        return next(s for s in self.standings if s.metric == metric)


class PlatformComparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    accounts: list[AccountFigures]
    own: list[OwnStanding]
    share_of_posts: ExactDecimal | None
    share_of_engagements: ExactDecimal | None
    competitor_medians: dict[str, ExactDecimal | None]
    competitor_type_medians: dict[str, ExactDecimal]  # engagements per post, per content type
    competitors_posting_type: dict[str, int]


def compare(platform: str, accounts: list[AccountFigures]) -> PlatformComparison:
    """Ranks, percentiles, medians and share of voice of one platform's group."""
    accounts = sorted(accounts, key=lambda a: (not a.owned, a.account_id))
    competitors = [a for a in accounts if not a.owned]
    medians = {
        m: median([v for a in competitors if (v := value(a, m)) is not None]) for m in RANKED
    }
    own = []
    for a in accounts:
        if not a.owned:
            continue
        standings = []
        for m in RANKED:
            values = [v for b in accounts if (v := value(b, m)) is not None]
            x = value(a, m)
            standings.append(
                Standing(
                    metric=m,
                    value=x,
                    rank=competition_rank(x, values) if x is not None else None,
                    of=len(values),
                    percentile=weak_percentile(x, values) if x is not None else None,
                    competitor_median=medians[m],
                )
            )
        own.append(OwnStanding(account_id=a.account_id, standings=standings))
    types = sorted({t for a in competitors for t in a.type_mix})
    type_medians: dict[str, Decimal] = {}
    posting: dict[str, int] = {}
    for t in types:
        per_post = [v for a in competitors if (v := a.engagements_per_post_of(t)) is not None]
        posting[t] = len(per_post)
        if per_post:
            type_medians[t] = median(per_post) or Decimal(0)
    own_posts = sum(a.posts for a in accounts if a.owned)
    own_eng = sum((a.engagements for a in accounts if a.owned), Decimal(0))
    return PlatformComparison(
        platform=platform,
        accounts=accounts,
        own=own,
        share_of_posts=ratio(Decimal(own_posts), Decimal(sum(a.posts for a in accounts))),
        share_of_engagements=ratio(own_eng, sum((a.engagements for a in accounts), Decimal(0))),
        competitor_medians=medians,
        competitor_type_medians=type_medians,
        competitors_posting_type=posting,
    )
