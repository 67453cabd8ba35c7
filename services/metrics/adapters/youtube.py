"""YouTube adapters: Analytics API reports (`columnHeaders` + `rows`, dimensions `day` and/or
`video`) and Data API `statistics` of videos and channels.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from services.metrics.adapters.common import (
    AdapterResult,
    ObservationContext,
    PayloadError,
    entity_observations,
    merge,
    read_known,
)
from shared.events import EntityLevel, Platform, TimeWindow

ANALYTICS_API = "youtube_analytics_v2"
DATA_API = "youtube_data_v3"
# YouTube Analytics reports its days in Pacific time.
REPORT_TIMEZONE = "America/Los_Angeles"

_SUPPORTED_DIMENSIONS = frozenset({"day", "video"})


def youtube_report(
    payload: dict[str, Any],
    *,
    context: ObservationContext,
    window: TimeWindow = TimeWindow.LIFETIME,
    window_start: datetime | None = None,
    report_timezone: str = REPORT_TIMEZONE,
) -> AdapterResult:
    """Observations from a `reports.query` result, one per row (channel or video, per day).

    Without a `day` dimension the row covers the queried date range: say which with `window`
    and `window_start` (lifetime when the range starts at the channel's creation).
    """
    headers = payload.get("columnHeaders")
    if not isinstance(headers, list):
        raise PayloadError("youtube report: expected 'columnHeaders'")
    names = [str(h["name"]) for h in headers]
    dimensions = [str(h["name"]) for h in headers if h.get("columnType") == "DIMENSION"]
    unsupported = sorted(set(dimensions) - _SUPPORTED_DIMENSIONS)
    if unsupported:
        raise PayloadError(f"youtube report: dimension(s) {unsupported} split totals; unsupported")
    metric_names = [n for n in names if n not in dimensions]
    zone = ZoneInfo(report_timezone)
    results = []
    for row in payload.get("rows") or []:  # no 'rows' key when there is no data
        if len(row) != len(names):
            raise PayloadError(f"youtube report: row {row!r} does not match the headers")
        cells = dict(zip(names, row, strict=True))
        row_window, row_start = window, window_start
        if "day" in cells:
            row_window = TimeWindow.DAY
            row_start = datetime.combine(date.fromisoformat(str(cells["day"])), time(), zone)
        readings, unknown = read_known(
            cells,
            platform=Platform.YOUTUBE,
            names=metric_names,
            window=row_window,
            window_start=row_start,
        )
        video = cells.get("video")
        results.append(
            entity_observations(
                readings,
                platform=Platform.YOUTUBE,
                api=ANALYTICS_API,
                context=context,
                entity_level=EntityLevel.VIDEO if video else EntityLevel.ACCOUNT,
                entity_id=str(video) if video else None,
                content_type=context.content_type or ("video" if video else None),
                unknown=unknown,
            )
        )
    return merge(results, context=context)


def youtube_statistics(payload: dict[str, Any], *, context: ObservationContext) -> AdapterResult:
    """Lifetime counts from a Data API `videos.list` or `channels.list` response (`statistics`)."""
    results = []
    for item in payload.get("items") or []:
        stats = dict(item.get("statistics") or {})
        # Counts arrive as strings; hiddenSubscriberCount is a flag, not a count.
        counts = [n for n in stats if n.endswith("Count") and not isinstance(stats[n], bool)]
        readings, unknown = read_known(stats, platform=Platform.YOUTUBE, names=counts)
        is_channel = item.get("kind") == "youtube#channel"
        results.append(
            entity_observations(
                readings,
                platform=Platform.YOUTUBE,
                api=DATA_API,
                context=context,
                entity_level=EntityLevel.ACCOUNT if is_channel else EntityLevel.VIDEO,
                entity_id=None if is_channel else str(item["id"]),
                content_type=context.content_type or (None if is_channel else "video"),
                unknown=unknown,
            )
        )
    return merge(results, context=context)
