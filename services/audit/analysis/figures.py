"""Per-account figures over a period (pure), from the read model's buckets.

Engagements are likes + comments + shares + saves. The engagement rate is stated with its
denominator: engagements per post divided by the followers at the end of the period (the
only denominator a competitor's public account offers; impressions and reach are private).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.money import ExactDecimal

ENGAGEMENT_RATE_DENOMINATOR = "engagements per post / followers at the end of the period"
PLACES = Decimal("0.000001")
ZERO = Decimal(0)


def q(value: Decimal | None) -> Decimal | None:
    """A computed ratio rounded to 6 places (half even, trailing zeros dropped); None stays
    None (not defined)."""
    return None if value is None else value.quantize(PLACES, rounding=ROUND_HALF_EVEN).normalize()


def ratio(num: Decimal, den: Decimal | None) -> Decimal | None:
    """num / den, or None (not defined) when the denominator is zero or unknown."""
    return q(num / den) if den else None


class AccountFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    account_id: str
    name: str
    owned: bool
    followers_start: ExactDecimal | None
    followers_end: ExactDecimal | None
    follower_growth: ExactDecimal | None
    posts: int
    posts_per_week: ExactDecimal
    type_mix: dict[str, int]
    engagements: ExactDecimal
    engagements_by_type: dict[str, ExactDecimal]
    engagements_per_post: ExactDecimal | None
    engagement_rate: ExactDecimal | None
    engagement_rate_denominator: str = ENGAGEMENT_RATE_DENOMINATOR

    def engagements_per_post_of(self, content_type: str) -> Decimal | None:
        posts = self.type_mix.get(content_type, 0)
        return ratio(self.engagements_by_type.get(content_type, ZERO), Decimal(posts))


def account_figures(
    *,
    platform: str,
    account_id: str,
    name: str,
    owned: bool,
    days: int,
    buckets: Iterable[dict[str, Any]],
) -> AccountFigures:
    """One account's figures from its day/month buckets within the period."""
    mix: dict[str, int] = {}
    by_type: dict[str, Decimal] = {}
    first: tuple[Any, Decimal] | None = None
    last: tuple[Any, Decimal] | None = None
    for b in buckets:
        for ct, row in b.get("types", {}).items():
            mix[ct] = mix.get(ct, 0) + int(row.get("posts", 0))
            by_type[ct] = by_type.get(ct, ZERO) + Decimal(row.get("engagements", ZERO))
        if b.get("followers_first_at") is not None and (
            first is None or b["followers_first_at"] < first[0]
        ):
            first = (b["followers_first_at"], Decimal(b["followers_first"]))
        if b.get("followers_last_at") is not None and (
            last is None or b["followers_last_at"] >= last[0]
        ):
            last = (b["followers_last_at"], Decimal(b["followers_last"]))
    mix = {k: v for k, v in sorted(mix.items()) if v > 0}
    posts = sum(mix.values())
    total = sum(by_type.values(), ZERO)
    start = first[1] if first else None
    end = last[1] if last else None
    per_post = ratio(total, Decimal(posts))
    return AccountFigures(
        platform=platform,
        account_id=account_id,
        name=name,
        owned=owned,
        followers_start=start,
        followers_end=end,
        follower_growth=ratio(end - start, start)
        if start is not None and end is not None
        else None,
        posts=posts,
        posts_per_week=q(Decimal(posts) * 7 / Decimal(days)) or ZERO,
        type_mix=mix,
        engagements=total,
        engagements_by_type={k: by_type[k] for k in mix},
        engagements_per_post=per_post,
        engagement_rate=ratio(per_post, end) if per_post is not None else None,
    )
