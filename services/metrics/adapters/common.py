"""What every platform adapter shares: the poll context, the result (with everything skipped and
why), the errors that name a payload path, and the step that turns native readings of one
entity into AnalyticsObserved events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    computed_field,
)

from services.metrics.registry import (
    EVENT_FIELD_METRICS,
    MetricSpec,
    canonical,
    is_derived,
    precedence,
)
from shared.bounds import MAX_COUNT, MAX_ID_LENGTH
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
    from collections.abc import Iterable, Mapping, Sequence

PRODUCER = "metrics.adapters"

WINDOW_LENGTH: dict[TimeWindow, timedelta] = {
    TimeWindow.HOUR: timedelta(hours=1),
    TimeWindow.DAY: timedelta(days=1),
    TimeWindow.WEEK: timedelta(days=7),
    TimeWindow.DAYS_28: timedelta(days=28),
}

Loc = tuple[str | int, ...]

# A count as documented JSON integers arrive: no strings, floats or booleans, never negative.
JsonCount = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]
# A platform object id (bounded like every id we store).
NativeId = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_ID_LENGTH)]


def time_zone(name: str) -> ZoneInfo:
    """An IANA time zone; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not an IANA time zone") from None


class PayloadModel(BaseModel):
    """A documented platform response shape: fields we do not read are kept, never an error."""

    model_config = ConfigDict(extra="allow", frozen=True)


class PayloadError(ValueError):
    """A platform payload that cannot be turned into observations: `loc` is its JSON path
    inside the payload (empty: the payload as a whole), `reason` what is wrong there."""

    def __init__(self, reason: str, *, loc: Sequence[str | int]) -> None:
        self.loc: Loc = tuple(loc)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.loc else reason)

    @property
    def path(self) -> str:
        """The JSON path, dotted (`data.0.values.1.value`)."""
        return dotted(self.loc)


def dotted(loc: Sequence[str | int]) -> str:
    """A JSON path as one dotted string."""
    return ".".join(str(part) for part in loc)


class SkipKind(StrEnum):
    """Why something in a payload was not stored."""

    UNMAPPED = "unmapped"  # no canonical metric, or not a documented field
    IGNORED = "ignored"  # known, deliberately not stored (ratio, duplicate, superseded)
    NO_VALUE = "no_value"  # the platform sent no value (null, no values)
    PLATFORM_ERROR = "platform_error"  # the platform reported a partial error


class Skipped(BaseModel):
    """One part of a payload that was not ingested, where it was and why."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="JSON path inside the payload, dotted.")
    native_name: str | None = Field(default=None, description="The platform's metric name.")
    kind: SkipKind
    reason: str


def skip(loc: Sequence[str | int], kind: SkipKind, reason: str, name: str | None = None) -> Skipped:
    """A Skipped entry at a JSON path."""
    return Skipped(path=dotted(loc), native_name=name, kind=kind, reason=reason)


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
    """Observations from one payload, plus everything in it that was not stored and why."""

    model_config = ConfigDict(frozen=True)

    observations: tuple[AnalyticsObserved, ...] = ()
    skipped: tuple[Skipped, ...] = Field(
        default=(), description="Every value or part of the payload not ingested, with reason."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unmapped(self) -> tuple[str, ...]:
        """Native metrics with no canonical mapping (or undocumented fields), once each."""
        return self._names(SkipKind.UNMAPPED)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ignored(self) -> tuple[str, ...]:
        """Known native metrics deliberately not stored (ratios, duplicates, superseded)."""
        return self._names(SkipKind.IGNORED)

    def _names(self, kind: SkipKind) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.native_name or s.path for s in self.skipped if s.kind is kind))


@dataclass(frozen=True)
class Reading:
    """One native value of one entity over one window, as the payload gave it."""

    native_name: str
    value: Decimal
    window: TimeWindow = TimeWindow.LIFETIME
    window_start: datetime | None = None
    cumulative: bool | None = None  # None: a running total when lifetime or the metric is a level
    loc: Loc = ()
    label: str | None = None  # the native name as stored (default: native_name)


@dataclass
class Facts:
    """Business facts a payload itself carries for one entity and window (ads spend, leads)."""

    spend: Money | None = None
    leads: int | None = None
    conversions: int | None = None
    window: TimeWindow = TimeWindow.LIFETIME
    window_start: datetime | None = None
    cumulative: bool = True

    def as_update(self) -> dict[str, Any]:
        """The AnalyticsObserved fields these facts set."""
        names = ("spend", "leads", "conversions")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


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
        groups.setdefault(key, []).append((spec, reading))
    if facts is not None and facts.as_update():
        groups.setdefault((facts.window, facts.window_start, facts.cumulative), [])

    observations = []
    for (window, window_start, cumulative), items in groups.items():
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
            window_start=window_start,
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
                    window_start=window_start,
                    cumulative=cumulative,
                    observed_at=context.observed_at,
                    source=ObservationSource(
                        api=api, api_version=context.api_version, kind=context.source_kind
                    ),
                    metrics=values,
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


def count_readings(
    counts: Mapping[str, Any],
    *,
    loc: Loc,
    window: TimeWindow = TimeWindow.LIFETIME,
    window_start: datetime | None = None,
    cumulative: bool | None = None,
) -> tuple[list[Reading], list[Skipped]]:
    """Readings of validated counts (name -> int or None); a None is listed as no value."""
    readings: list[Reading] = []
    skipped: list[Skipped] = []
    for name, value in counts.items():
        if value is None:
            skipped.append(skip((*loc, name), SkipKind.NO_VALUE, "null: no value sent", name))
            continue
        readings.append(
            Reading(name, Decimal(value), window, window_start, cumulative, loc=(*loc, name))
        )
    return readings, skipped


def model_counts(model: BaseModel, names: Iterable[str]) -> dict[str, Any]:
    """The documented count fields a payload object carried (set, even if null)."""
    return {name: getattr(model, name) for name in names if name in model.model_fields_set}
