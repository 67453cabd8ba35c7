"""Ingestion logic (pure): observation -> stored document, and stored batch -> MetricsIngested."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.metrics.kpis import ENGAGEMENT_PARTS, PLATFORM_ENGAGEMENT
from services.metrics.registry import canonical
from shared.envelope import utcnow
from shared.events import (
    AnalyticsObserved,
    ClientPlatformTotals,
    MetricsIngested,
    SegmentTotals,
    SpendLine,
    TimeWindow,
)

# Each MetricsIngested stays well under Kafka's 1 MB default whatever a batch holds: ids are
# at most 128 characters (shared/bounds.py), so 500 spend lines take ~250 KB and 200 client
# totals (each with at most 64 metrics) ~600 KB at worst.
MAX_SPEND_LINES_PER_EVENT = 500
MAX_TOTALS_PER_EVENT = 200


def number(value: Decimal) -> int | Decimal:
    """Integral values as int64 (smaller, cheaper to store and sum), others as exact decimals."""
    if value == value.to_integral_value() and -(2**63) <= value < 2**63:
        return int(value)
    return value


def _numbers(values: Mapping[str, Decimal]) -> dict[str, int | Decimal]:
    return {k: number(v) for k, v in values.items()}


def period_start(event: AnalyticsObserved) -> datetime:
    """The instant an observation's values are attributed to: the start of the window they
    measure (a 2020 daily insight belongs to its 2020 day, whenever it was read), or, for
    running totals over a lifetime, when they were read (what changed since the previous
    reading happened by then). `observed_at` stays the freshness of the reading."""
    if event.window is not TimeWindow.LIFETIME and event.window_start is not None:
        return event.window_start
    return event.observed_at


@functools.lru_cache(maxsize=4096)
def _calendar(day: date) -> tuple[str, str, str]:
    """A UTC day's rollup keys: day, ISO week and month."""
    iso = day.isocalendar()
    text = day.isoformat()
    return text, f"{iso.year}-W{iso.week:02d}", text[:7]


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
    Absent facts are left out rather than stored as nulls (documents are the hot path's cost).
    """
    e = event
    at = period_start(e)
    day, week, month = _calendar(at.astimezone(UTC).date())
    post = post or {}
    doc: dict[str, Any] = {
        "_id": e.event_id,
        "tenant_id": e.tenant_id,
        "client_id": e.client_id,
        "platform": e.platform.value,
        "account_id": e.account_id,
        "entity_level": e.entity_level.value,
        "entity_id": e.entity_id,
        "owned": e.owned,
        "window": e.window.value,
        "cumulative": e.cumulative,
        "observed_at": e.observed_at,
        "at": at,
        "source": {"api": e.source.api, "kind": e.source.kind.value},
        "metrics": {m.name: number(m.value) for m in e.metrics},
        "day": day,
        "week": week,
        "month": month,
        "stored_at": stored_at or utcnow(),
    }
    optional = {
        "post_id": e.post_id or post.get("post_id"),  # joined by the platform's post id
        "window_start": e.window_start,
        "content_type": e.content_type or post.get("content_type"),
        "pillar": post.get("pillar"),
        "campaign_id": e.campaign_id,
        "stage": post.get("stage"),
        "budget_id": post.get("budget_id"),
        "leads": e.leads,
        "visits": e.visits,
        "conversions": e.conversions,
    }
    doc |= {k: v for k, v in optional.items() if v is not None}
    if e.source.api_version:
        doc["source"]["api_version"] = e.source.api_version
    if native := {m.name: m.native_name for m in e.metrics if m.native_name not in (None, m.name)}:
        doc["native"] = native  # provenance across platform renames
    for name, money in (("spend", e.spend), ("revenue", e.revenue)):
        if money is not None:
            doc[f"{name}_amount"] = money.amount
            doc[f"{name}_currency"] = money.currency
    if contribution is not None:
        doc["contrib"] = _numbers(contribution.metrics)
        if contribution.spend is not None:
            doc["spend_contrib"] = contribution.spend
        if contribution.revenue is not None:
            doc["revenue_contrib"] = contribution.revenue
            doc["has_revenue"] = 1
        if contribution.carried:
            doc["carried"] = _numbers(contribution.carried)
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
    # running totals the series had before but this reading lacks (kept in the series state)
    carried: dict[str, Decimal] | None = None


def state_from_document(doc: Mapping[str, Any]) -> SeriesState:
    """The series state a stored cumulative observation left behind (its values + carried)."""
    carried = {k: Decimal(v) for k, v in doc.get("carried", {}).items()}
    spend = doc.get("spend_amount", carried.pop("_spend", None))
    revenue = doc.get("revenue_amount", carried.pop("_revenue", None))
    carried.pop("_spend", None)
    carried.pop("_revenue", None)
    values = {k: Decimal(v) for k, v in doc["metrics"].items()}
    for name in ("leads", "visits", "conversions"):
        if doc.get(name) is not None:
            values[name] = Decimal(doc[name])
    return SeriesState(
        doc["observed_at"],
        {**carried, **values},
        None if spend is None else Decimal(spend),
        None if revenue is None else Decimal(revenue),
    )


def _series_start(e: AnalyticsObserved) -> datetime | None:
    """The window start that tells series apart: none for a lifetime (one entity's running
    total is one series, whatever date a platform puts on each reading)."""
    return None if e.window is TimeWindow.LIFETIME else e.window_start


def series_filter(e: AnalyticsObserved) -> dict[str, Any]:
    """Query matching the stored readings of an observation's cumulative series."""
    query: dict[str, Any] = {
        "tenant_id": e.tenant_id,
        "client_id": e.client_id,
        "platform": e.platform.value,
        "entity_level": e.entity_level.value,
        "entity_id": e.entity_id,
        "window": e.window.value,
        "cumulative": True,
    }
    if e.window is not TimeWindow.LIFETIME:
        query["window_start"] = e.window_start
    return query


def series_key(e: AnalyticsObserved) -> str:
    """Identity of a cumulative series: same client, entity, window kind and window start (two
    clients tracking one competitor account keep a series each)."""
    start_at = _series_start(e)
    start = start_at.isoformat() if start_at else "-"
    parts = (
        e.tenant_id,
        e.client_id,
        e.platform.value,
        e.entity_level.value,
        e.entity_id,
        e.window.value,
        start,
    )
    return "|".join(parts)


def _covered(e: AnalyticsObserved) -> tuple[str, ...]:
    """The engagement parts a platform's engagement total counts (legacy Instagram
    `engagement`: likes + comments; `total_interactions`: all four); all four when unsaid."""
    [total] = [m for m in e.metrics if m.name == PLATFORM_ENGAGEMENT]
    spec = canonical(e.platform, total.native_name) if total.native_name else None
    return spec.components if spec and spec.components else ENGAGEMENT_PARTS


def _values(e: AnalyticsObserved) -> dict[str, Decimal]:
    values = {m.name: m.value for m in e.metrics}
    if PLATFORM_ENGAGEMENT in values and any(p in values for p in _covered(e)):
        del values[PLATFORM_ENGAGEMENT]  # its components win: never count one interaction twice
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
        prev_spend = prev.spend if prev else None
        prev_revenue = prev.revenue if prev else None
        latest[key] = changed[key] = SeriesState(
            e.observed_at,
            {**base, **values},
            spend if spend is not None else prev_spend,
            revenue if revenue is not None else prev_revenue,
        )
        carried = {k: v for k, v in base.items() if k not in values}
        if prev_spend is not None and spend is None:
            carried["_spend"] = prev_spend
        if prev_revenue is not None and revenue is None:
            carried["_revenue"] = prev_revenue
        out.append(
            Contribution(
                e,
                deltas,
                _delta(spend, prev_spend),
                _delta(revenue, prev_revenue),
                carried or None,
            )
        )
    return out, changed


def _delta(now: Decimal | None, before: Decimal | None) -> Decimal | None:
    return None if now is None else now - (before or Decimal(0))


def summarize(
    stored: Iterable[Contribution],
    *,
    budgets_by_post: Mapping[tuple[str, str], str],
    pillars_by_post: Mapping[tuple[str, str], str] | None = None,
    producer: str = "metrics",
) -> list[MetricsIngested]:
    """MetricsIngested events for newly stored observations, grouped per tenant: totals per
    client/platform plus one spend line per observation whose spend changed. A tenant's
    summary is split over several events when it is large (at most MAX_TOTALS_PER_EVENT totals
    and MAX_SPEND_LINES_PER_EVENT spend lines each; `observations` adds up over them).
    `budgets_by_post` maps (tenant, post id) to the budget paying for the post, and
    `pillars_by_post` to its content pillar: spend lines carry the campaign (from the ads API)
    and the pillar, and `segments` the totals again per (client, platform, campaign, pillar)
    for the observations that have a campaign or a pillar (at most MAX_TOTALS_PER_EVENT per
    event as well)."""
    pillars = pillars_by_post or {}
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
        seg_totals: dict[tuple[str, str, str | None, str | None], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        seg_counts: dict[tuple[str, str, str | None, str | None], int] = defaultdict(int)
        for c in items:
            o = c.event
            key = (o.client_id, o.platform.value)
            counts[key] += 1
            for name, delta in c.metrics.items():
                totals[key][name] += delta
            pillar = pillars.get((tenant_id, o.post_id)) if o.post_id else None
            if o.campaign_id is not None or pillar is not None:
                seg = (o.client_id, o.platform.value, o.campaign_id, pillar)
                seg_counts[seg] += 1
                for name, delta in c.metrics.items():
                    seg_totals[seg][name] += delta
            if c.spend and o.spend is not None:
                spend.append(
                    SpendLine(
                        observation_id=o.event_id,
                        client_id=o.client_id,
                        platform=o.platform,
                        post_id=o.post_id,
                        budget_id=budgets_by_post.get((tenant_id, o.post_id))
                        if o.post_id
                        else None,
                        amount=c.spend,
                        currency=o.spend.currency,
                        observed_at=o.observed_at,
                        campaign_id=o.campaign_id,
                        pillar=pillar,
                    )
                )
        platform_totals = [
            ClientPlatformTotals(
                client_id=c, platform=p, observations=counts[(c, p)], metrics=dict(totals[(c, p)])
            )
            for c, p in sorted(counts)
        ]
        segments = [
            SegmentTotals(
                client_id=seg[0],
                platform=seg[1],
                campaign_id=seg[2],
                pillar=seg[3],
                observations=n,
                metrics=dict(seg_totals[seg]),
            )
            for seg, n in sorted(seg_counts.items(), key=lambda kv: tuple(map(str, kv[0])))
        ]
        parts = max(
            -(-len(platform_totals) // MAX_TOTALS_PER_EVENT),
            -(-len(spend) // MAX_SPEND_LINES_PER_EVENT),
            -(-len(segments) // MAX_TOTALS_PER_EVENT),
            1,
        )
        for n in range(parts):
            part_totals = platform_totals[n * MAX_TOTALS_PER_EVENT : (n + 1) * MAX_TOTALS_PER_EVENT]
            events.append(
                MetricsIngested.new(
                    producer=producer,
                    tenant_id=tenant_id,
                    observations=sum(t.observations for t in part_totals),
                    totals=tuple(part_totals),
                    spend=tuple(
                        spend[n * MAX_SPEND_LINES_PER_EVENT : (n + 1) * MAX_SPEND_LINES_PER_EVENT]
                    ),
                    segments=tuple(
                        segments[n * MAX_TOTALS_PER_EVENT : (n + 1) * MAX_TOTALS_PER_EVENT]
                    ),
                )
            )
    return events
