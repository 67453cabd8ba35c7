"""Audit domain logic (pure): a client's per-platform summary from ingested totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.money import ExactDecimal

ENGAGEMENTS = ("likes", "comments", "shares", "saves")


class PlatformSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    observations: int
    metrics: dict[str, ExactDecimal]
    engagements: ExactDecimal
    engagement_rate_by_impressions: ExactDecimal | None  # None: not defined (no impressions)


class ClientSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str
    observations: int
    platforms: list[PlatformSummary]
    top_platform_by_engagements: str | None


def summarize(client_id: str, rows: list[dict[str, Any]]) -> ClientSummary:
    """Summary per platform, with engagements and engagement rate over impressions."""
    platforms = []
    for row in sorted(rows, key=lambda r: r["platform"]):
        metrics = {k: Decimal(v) for k, v in row.get("metrics", {}).items()}
        engagements = sum((metrics.get(m, Decimal(0)) for m in ENGAGEMENTS), Decimal(0))
        impressions = metrics.get("impressions") or metrics.get("views") or Decimal(0)
        platforms.append(
            PlatformSummary(
                platform=row["platform"],
                observations=row["observations"],
                metrics=metrics,
                engagements=engagements,
                engagement_rate_by_impressions=(engagements / impressions) if impressions else None,
            )
        )
    top = max(platforms, key=lambda p: p.engagements, default=None)
    return ClientSummary(
        client_id=client_id,
        observations=sum(p.observations for p in platforms),
        platforms=platforms,
        top_platform_by_engagements=top.platform if top and top.engagements > 0 else None,
    )
