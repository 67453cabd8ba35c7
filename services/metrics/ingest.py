"""Ingestion logic (pure): observation -> stored document, and stored batch -> MetricsIngested."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.envelope import utcnow
from shared.events import AnalyticsObserved, ClientPlatformTotals, MetricsIngested, SpendLine

MAX_SPEND_LINES_PER_EVENT = 500  # keeps each MetricsIngested well under Kafka's 1 MB default


def to_document(
    event: AnalyticsObserved,
    *,
    contribution: Contribution | None = None,
    post: Mapping[str, Any] | None = None,
    stored_at: datetime | None = None,
) -> dict[str, Any]:
    """The stored form of an observation: `_id` is its event id, so a replay is a duplicate.

    Besides the raw values it carries what the observation adds to totals (`contrib`,
    `spend_contrib`) and its rollup dimensions (post pillar and content type from the calendar,
    UTC day/ISO week/month), so every rollup is one indexed aggregation over these documents.
    """
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
    if contribution is not None:
        doc["contrib"] = contribution.metrics
        doc["spend_contrib"] = contribution.spend
        doc["revenue_contrib"] = contribution.revenue
        doc["has_revenue"] = int(contribution.revenue is not None)
    post = post or {}
    doc["pillar"] = post.get("pillar")
    doc["content_type"] = event.content_type or post.get("content_type")
    doc["budget_id"] = post.get("budget_id")
    at = event.observed_at.astimezone(UTC)
    iso = at.isocalendar()
    doc["day"] = at.strftime("%Y-%m-%d")
    doc["week"] = f"{iso.year}-W{iso.week:02d}"
    doc["month"] = at.strftime("%Y-%m")
    doc["stored_at"] = stored_at or utcnow()
    return doc


@dataclass(frozen=True)
class SeriesState:
    """The latest reading of one cumulative series (an entity's running totals in a window)."""

    observed_at: datetime
    metrics: dict[str, Decimal]
    spend: Decimal | None = None
    revenue: Decimal | None = None


@dataclass(frozen=True)
class Contribution:
    """What one stored observation adds to totals: increments as they are, running totals as
    the change since the series' previous (older) reading; a late reading adds nothing."""

    event: AnalyticsObserved
    metrics: dict[str, Decimal]
    spend: Decimal | None
    revenue: Decimal | None = None


def series_key(e: AnalyticsObserved) -> str:
    """Identity of a cumulative series: same entity, window kind and window start."""
    start = e.window_start.isoformat() if e.window_start else "-"
    parts = (
        e.tenant_id,
        e.platform.value,
        e.entity_level.value,
        e.entity_id,
        e.window.value,
        start,
    )
    return "|".join(parts)


def _values(e: AnalyticsObserved) -> dict[str, Decimal]:
    values = {m.name: m.value for m in e.metrics}
    for name in ("leads", "visits", "conversions"):
        if (v := getattr(e, name)) is not None:
            values[name] = Decimal(v)
    return values


def contributions(
    fresh: Iterable[AnalyticsObserved], states: Mapping[str, SeriesState]
) -> tuple[list[Contribution], dict[str, SeriesState]]:
    """Contributions of newly stored observations, and the series states they leave behind.

    Cumulative series: the latest `observed_at` wins; a reading older than the stored latest
    (late, out of order) is kept in the time series but changes no total.
    """
    latest = dict(states)
    changed: dict[str, SeriesState] = {}
    out: list[Contribution] = []
    for e in sorted(fresh, key=lambda o: o.observed_at):
        values = _values(e)
        spend = e.spend.amount if e.spend else None
        revenue = e.revenue.amount if e.revenue else None
        if not e.cumulative:
            out.append(Contribution(e, values, spend, revenue))
            continue
        key = series_key(e)
        prev = latest.get(key)
        if prev is not None and e.observed_at <= prev.observed_at:
            out.append(Contribution(e, {}, None))
            continue
        base = prev.metrics if prev else {}
        deltas = {k: v - base.get(k, Decimal(0)) for k, v in values.items()}
        latest[key] = changed[key] = SeriesState(e.observed_at, {**base, **values}, spend, revenue)
        out.append(
            Contribution(
                e,
                deltas,
                _delta(spend, prev.spend if prev else None),
                _delta(revenue, prev.revenue if prev else None),
            )
        )
    return out, changed


def _delta(now: Decimal | None, before: Decimal | None) -> Decimal | None:
    return None if now is None else now - (before or Decimal(0))


def summarize(
    stored: Iterable[Contribution],
    *,
    budgets_by_post: Mapping[str, str],
    producer: str = "metrics",
) -> list[MetricsIngested]:
    """MetricsIngested events for newly stored observations, grouped per tenant: totals per
    client/platform plus one spend line per observation whose spend changed."""
    by_tenant: dict[str, list[Contribution]] = defaultdict(list)
    for c in stored:
        by_tenant[c.event.tenant_id].append(c)
    events: list[MetricsIngested] = []
    for tenant_id, items in by_tenant.items():
        totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        counts: dict[tuple[str, str], int] = defaultdict(int)
        spend: list[SpendLine] = []
        for c in items:
            o = c.event
            key = (o.client_id, o.platform.value)
            counts[key] += 1
            for name, delta in c.metrics.items():
                totals[key][name] += delta
            if c.spend and o.spend is not None:
                spend.append(
                    SpendLine(
                        observation_id=o.event_id,
                        client_id=o.client_id,
                        platform=o.platform,
                        post_id=o.post_id,
                        budget_id=budgets_by_post.get(o.post_id) if o.post_id else None,
                        amount=c.spend,
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
                    observations=len(items) if n == 0 else 0,
                    totals=platform_totals if n == 0 else (),
                    spend=tuple(chunk),
                )
            )
    return events
