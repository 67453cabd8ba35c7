"""Audit summary: engagements per platform, engagement rate over impressions (undefined, not
zero, without impressions), the top platform."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from services.audit.service import summarize


def row(platform: str, observations: int = 1, **metrics: Any) -> dict[str, Any]:
    return {"platform": platform, "observations": observations, "metrics": metrics}


def test_zero_impressions_gives_no_rate_rather_than_zero() -> None:
    summary = summarize(
        "c1",
        [
            row("x", likes=Decimal(4), impressions=Decimal(0)),
            row("tiktok", likes=Decimal(4)),
            row("instagram", likes=Decimal(0), impressions=Decimal(0), views=Decimal(0)),
        ],
    )

    assert [(p.platform, p.engagement_rate_by_impressions) for p in summary.platforms] == [
        ("instagram", None),
        ("tiktok", None),
        ("x", None),
    ]
    assert summary.platforms[2].engagements == Decimal(4)
    wire = json.loads(summary.model_dump_json())
    assert [p["engagement_rate_by_impressions"] for p in wire["platforms"]] == [None] * 3


def test_rate_is_engagements_over_impressions_exactly() -> None:
    summary = summarize(
        "c1",
        [row("x", likes="30", comments=10, shares=Decimal(5), saves=Decimal(5), clicks=99,
             impressions=Decimal(1000))],
    )  # fmt: skip

    [x] = summary.platforms
    assert x.engagements == Decimal(50)  # clicks are not an engagement
    assert x.engagement_rate_by_impressions == Decimal("0.05")
    assert x.metrics["clicks"] == Decimal(99)


def test_views_stand_in_for_missing_impressions() -> None:
    [p] = summarize("c1", [row("youtube", likes=Decimal(2), views=Decimal(8))]).platforms

    assert p.engagement_rate_by_impressions == Decimal("0.25")


def test_observations_sum_and_the_top_platform_has_most_engagements() -> None:
    summary = summarize(
        "c1",
        [
            row("x", observations=3, likes=Decimal(5)),
            row("instagram", observations=2, likes=Decimal(7), comments=Decimal(1)),
        ],
    )

    assert summary.client_id == "c1"
    assert summary.observations == 5
    assert [p.platform for p in summary.platforms] == ["instagram", "x"]
    assert summary.top_platform_by_engagements == "instagram"


def test_no_top_platform_without_engagements() -> None:
    assert summarize("c1", [row("x", views=Decimal(100))]).top_platform_by_engagements is None
    empty = summarize("c1", [])
    assert (empty.observations, empty.platforms, empty.top_platform_by_engagements) == (0, [], None)
