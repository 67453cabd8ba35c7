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
    computed_field,
)

from shared.bounds import MAX_COUNT, MAX_ID_LENGTH
from shared.envelope import derived_event_id
from shared.events import (
    AnalyticsObserved,
    EntityLevel,
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
    campaign_id: str | None = None  # the entity's ad campaign: on each of its observations

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
