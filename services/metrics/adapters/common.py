"""What every platform adapter shares: the poll context, the result, native number parsing and
the step that turns native readings of one entity into AnalyticsObserved events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.metrics.registry import MetricSpec, canonical, is_derived, precedence
from shared.envelope import derived_event_id
from shared.events import (
    AnalyticsObserved,
    EntityLevel,
    MetricValue,
    ObservationSource,
    Platform,
    SourceKind,
    TimeWindow,
)
from shared.money import Money

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

PRODUCER = "metrics.adapters"

WINDOW_LENGTH: dict[TimeWindow, timedelta] = {
    TimeWindow.HOUR: timedelta(hours=1),
    TimeWindow.DAY: timedelta(days=1),
    TimeWindow.WEEK: timedelta(days=7),
    TimeWindow.DAYS_28: timedelta(days=28),
}


class PayloadError(ValueError):
    """A platform payload that cannot be turned into observations (corrupt or unsupported)."""


class ObservationContext(BaseModel):
    """What the poller knows that the payload does not: who, which account, when, how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    account_id: str = Field(min_length=1, description="Also the entity id of account level.")
    observed_at: AwareDatetime = Field(description="When the values were read (zone-aware).")
    api_version: str | None = Field(default=None, examples=["v21.0", "2"])
    source_kind: SourceKind = SourceKind.POLL
    content_type: str | None = None
    owned: bool = True
    post_id: str | None = Field(default=None, description="SocialOps post id, single entity.")
    correlation_id: str | None = None
    # Business facts of one entity; attached only when the payload yields one observation.
    spend: Money | None = None
    revenue: Money | None = None
    leads: int | None = Field(default=None, ge=0)
    visits: int | None = Field(default=None, ge=0)
    conversions: int | None = Field(default=None, ge=0)


class AdapterResult(BaseModel):
    """Observations from one payload, plus native metrics that were not stored and why."""

    model_config = ConfigDict(frozen=True)

    observations: tuple[AnalyticsObserved, ...] = ()
    unmapped: tuple[str, ...] = Field(default=(), description="No canonical mapping: skipped.")
    ignored: tuple[str, ...] = Field(
        default=(), description="Known ratios/aggregates or superseded duplicates: not stored."
    )


@dataclass(frozen=True)
class Reading:
    """One native value of one entity over one window, as the payload gave it."""

    native_name: str
    value: Decimal
    window: TimeWindow = TimeWindow.LIFETIME
    window_start: datetime | None = None
    cumulative: bool | None = None  # None: a running total when lifetime or the metric is a level


def native_number(value: Any, *, platform: Platform, name: str) -> Decimal | None:
    """A native value as an exact non-negative Decimal; None when the platform sent null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PayloadError(f"{platform} '{name}': not a number: {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{platform} '{name}': not a number: {value!r}") from None
    if not number.is_finite():
        raise PayloadError(f"{platform} '{name}': not a finite number: {value!r}")
    if number < 0:
        raise PayloadError(f"{platform} '{name}': negative value {value!r}")
    return number


def observation_event_id(
    *,
    tenant_id: str,
    client_id: str,
    platform: Platform,
    api: str,
    entity_level: EntityLevel,
    entity_id: str,
    window: TimeWindow,
    window_start: datetime | None,
    cumulative: bool,
    observed_at: datetime,
    metric_names: Iterable[str],
) -> str:
    """Deterministic id of an observation: the same poll read twice gives the same event id."""
    start = window_start.astimezone(UTC).isoformat() if window_start else ""
    return derived_event_id(
        "AnalyticsObserved",
        tenant_id,
        client_id,
        platform,
        api,
        entity_level,
        entity_id,
        window,
        start,
        cumulative,
        observed_at.astimezone(UTC).isoformat(),
        ",".join(sorted(metric_names)),
    )


def entity_observations(
    readings: Iterable[Reading],
    *,
    platform: Platform,
    api: str,
    context: ObservationContext,
    entity_level: EntityLevel,
    entity_id: str | None = None,
    content_type: str | None = None,
    unknown: Iterable[str] = (),
) -> AdapterResult:
    """Observations of one entity: one event per (window, window start, cumulative) group.

    `unknown` names native metrics the payload had but the adapter did not read (no mapping);
    they are reported as unmapped, or as ignored when they are known platform ratios.
    """
    if entity_id is None:
        entity_id = context.account_id
    unmapped: list[str] = []
    ignored: list[str] = []
    for name in unknown:
        (ignored if is_derived(platform, name) else unmapped).append(name)
    groups: dict[tuple[TimeWindow, datetime | None, bool], list[tuple[MetricSpec, Reading]]] = {}
    for reading in readings:
        spec = canonical(platform, reading.native_name)
        if spec is None:
            (ignored if is_derived(platform, reading.native_name) else unmapped).append(
                reading.native_name
            )
            continue
        cumulative = reading.cumulative
        if cumulative is None:
            cumulative = reading.window is TimeWindow.LIFETIME or spec.running_total
        key = (reading.window, reading.window_start, cumulative)
        groups.setdefault(key, []).append((spec, reading))

    observations = []
    for (window, window_start, cumulative), items in groups.items():
        values, skipped = _metric_values(items)
        ignored.extend(skipped)
        if not values:
            continue
        event_id = observation_event_id(
            tenant_id=context.tenant_id,
            client_id=context.client_id,
            platform=platform,
            api=api,
            entity_level=entity_level,
            entity_id=entity_id,
            window=window,
            window_start=window_start,
            cumulative=cumulative,
            observed_at=context.observed_at,
            metric_names=(v.name for v in values),
        )
        envelope: dict[str, Any] = {
            "event_id": event_id,
            "occurred_at": context.observed_at,
            "tenant_id": context.tenant_id,
        }
        if context.correlation_id:
            envelope["correlation_id"] = context.correlation_id
        observations.append(
            AnalyticsObserved.new(
                producer=PRODUCER,
                **envelope,
                client_id=context.client_id,
                platform=platform,
                account_id=context.account_id,
                entity_level=entity_level,
                entity_id=entity_id,
                owned=context.owned,
                content_type=content_type or context.content_type,
                window=window,
                window_start=window_start,
                cumulative=cumulative,
                observed_at=context.observed_at,
                source=ObservationSource(
                    api=api, api_version=context.api_version, kind=context.source_kind
                ),
                metrics=values,
            )
        )
    return AdapterResult(
        observations=tuple(observations),
        unmapped=tuple(dict.fromkeys(unmapped)),
        ignored=tuple(dict.fromkeys(ignored)),
    )


def _metric_values(
    items: Sequence[tuple[MetricSpec, Reading]],
) -> tuple[tuple[MetricValue, ...], list[str]]:
    """Canonical values of one group, resolving sums, renames and per-unit averages."""
    by_name: dict[str, list[tuple[MetricSpec, Reading]]] = {}
    for spec, reading in items:
        if spec.per is None:
            by_name.setdefault(spec.name, []).append((spec, reading))
    skipped: list[str] = []
    values: dict[str, MetricValue] = {}
    for name, candidates in by_name.items():
        if all(spec.summed for spec, _ in candidates):
            chosen = candidates
        else:
            # Old and new names of a renamed metric in one payload: keep the preferred one.
            chosen = [min(candidates, key=lambda c: precedence(c[0]))]
            skipped += [r.native_name for _, r in candidates if r is not chosen[0][1]]
        total = sum((spec.convert(r.value) for spec, r in chosen), Decimal(0))
        values[name] = MetricValue(
            name=name,
            value=total,
            unit=chosen[0][0].unit,
            native_name="+".join(r.native_name for _, r in chosen),
        )
    for spec, reading in items:
        if spec.per is None:
            continue
        base = values.get(spec.per)
        if spec.name in values or base is None:
            skipped.append(reading.native_name)  # a total is known, or no base to multiply
            continue
        values[spec.name] = MetricValue(
            name=spec.name,
            value=spec.convert(reading.value) * base.value,
            unit=spec.unit,
            native_name=f"{reading.native_name}*{base.native_name}",
        )
    return tuple(values[n] for n in sorted(values)), skipped


def merge(results: Iterable[AdapterResult], *, context: ObservationContext) -> AdapterResult:
    """One result from several entities' results, with the context's business facts attached."""
    observations: list[AnalyticsObserved] = []
    unmapped: dict[str, None] = {}
    ignored: dict[str, None] = {}
    for result in results:
        observations.extend(result.observations)
        unmapped |= dict.fromkeys(result.unmapped)
        ignored |= dict.fromkeys(result.ignored)
    return AdapterResult(
        observations=_attach_business_facts(observations, context=context),
        unmapped=tuple(unmapped),
        ignored=tuple(ignored),
    )


def _attach_business_facts(
    observations: list[AnalyticsObserved], *, context: ObservationContext
) -> tuple[AnalyticsObserved, ...]:
    if context.post_id is not None:
        if len({o.entity_id for o in observations}) > 1:
            raise PayloadError("post_id given for a payload about several entities")
        observations = [o.model_copy(update={"post_id": context.post_id}) for o in observations]
    facts = {
        key: getattr(context, key)
        for key in ("spend", "revenue", "leads", "visits", "conversions")
        if getattr(context, key) is not None
    }
    if facts and len(observations) != 1:
        raise PayloadError(
            f"{', '.join(facts)} given for a payload that yields {len(observations)} "
            "observations; pass them per entity and window so they are counted once"
        )
    if facts:
        observations = [observations[0].model_copy(update=facts)]
    return tuple(observations)


def parse_timestamp(value: Any, *, platform: Platform, name: str) -> datetime:
    """A platform timestamp (ISO 8601 with zone, e.g. Meta's '+0000') as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise PayloadError(f"{platform} '{name}': not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{platform} '{name}': timestamp without zone: {value!r}")
    return parsed


def read_known(
    fields: dict[str, Any],
    *,
    platform: Platform,
    names: Iterable[str] | None = None,
    window: TimeWindow = TimeWindow.LIFETIME,
    window_start: datetime | None = None,
) -> tuple[list[Reading], list[str]]:
    """Readings of the mapped metrics among `names` (default: all keys), and the unmapped rest."""
    readings: list[Reading] = []
    unknown: list[str] = []
    for name in fields if names is None else names:
        if name not in fields:
            continue
        if canonical(platform, name) is None:
            unknown.append(name)
            continue
        value = native_number(fields[name], platform=platform, name=name)
        if value is not None:
            readings.append(Reading(name, value, window, window_start))
    return readings, unknown
