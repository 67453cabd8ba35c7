"""Platform choice (step 4): a score per platform per client, 0-100, from five components
(each 0-1) and weights an agency may override (they are normalised to sum 1):

- audience (default weight 0.30): the share of the current strategy's personas who use the
  platform (3 personas, 2 of them on Instagram: 2/3); a strategy without personas (or none
  yet, or one published before `StrategyUpdated` v2 carried them): 1 if the strategy lists
  the platform, else 0;
- goal_fit (0.25): how the platform serves the client's goal, from the seed's guidance
  (Instagram: visual; TikTok: commerce; LinkedIn: B2B leads) in `GOAL_FIT`;
- competitors (0.15): the share of competitor brands active on the platform in the audit
  period (where the audience already is);
- own_performance (0.20): the own accounts' best weak percentile of engagement rate in the
  group, /100 (0.5 when the client has no figure there yet: unknown, not bad);
- cost (0.10): 1 - staff hours a week the platform needs / the largest such figure given
  (1 when none is given).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.audit.accounts.models import AUDIENCE_PLATFORMS
from services.audit.analysis.audit import Audit
from services.audit.analysis.figures import q
from shared.money import ExactDecimal

Goal = Literal["awareness", "visual", "commerce", "b2b_leads", "community"]
DEFAULT_WEIGHTS = {
    "audience": Decimal("0.30"), "goal_fit": Decimal("0.25"), "competitors": Decimal("0.15"),
    "own_performance": Decimal("0.20"), "cost": Decimal("0.10"),
}  # fmt: skip
H, M, L = Decimal(1), Decimal("0.6"), Decimal("0.2")
GOAL_FIT: dict[
    str, dict[str, Decimal]
] = {  # the seed: Instagram visual, TikTok commerce, LinkedIn B2B
    "instagram": {"awareness": M, "visual": H, "commerce": M, "b2b_leads": L, "community": M},
    "tiktok": {"awareness": H, "visual": M, "commerce": H, "b2b_leads": L, "community": M},
    "linkedin": {"awareness": L, "visual": L, "commerce": L, "b2b_leads": H, "community": M},
    "facebook": {"awareness": M, "visual": M, "commerce": M, "b2b_leads": L, "community": H},
    "youtube": {"awareness": H, "visual": H, "commerce": M, "b2b_leads": M, "community": M},
    "x": {"awareness": M, "visual": L, "commerce": L, "b2b_leads": M, "community": H},
}


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    goal: Goal = "awareness"
    weights: dict[
        Literal["audience", "goal_fit", "competitors", "own_performance", "cost"],
        ExactDecimal,
    ] = Field(default_factory=dict, description="Overrides of the default weights (>= 0).")
    staff_hours_per_week: dict[str, ExactDecimal] = Field(
        default_factory=dict, description="Hours a week each platform needs (from the budget)."
    )


class PlatformScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    score: ExactDecimal
    components: dict[str, ExactDecimal]


def weights_of(overrides: dict[str, Decimal]) -> dict[str, Decimal]:
    merged = DEFAULT_WEIGHTS | {k: Decimal(v) for k, v in overrides.items()}
    total = sum(merged.values(), Decimal(0))
    if total <= 0 or any(v < 0 for v in merged.values()):
        raise ValueError("weights must be >= 0 with a positive sum")
    return {k: v / total for k, v in merged.items()}


def presence(
    platform: str, strategy_platforms: Collection[str], personas: Sequence[Collection[str]]
) -> Decimal:
    """The audience component: the share of personas using the platform, or (no personas)
    1 if the strategy lists it, else 0."""
    if personas:
        return Decimal(sum(1 for p in personas if platform in p)) / len(personas)
    return Decimal(1) if platform in strategy_platforms else Decimal(0)


def score(
    audit: Audit,
    strategy_platforms: Collection[str],
    choice: ChoiceIn,
    personas: Sequence[Collection[str]] = (),
) -> list[PlatformScore]:
    """Every audience platform's score, best first (ties by name); `personas` holds the
    platforms of each of the strategy's personas."""
    weights = weights_of(dict(choice.weights))
    brands = {a.name or a.account_id for c in audit.platforms for a in c.accounts if not a.owned}
    hours = {k: Decimal(v) for k, v in choice.staff_hours_per_week.items()}
    most = max(hours.values(), default=Decimal(0))
    out = []
    for p in (p.value for p in AUDIENCE_PLATFORMS):
        comparison = next((c for c in audit.platforms if c.platform == p), None)
        active = {
            a.name or a.account_id for a in (comparison.accounts if comparison else [])
            if not a.owned and a.posts > 0
        }  # fmt: skip
        percentiles = [
            s.of("engagement_rate").percentile for s in (comparison.own if comparison else [])
        ]
        known = [Decimal(x) for x in percentiles if x is not None]
        parts = {
            "audience": presence(p, strategy_platforms, personas),
            "goal_fit": GOAL_FIT[p][choice.goal],
            "competitors": Decimal(len(active)) / len(brands) if brands else Decimal(0),
            "own_performance": max(known) / 100 if known else Decimal("0.5"),
            "cost": 1 - hours[p] / most if most and p in hours else Decimal(1),
        }
        total = sum((weights[k] * v for k, v in parts.items()), Decimal(0)) * 100
        out.append(
            PlatformScore(
                platform=p,
                score=q(total) or Decimal(0),
                components={k: q(v) or Decimal(0) for k, v in parts.items()},
            )
        )
    return sorted(out, key=lambda s: (-s.score, s.platform))
