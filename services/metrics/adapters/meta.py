"""Instagram and Facebook adapters: Graph API insights (`{"data": [{"name", "period", "values"}]}`)
and node fields (IG User `followers_count`, IG Media `like_count`, ...).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.metrics.adapters.common import (
    WINDOW_LENGTH,
    AdapterResult,
    ObservationContext,
    PayloadError,
    Reading,
    entity_observations,
    merge,
    native_number,
    parse_timestamp,
    read_known,
)
from services.metrics.registry import canonical
from shared.events import EntityLevel, Platform, TimeWindow

INSTAGRAM_API = "instagram_graph"
FACEBOOK_API = "facebook_graph"

_PERIODS = {
    "lifetime": TimeWindow.LIFETIME,
    "day": TimeWindow.DAY,
    "week": TimeWindow.WEEK,
    "days_28": TimeWindow.DAYS_28,
}


def instagram_insights(
    payload: dict[str, Any],
    *,
    context: ObservationContext,
    entity_level: EntityLevel = EntityLevel.POST,
    entity_id: str | None = None,
    window_start: datetime | None = None,
) -> AdapterResult:
    """Observations from an IG Media or IG User `/insights` response."""
    return _insights(
        payload,
        platform=Platform.INSTAGRAM,
        api=INSTAGRAM_API,
        context=context,
        entity_level=entity_level,
        entity_id=entity_id,
        window_start=window_start,
    )


def facebook_insights(
    payload: dict[str, Any],
    *,
    context: ObservationContext,
    entity_level: EntityLevel = EntityLevel.ACCOUNT,
    entity_id: str | None = None,
    window_start: datetime | None = None,
) -> AdapterResult:
    """Observations from a Facebook Page or Page post `/insights` response."""
    return _insights(
        payload,
        platform=Platform.FACEBOOK,
        api=FACEBOOK_API,
        context=context,
        entity_level=entity_level,
        entity_id=entity_id,
        window_start=window_start,
    )


def instagram_fields(
    payload: dict[str, Any],
    *,
    context: ObservationContext,
    entity_level: EntityLevel = EntityLevel.ACCOUNT,
) -> AdapterResult:
    """Observations from an IG User node (`followers_count`) or IG Media node (`like_count`)."""
    _raise_graph_error(payload, platform=Platform.INSTAGRAM)
    names = [key for key in payload if key.endswith("_count")]
    readings, unknown = read_known(payload, platform=Platform.INSTAGRAM, names=names)
    entity_id = None if entity_level is EntityLevel.ACCOUNT else _required_id(payload)
    result = entity_observations(
        readings,
        platform=Platform.INSTAGRAM,
        api=INSTAGRAM_API,
        context=context,
        entity_level=entity_level,
        entity_id=entity_id,
        unknown=unknown,
    )
    return merge([result], context=context)


def _insights(
    payload: dict[str, Any],
    *,
    platform: Platform,
    api: str,
    context: ObservationContext,
    entity_level: EntityLevel,
    entity_id: str | None,
    window_start: datetime | None,
) -> AdapterResult:
    _raise_graph_error(payload, platform=platform)
    entries = payload.get("data")
    if not isinstance(entries, list):
        raise PayloadError(f"{platform} insights: expected a 'data' list")
    readings: list[Reading] = []
    unknown: list[str] = []
    object_ids: set[str] = set()
    for entry in entries:
        name = str(entry["name"])
        period = str(entry.get("period", "lifetime"))
        if "/insights/" in str(entry.get("id", "")):
            object_ids.add(str(entry["id"]).split("/insights/")[0])
        window = _PERIODS.get(period)
        if canonical(platform, name) is None or window is None:
            unknown.append(name if window else f"{name}/{period}")
            continue
        if "total_value" in entry:  # metric_type=total_value: one figure for the queried range
            values: list[dict[str, Any]] = [entry["total_value"]]
        else:
            values = list(entry.get("values") or [])
        for item in values:
            reading = _reading(
                name, item, window=window, window_start=window_start, platform=platform
            )
            if reading is not None:
                readings.append(reading)
    if entity_level is not EntityLevel.ACCOUNT and entity_id is None:
        if len(object_ids) != 1:
            raise PayloadError(f"{platform} insights: pass entity_id (payload ids: {object_ids})")
        entity_id = object_ids.pop()
    result = entity_observations(
        readings,
        platform=platform,
        api=api,
        context=context,
        entity_level=entity_level,
        entity_id=entity_id,
        unknown=unknown,
    )
    return merge([result], context=context)


def _reading(
    name: str,
    item: dict[str, Any],
    *,
    window: TimeWindow,
    window_start: datetime | None,
    platform: Platform,
) -> Reading | None:
    """One value of an insights entry; Meta's `end_time` closes the period the value covers."""
    raw = item.get("value")
    if isinstance(raw, dict):  # a breakdown such as reactions by type: the total is the sum
        parts = [native_number(v, platform=platform, name=f"{name}.{k}") for k, v in raw.items()]
        value: Decimal | None = sum((p for p in parts if p is not None), Decimal(0))
    else:
        value = native_number(raw, platform=platform, name=name)
    if value is None:
        return None
    if "end_time" not in item:
        return Reading(name, value, window, window_start)
    end = parse_timestamp(item["end_time"], platform=platform, name=f"{name}.end_time")
    if window is TimeWindow.LIFETIME:
        # A dated lifetime value is the running total at the end of that day.
        return Reading(name, value, TimeWindow.DAY, end - timedelta(days=1), cumulative=True)
    return Reading(name, value, window, end - WINDOW_LENGTH[window])


def _raise_graph_error(payload: dict[str, Any], *, platform: Platform) -> None:
    error = payload.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else error
        raise PayloadError(f"{platform} Graph API error: {message}")


def _required_id(payload: dict[str, Any]) -> str:
    if not payload.get("id"):
        raise PayloadError("node payload has no 'id'")
    return str(payload["id"])
