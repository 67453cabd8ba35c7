"""The step every adapter ends with: native readings of one entity become AnalyticsObserved
events (one per window), with renames, platform totals, averages and plausibility resolved, and
the poll context's business facts attached.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from services.metrics.adapters.common import (
    PRODUCER,
    WINDOW_LENGTH,
    AdapterResult,
    Facts,
    Loc,
    ObservationContext,
    PayloadError,
    Reading,
    SkipKind,
    Skipped,
    observation_event_id,
    skip,
)
from services.metrics.registry import (
    EVENT_FIELD_METRICS,
    MetricSpec,
    canonical,
    is_derived,
    precedence,
)
from shared.events import (
    AnalyticsObserved,
    EntityLevel,
    MetricValue,
    ObservationSource,
    Platform,
    TimeWindow,
)

LAST_INSTANT = timedelta(milliseconds=1)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


def entity_observations(
    readings: Iterable[Reading],
    *,
    platform: Platform,
    api: str,
    context: ObservationContext,
    entity_level: EntityLevel,
    entity_id: str | None = None,
    account_id: str | None = None,
    content_type: str | None = None,
    skipped: Iterable[Skipped] = (),
    facts: Facts | None = None,
    loc: Loc = (),
) -> AdapterResult:
    """Observations of one entity: one event per (window, window start, cumulative) group.

    Readings without a canonical mapping are listed as skipped (unmapped, or ignored when they
    are known platform ratios); a value beyond its metric's plausible bound is a PayloadError
    at the reading's path. `facts` (spend, leads) join the group of their window.
    """
    if entity_id is None:
        entity_id = context.account_id
    skips: list[Skipped] = list(skipped)
    groups: dict[tuple[TimeWindow, datetime | None, bool], list[tuple[MetricSpec, Reading]]] = {}
    dated_levels: set[tuple[TimeWindow, datetime | None, bool]] = set()
    for reading in readings:
        spec = canonical(platform, reading.native_name)
        if spec is None or spec.name in EVENT_FIELD_METRICS:
            derived = is_derived(platform, reading.native_name)
            skips.append(
                skip(
                    reading.loc,
                    SkipKind.IGNORED if derived else SkipKind.UNMAPPED,
                    "a ratio the platform computes: its components are stored instead"
                    if derived
                    else f"no canonical metric for {platform} '{reading.native_name}'",
                    reading.native_name,
                )
            )
            continue
        cumulative = reading.cumulative
        if cumulative is None:
            cumulative = reading.window is TimeWindow.LIFETIME or spec.running_total
        key = (reading.window, reading.window_start, cumulative)
        if (
            spec.running_total
            and reading.window_start is not None
            and (reading.window in WINDOW_LENGTH)
        ):
            # A level the platform dates by period (Facebook `page_follows` per day): one
            # reading of the entity's single running series, as of the period's end, so the
            # last day's level wins and the days never add up.
            # The last millisecond of the period (stored instants have millisecond precision):
            # the level belongs to its own day and counts in a query ending at the period end.
            end = reading.window_start + WINDOW_LENGTH[reading.window] - LAST_INSTANT
            as_of = min(end, context.observed_at)
            key = (TimeWindow.LIFETIME, as_of, True)
            dated_levels.add(key)
        groups.setdefault(key, []).append((spec, reading))
    if facts is not None and facts.as_update():
        groups.setdefault((facts.window, facts.window_start, facts.cumulative), [])

    observations = []
    for (window, window_start, cumulative), items in groups.items():
        observed_at, as_of = context.observed_at, None
        if (window, window_start, cumulative) in dated_levels:
            as_of = observed_at = window_start  # a dated level (see above)
        values, group_skips = _metric_values(items)
        skips.extend(group_skips)
        update = (
            facts.as_update()
            if facts is not None
            and (facts.window, facts.window_start, facts.cumulative)
            == (window, window_start, cumulative)
            else {}
        )
        if not values and not update:
            continue
        event_id = observation_event_id(
            tenant_id=context.tenant_id,
            client_id=context.client_id,
            platform=platform,
            api=api,
            entity_level=entity_level,
            entity_id=entity_id,
            window=window,
            window_start=window_start,  # for a dated level: its day (one id per day and poll)
            cumulative=cumulative,
            observed_at=context.observed_at,
            metric_names=[*(v.name for v in values), *update],
        )
        envelope: dict[str, Any] = {
            "event_id": event_id,
            "occurred_at": context.observed_at,
            "tenant_id": context.tenant_id,
        }
        if context.correlation_id:
            envelope["correlation_id"] = context.correlation_id
        try:
            observations.append(
                AnalyticsObserved.new(
                    producer=PRODUCER,
                    **envelope,
                    client_id=context.client_id,
                    platform=platform,
                    account_id=account_id or context.account_id,
                    entity_level=entity_level,
                    entity_id=entity_id,
                    owned=context.owned,
                    content_type=content_type or context.content_type,
                    window=window,
                    window_start=None if as_of else window_start,
                    cumulative=cumulative,
                    observed_at=observed_at,
                    source=ObservationSource(
                        api=api, api_version=context.api_version, kind=context.source_kind
                    ),
                    metrics=values,
                    campaign_id=facts.campaign_id if facts is not None else None,
                    **update,
                )
            )
        except ValidationError as e:
            error = e.errors(include_url=False)[0]
            where = ".".join(str(p) for p in error["loc"])
            raise PayloadError(
                f"gives an observation that is not valid ({where}: {error['msg']})", loc=loc
            ) from None
    return AdapterResult(observations=tuple(observations), skipped=tuple(skips))


def _metric_values(
    items: Sequence[tuple[MetricSpec, Reading]],
) -> tuple[tuple[MetricValue, ...], list[Skipped]]:
    """Canonical values of one group, resolving sums, renames, totals and per-unit averages."""
    by_name: dict[str, list[tuple[MetricSpec, Reading]]] = {}
    for spec, reading in items:
        if spec.per is None:
            by_name.setdefault(spec.name, []).append((spec, reading))
    skipped: list[Skipped] = []
    values: dict[str, MetricValue] = {}
    for name, candidates in by_name.items():
        if all(spec.summed for spec, _ in candidates):
            chosen = candidates
        else:
            # Old and new names of a renamed metric in one payload: keep the preferred one.
            chosen = [min(candidates, key=lambda c: precedence(c[0]))]
            kept = chosen[0][1]
            skipped += [
                skip(r.loc, SkipKind.IGNORED, f"superseded by '{kept.native_name}'", r.native_name)
                for _, r in candidates
                if r is not kept
            ]
        total = sum((spec.convert(r.value) for spec, r in chosen), Decimal(0))
        _check_plausible(chosen[0][0], total, chosen[0][1])
        values[name] = MetricValue(
            name=name,
            value=total,
            unit=chosen[0][0].unit,
            native_name="+".join(r.label or r.native_name for _, r in chosen),
        )
    for name in list(values):
        spec, reading = by_name[name][0]
        present = [c for c in spec.components if c in values]
        if present:  # a platform total next to its components: the components win
            del values[name]
            skipped += [
                skip(
                    r.loc,
                    SkipKind.IGNORED,
                    f"platform total ({spec.basis}); its components {present} are stored",
                    r.native_name,
                )
                for _, r in by_name[name]
            ]
    for spec, reading in items:
        if spec.per is None:
            continue
        base = values.get(spec.per)
        if spec.name in values or base is None:
            reason = (
                f"an average: the total {spec.name} is stored"
                if spec.name in values
                else f"an average per {spec.per}, which the payload does not give"
            )
            skipped.append(skip(reading.loc, SkipKind.IGNORED, reason, reading.native_name))
            continue
        value = spec.convert(reading.value) * base.value
        _check_plausible(spec, value, reading)
        values[spec.name] = MetricValue(
            name=spec.name,
            value=value,
            unit=spec.unit,
            native_name=f"{reading.label or reading.native_name}*{base.native_name}",
        )
    return tuple(values[n] for n in sorted(values)), skipped


def _check_plausible(spec: MetricSpec, value: Decimal, reading: Reading) -> None:
    reason = spec.metric.implausible(value)
    if reason is not None:
        raise PayloadError(f"'{reading.native_name}': {reason}", loc=reading.loc)


def merge(results: Iterable[AdapterResult], *, context: ObservationContext) -> AdapterResult:
    """One result from several entities' results, with the context's business facts attached."""
    observations: list[AnalyticsObserved] = []
    skipped: list[Skipped] = []
    for result in results:
        observations.extend(result.observations)
        skipped.extend(result.skipped)
    return AdapterResult(
        observations=_attach_business_facts(observations, context=context),
        skipped=tuple(skipped),
    )


def _attach_business_facts(
    observations: list[AnalyticsObserved], *, context: ObservationContext
) -> tuple[AnalyticsObserved, ...]:
    if context.post_id is not None:
        if len({o.entity_id for o in observations}) > 1:
            raise PayloadError("post_id given for a payload about several entities", loc=())
        observations = [o.model_copy(update={"post_id": context.post_id}) for o in observations]
    facts = {
        key: getattr(context, key)
        for key in ("spend", "revenue", "leads", "visits", "conversions")
        if getattr(context, key) is not None
    }
    if facts and len(observations) != 1:
        raise PayloadError(
            f"{', '.join(facts)} given for a payload that yields {len(observations)} "
            "observations; pass them per entity and window so they are counted once",
            loc=(),
        )
    if facts:
        carried = [k for k in facts if getattr(observations[0], k) is not None]
        if carried:
            raise PayloadError(
                f"{', '.join(carried)} given in the context and carried by the payload", loc=()
            )
        observations = [observations[0].model_copy(update=facts)]
    return tuple(observations)
