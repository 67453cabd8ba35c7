"""Instagram and Facebook adapters: Graph API insights (`{"data": [{"name", "period", "values"}]}`)
and node fields (IG User `followers_count`, IG Media `like_count`, ...).

The entity level comes from the endpoint's shape, never from a default: `/{ig-user-id}/insights`
has day/week/28-day periods and `total_value`, `/{ig-media-id}/insights` only lifetime values;
Facebook Page metrics are named `page_*`, Page post metrics `post_*`. When the shape does not
say, `options.entity_level` must.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.metrics.adapters.common import (
    WINDOW_LENGTH,
    AdapterResult,
    Loc,
    NativeId,
    ObservationContext,
    PayloadError,
    Reading,
    SkipKind,
    Skipped,
    count_readings,
    model_counts,
    skip,
)
from services.metrics.adapters.meta_models import (
    IG_MEDIA_COUNTS,
    IG_NODE_FIELDS,
    IG_USER_COUNTS,
    IgNode,
    InsightEntry,
    InsightsResponse,
    InsightValue,
)
from services.metrics.adapters.observations import entity_observations, merge
from shared.events import EntityLevel, Platform, TimeWindow

INSTAGRAM_API = "instagram_graph"
FACEBOOK_API = "facebook_graph"

_PERIODS = {
    "lifetime": TimeWindow.LIFETIME,
    "day": TimeWindow.DAY,
    "week": TimeWindow.WEEK,
    "days_28": TimeWindow.DAYS_28,
}
_ACCOUNT_PERIODS = frozenset({"day", "week", "days_28"})  # IG media insights are lifetime only


class InsightsOptions(BaseModel):
    """What the poller knows about an insights request that the response does not say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_level: EntityLevel | None = Field(
        default=None,
        description="Whose insights: account for `/{user-or-page-id}/insights`, post (or "
        "story, video) for `/{media-or-post-id}/insights`. Inferred from the payload's shape "
        "when it is unambiguous; otherwise required.",
    )
    entity_id: NativeId | None = Field(
        default=None, description="The media/post id, when the payload's entry ids lack it."
    )
    window_start: AwareDatetime | None = Field(
        default=None,
        description="Start of the queried range (`since`), for values without `end_time` "
        "(metric_type=total_value).",
    )


class InstagramFieldsOptions(BaseModel):
    """Which node the fields belong to, when the fields themselves do not say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_level: EntityLevel | None = Field(
        default=None,
        description="account for IG User fields (followers_count), post for IG Media fields "
        "(like_count); inferred from which count fields are present.",
    )


def instagram_insights(
    payload: Any,
    *,
    context: ObservationContext,
    entity_level: EntityLevel | None = None,
    entity_id: str | None = None,
    window_start: datetime | None = None,
) -> AdapterResult:
    """Observations from an IG Media or IG User `/insights` response."""
    response = InsightsResponse.model_validate(payload)
    entries = _entries(response)
    level = entity_level or _instagram_level(entries, context=context)
    return _insights(
        entries,
        platform=Platform.INSTAGRAM,
        api=INSTAGRAM_API,
        context=context,
        entity_level=level,
        entity_id=entity_id,
        window_start=window_start,
    )


def facebook_insights(
    payload: Any,
    *,
    context: ObservationContext,
    entity_level: EntityLevel | None = None,
    entity_id: str | None = None,
    window_start: datetime | None = None,
) -> AdapterResult:
    """Observations from a Facebook Page or Page post `/insights` response."""
    response = InsightsResponse.model_validate(payload)
    entries = _entries(response)
    level = entity_level or _facebook_level(entries)
    return _insights(
        entries,
        platform=Platform.FACEBOOK,
        api=FACEBOOK_API,
        context=context,
        entity_level=level,
        entity_id=entity_id,
        window_start=window_start,
    )


def instagram_fields(
    payload: Any, *, context: ObservationContext, entity_level: EntityLevel | None = None
) -> AdapterResult:
    """Observations from an IG User node (`followers_count`) or IG Media node (`like_count`).

    Only documented count fields are read, each under its own meaning: a misspelt field is
    listed as undocumented, never read as another metric.
    """
    node = IgNode.model_validate(payload)
    node.raise_error()
    user = [n for n in IG_USER_COUNTS if n in node.model_fields_set]
    media = [n for n in IG_MEDIA_COUNTS if n in node.model_fields_set]
    if entity_level is None:
        if user and media:
            raise PayloadError(
                f"IG User fields {user} and IG Media fields {media} in one node", loc=()
            )
        if not (user or media):
            return AdapterResult(skipped=tuple(_undocumented_node_fields(node)))
        entity_level = EntityLevel.ACCOUNT if user else EntityLevel.POST
    entity_id = None
    if entity_level is not EntityLevel.ACCOUNT:
        if node.id is None:
            raise PayloadError("an IG Media node needs its 'id'", loc=("id",))
        entity_id = node.id
    readings, skipped = count_readings(model_counts(node, [*user, *media]), loc=())
    result = entity_observations(
        readings,
        platform=Platform.INSTAGRAM,
        api=INSTAGRAM_API,
        context=context,
        entity_level=entity_level,
        entity_id=entity_id,
        skipped=[*skipped, *_undocumented_node_fields(node)],
    )
    return merge([result], context=context)


def _undocumented_node_fields(node: IgNode) -> list[Skipped]:
    return [
        skip((name,), SkipKind.UNMAPPED, "not a documented IG User or IG Media field", name)
        for name in node.model_extra or {}
        if name not in IG_NODE_FIELDS
    ]


def _entries(response: InsightsResponse) -> list[InsightEntry]:
    response.raise_error()
    if response.data is None:
        raise PayloadError("an insights response has a 'data' list", loc=("data",))
    return response.data


def _instagram_level(entries: list[InsightEntry], *, context: ObservationContext) -> EntityLevel:
    """IG User insights have day/week/28-day periods, `total_value` or dated values; IG Media
    insights have undated lifetime values only."""
    if not entries:
        return EntityLevel.POST  # nothing to store either way
    ids = {e.object_id for e in entries} - {None}
    if ids == {context.account_id}:
        return EntityLevel.ACCOUNT
    periods = {e.period for e in entries}
    if periods & _ACCOUNT_PERIODS or any(e.total_value is not None for e in entries):
        return EntityLevel.ACCOUNT
    dated = any(v.end_time is not None for e in entries for v in e.values or [])
    if periods == {"lifetime"} and not dated:
        return EntityLevel.POST
    raise PayloadError(
        "cannot tell IG User insights from IG Media insights by the payload's shape; "
        "pass options.entity_level",
        loc=("data",),
    )


def _facebook_level(entries: list[InsightEntry]) -> EntityLevel:
    """Page insights metrics are named `page_*`, Page post insights metrics `post_*`."""
    prefixes = {e.name.split("_", 1)[0] for e in entries}
    if prefixes <= {"page"}:
        return EntityLevel.ACCOUNT
    if prefixes == {"post"}:
        return EntityLevel.POST
    raise PayloadError(
        "Page (page_*) and post (post_*) metrics, or neither, in one payload: "
        "pass options.entity_level",
        loc=("data",),
    )


def _insights(
    entries: list[InsightEntry],
    *,
    platform: Platform,
    api: str,
    context: ObservationContext,
    entity_level: EntityLevel,
    entity_id: str | None,
    window_start: datetime | None,
) -> AdapterResult:
    readings: list[Reading] = []
    skipped: list[Skipped] = []
    object_ids: dict[str, int] = {}
    for i, entry in enumerate(entries):
        loc = ("data", i)
        if entry.object_id is not None:
            object_ids.setdefault(entry.object_id, i)
        window = _PERIODS.get(entry.period)
        if window is None:
            skipped.append(
                skip(
                    (*loc, "period"),
                    SkipKind.IGNORED,
                    f"period '{entry.period}' is not a supported window",
                    entry.name,
                )
            )
            continue
        values: list[tuple[Loc, InsightValue]]
        if entry.total_value is not None:  # metric_type=total_value: the queried range
            values = [(("total_value",), InsightValue(value=entry.total_value.value))]
        else:
            values = [(("values", j), item) for j, item in enumerate(entry.values or [])]
        if not values:
            skipped.append(skip(loc, SkipKind.NO_VALUE, "the entry has no values", entry.name))
        for where, item in values:
            reading = _reading(
                entry.name, item, window=window, window_start=window_start, loc=(*loc, *where)
            )
            if reading is None:
                skipped.append(
                    skip((*loc, *where), SkipKind.NO_VALUE, "null: no value sent", entry.name)
                )
            else:
                readings.append(reading)
    account_level = entity_level is EntityLevel.ACCOUNT
    if not account_level:
        entity_id = _entity_id(entity_id, object_ids)
    result = entity_observations(
        readings,
        platform=platform,
        api=api,
        context=context,
        entity_level=entity_level,
        entity_id=None if account_level else entity_id,
        skipped=skipped,
        loc=("data",),
    )
    return merge([result], context=context)


def _entity_id(given: str | None, object_ids: dict[str, int]) -> str:
    if given is not None:
        for object_id, i in object_ids.items():
            if object_id != given:
                raise PayloadError(
                    f"the entry is about '{object_id}', options.entity_id says '{given}'",
                    loc=("data", i, "id"),
                )
        return given
    if len(object_ids) != 1:
        raise PayloadError(
            f"entries are about {sorted(object_ids) or 'no object id'}: pass options.entity_id",
            loc=("data",),
        )
    return next(iter(object_ids))


def _reading(
    name: str,
    item: InsightValue,
    *,
    window: TimeWindow,
    window_start: datetime | None,
    loc: tuple[str | int, ...],
) -> Reading | None:
    """One value of an insights entry; Meta's `end_time` closes the period the value covers."""
    raw = item.value
    if isinstance(raw, dict):  # a breakdown such as reactions by type: the sum of its parts
        parts = [v for v in raw.values() if v is not None]
        raw = sum(parts) if parts else None
    if raw is None:
        return None
    value = Decimal(raw)
    loc = (*loc, "value") if loc[-1] != "total_value" else loc
    if item.end_time is None:
        if window is not TimeWindow.LIFETIME and window_start is None:
            raise PayloadError(
                f"a {window} value without end_time: pass options.window_start", loc=loc
            )
        return Reading(name, value, window, window_start, loc=loc)
    end = item.end_time
    if window is TimeWindow.LIFETIME:
        # A dated lifetime value is the running total at the end of that day.
        return Reading(name, value, TimeWindow.DAY, end - timedelta(days=1), True, loc=loc)
    return Reading(name, value, window, end - WINDOW_LENGTH[window], loc=loc)
