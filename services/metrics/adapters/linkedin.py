"""LinkedIn adapter: `organizationalEntityShareStatistics` elements with `totalShareStatistics`,
per share/ugcPost (post level) or per organization (account level), lifetime or time-bound.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.metrics.adapters.common import (
    WINDOW_LENGTH,
    AdapterResult,
    ObservationContext,
    PayloadError,
    entity_observations,
    merge,
    read_known,
)
from shared.events import EntityLevel, Platform, TimeWindow

LINKEDIN_API = "linkedin_rest"


def linkedin_share_statistics(
    payload: dict[str, Any], *, context: ObservationContext
) -> AdapterResult:
    """Observations from a share statistics response, one per element."""
    elements = payload.get("elements")
    if not isinstance(elements, list):
        raise PayloadError("linkedin share statistics: expected an 'elements' list")
    results = []
    for element in elements:
        stats = element.get("totalShareStatistics")
        if not isinstance(stats, dict):
            raise PayloadError("linkedin element without 'totalShareStatistics'")
        window, window_start = _window(element.get("timeRange"))
        readings, unknown = read_known(
            stats, platform=Platform.LINKEDIN, window=window, window_start=window_start
        )
        post = element.get("share") or element.get("ugcPost")
        results.append(
            entity_observations(
                readings,
                platform=Platform.LINKEDIN,
                api=LINKEDIN_API,
                context=context,
                entity_level=EntityLevel.POST if post else EntityLevel.ACCOUNT,
                entity_id=str(post) if post else None,
                unknown=unknown,
            )
        )
    return merge(results, context=context)


def _window(time_range: dict[str, Any] | None) -> tuple[TimeWindow, datetime | None]:
    """The window of a `timeRange` in epoch milliseconds (DAY granularity); lifetime if none."""
    if not time_range:
        return TimeWindow.LIFETIME, None
    start = datetime.fromtimestamp(int(time_range["start"]) / 1000, UTC)
    end = datetime.fromtimestamp(int(time_range["end"]) / 1000, UTC)
    for window, length in WINDOW_LENGTH.items():
        if end - start == length:
            return window, start
    raise PayloadError(f"linkedin timeRange of {end - start} matches no supported window")
