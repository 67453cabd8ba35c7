"""Ingestion logic (pure): observation -> stored document, and stored batch -> MetricsIngested."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.envelope import utcnow
from shared.events import AnalyticsObserved, ClientPlatformTotals, MetricsIngested, SpendLine

MAX_SPEND_LINES_PER_EVENT = 500  # keeps each MetricsIngested well under Kafka's 1 MB default


def to_document(event: AnalyticsObserved, *, stored_at: datetime | None = None) -> dict[str, Any]:
    """The stored form of an observation: `_id` is its event id, so a replay is a duplicate."""
    doc = event.model_dump(
        exclude={"event_type", "event_version", "producer", "metrics", "spend", "revenue"}
    )
    doc["_id"] = doc.pop("event_id")
    doc["metrics"] = {m.name: m.value for m in event.metrics}
    doc["native_names"] = {m.name: m.native_name for m in event.metrics if m.native_name}
    for name in ("spend", "revenue"):
        money = getattr(event, name)
        doc[f"{name}_amount"] = money.amount if money else None
        doc[f"{name}_currency"] = money.currency if money else None
    doc["stored_at"] = stored_at or utcnow()
    return doc


def summarize(
    stored: Iterable[AnalyticsObserved],
    *,
    budgets_by_post: Mapping[str, str],
    producer: str = "metrics",
) -> list[MetricsIngested]:
    """MetricsIngested events for newly stored observations, grouped per tenant: totals per
    client/platform plus one spend line per observation that carries spend."""
    by_tenant: dict[str, list[AnalyticsObserved]] = defaultdict(list)
    for e in stored:
        by_tenant[e.tenant_id].append(e)
    events: list[MetricsIngested] = []
    for tenant_id, observations in by_tenant.items():
        totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        counts: dict[tuple[str, str], int] = defaultdict(int)
        spend: list[SpendLine] = []
        for o in observations:
            key = (o.client_id, o.platform.value)
            counts[key] += 1
            for m in o.metrics:
                totals[key][m.name] += m.value
            if o.spend is not None:
                spend.append(
                    SpendLine(
                        observation_id=o.event_id,
                        client_id=o.client_id,
                        platform=o.platform,
                        post_id=o.post_id,
                        budget_id=budgets_by_post.get(o.post_id) if o.post_id else None,
                        amount=o.spend.amount,
                        currency=o.spend.currency,
                        observed_at=o.observed_at,
                    )
                )
        platform_totals = tuple(
            ClientPlatformTotals(
                client_id=c, platform=p, observations=counts[(c, p)], metrics=dict(totals[(c, p)])
            )
            for c, p in sorted(counts)
        )
        chunks = [
            spend[i : i + MAX_SPEND_LINES_PER_EVENT]
            for i in range(0, len(spend), MAX_SPEND_LINES_PER_EVENT)
        ] or [[]]
        for n, chunk in enumerate(chunks):
            events.append(
                MetricsIngested.new(
                    producer=producer,
                    tenant_id=tenant_id,
                    observations=len(observations) if n == 0 else 0,
                    totals=platform_totals if n == 0 else (),
                    spend=tuple(chunk),
                )
            )
    return events
