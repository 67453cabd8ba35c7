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


async def budget_knows(platform: Any, tenant_id: str, *client_ids: str) -> None:
    """Wait until the budget service knows these clients (it learns them from ClientRegistered,
    issue 10); ids not created through the calendar are announced here as the calendar would."""
    from shared import topics  # noqa: PLC0415 (helpers stay importable without the platform)
    from shared.events import ClientRegistered  # noqa: PLC0415
    from tests.integration.conftest import eventually  # noqa: PLC0415

    known = platform.db("budget")["known_clients"]
    for client_id in client_ids:
        if not await platform.db("calendar")["clients"].find_one({"_id": client_id}):
            event = ClientRegistered.new(
                producer="tests", tenant_id=tenant_id, client_id=client_id, name=client_id
            )
            await platform.send(topics.CLIENTS, event)

        async def learned(client_id: str = client_id) -> bool:
            return await known.find_one({"_id": f"{tenant_id}|{client_id}"}) is not None

        await eventually(learned)
