"""Builders for realistic requests and events used across integration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.events import AnalyticsObserved


def observation(
    tenant_id: str,
    client_id: str,
    *,
    spend: str | None = None,
    post_id: str | None = None,
    metrics: dict[str, int] | None = None,
    observed_at: datetime | None = None,
    **extra: Any,
) -> AnalyticsObserved:
    """An Instagram ad observation as a pipeline would publish it."""
    return AnalyticsObserved.new(
        producer="tests.pipeline",
        tenant_id=tenant_id,
        client_id=client_id,
        platform=extra.pop("platform", "instagram"),
        account_id="ig-acct-1",
        entity_level=extra.pop("entity_level", "ad" if spend else "post"),
        entity_id=extra.pop("entity_id", "media-1"),
        # ad spend arrives per hour (increments); organic counts as running totals
        cumulative=extra.pop("cumulative", not spend),
        window=extra.pop("window", "hour" if spend else "lifetime"),
        post_id=post_id,
        observed_at=observed_at or datetime.now(UTC),
        source={"api": "instagram_graph", "api_version": "v21.0", "kind": "poll"},
        metrics=[
            {"name": k, "value": v}
            for k, v in (metrics or {"impressions": 1000, "likes": 40}).items()
        ],
        spend={"amount": spend, "currency": "EUR"} if spend else None,
        **extra,
    )


def budget_body(client_id: str, limit: str = "100.00") -> dict[str, Any]:
    return {
        "client_id": client_id,
        "name": "Paid social Q4",
        "limit": {"amount": limit, "currency": "EUR"},
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "thresholds_pct": [50, 80, 100],
    }
