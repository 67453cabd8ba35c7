"""YouTube adapters: Analytics API reports (`columnHeaders` + `rows`, dimensions `day` and/or
`video`) and Data API `statistics` of videos and channels (counts as strings, per the API).

References: developers.google.com/youtube/analytics/reference/reports/query (resultTable),
developers.google.com/youtube/v3/docs/videos#statistics, .../v3/docs/channels#statistics,
developers.google.com/youtube/v3/docs/errors (error responses).
"""

# Field names are the platform's own JSON names (lowerCamelCase), so a path names the field.
# ruff: noqa: N815

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from services.metrics.adapters.common import (
    AdapterResult,
    Loc,
    NativeId,
    ObservationContext,
    PayloadError,
    PayloadModel,
    Reading,
    SkipKind,
    Skipped,
    skip,
    time_zone,
)
from services.metrics.adapters.meta_models import DigitString, NativeName, string_count
from services.metrics.adapters.observations import entity_observations, merge
from shared.bounds import MAX_COUNT
from shared.events import EntityLevel, Platform, TimeWindow

ANALYTICS_API = "youtube_analytics_v2"
DATA_API = "youtube_data_v3"
# YouTube Analytics reports its days in Pacific time.
REPORT_TIMEZONE = "America/Los_Angeles"

_SUPPORTED_DIMENSIONS = frozenset({"day", "video"})

Cell = Annotated[str, Strict()] | Annotated[int, Strict()] | Annotated[float, Strict()] | None


class ReportOptions(BaseModel):
    """The window of a report without a `day` dimension: the queried date range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: TimeWindow = Field(
        default=TimeWindow.LIFETIME,
        description="The queried range: lifetime when it starts at the channel's creation.",
    )
    window_start: AwareDatetime | None = Field(
        default=None, description="Start of the queried range (startDate), for a bounded one."
    )
    report_timezone: str = Field(default=REPORT_TIMEZONE, max_length=64)

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        time_zone(value)
        return value

    @model_validator(mode="after")
    def _start_for_bounded_windows(self) -> Self:
        if (self.window is TimeWindow.LIFETIME) != (self.window_start is None):
            raise ValueError("window_start is required for a bounded window, and only then")
        return self


class ApiError(PayloadModel):
    code: int | None = None
    message: str


class ColumnHeader(PayloadModel):
    name: NativeName
    columnType: Literal["DIMENSION", "METRIC"]
    dataType: str | None = None


class ResultTable(PayloadModel):
    kind: str | None = None
    columnHeaders: list[ColumnHeader] | None = None
    rows: list[list[Cell]] | None = None  # no 'rows' key when there is no data
    error: ApiError | None = None


class Statistics(PayloadModel):
    viewCount: DigitString | None = None
    likeCount: DigitString | None = None
    dislikeCount: DigitString | None = None
    favoriteCount: DigitString | None = None
    commentCount: DigitString | None = None
    subscriberCount: DigitString | None = None
    hiddenSubscriberCount: bool | None = None
    videoCount: DigitString | None = None


_VIDEO_STATS = ("viewCount", "likeCount", "dislikeCount", "favoriteCount", "commentCount")
_CHANNEL_STATS = ("viewCount", "subscriberCount", "videoCount")


class Item(PayloadModel):
    kind: Literal["youtube#video", "youtube#channel"]
    id: NativeId
    statistics: Statistics | None = None


class ListResponse(PayloadModel):
    kind: str | None = None
    items: list[Item] = Field(default_factory=list)
    error: ApiError | None = None


def youtube_report(
    payload: Any,
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
    table = ResultTable.model_validate(payload)
    if table.error is not None:
        raise PayloadError(f"YouTube API error {table.error.code}: {table.error.message}",
                           loc=("error",))  # fmt: skip
    if table.columnHeaders is None:
        raise PayloadError("a report has 'columnHeaders'", loc=("columnHeaders",))
    headers = table.columnHeaders
    for j, header in enumerate(headers):
        if header.columnType == "DIMENSION" and header.name not in _SUPPORTED_DIMENSIONS:
            raise PayloadError(
                f"dimension '{header.name}' splits totals; only day and video are supported",
                loc=("columnHeaders", j, "name"),
            )
    zone = ZoneInfo(report_timezone)
    results = []
    for i, row in enumerate(table.rows or []):
        if len(row) != len(headers):
            raise PayloadError(f"{len(row)} cells for {len(headers)} columnHeaders",
                               loc=("rows", i))  # fmt: skip
        row_window, row_start = window, window_start
        video = None
        readings: list[Reading] = []
        skipped: list[Skipped] = []
        for j, (header, cell) in enumerate(zip(headers, row, strict=True)):
            loc = ("rows", i, j)
            if header.name == "day":
                row_window = TimeWindow.DAY
                row_start = datetime.combine(_day(cell, loc=loc), time(), zone)
            elif header.name == "video":
                video = _video_id(cell, loc=loc)
            elif cell is None:
                skipped.append(skip(loc, SkipKind.NO_VALUE, "null: no value sent", header.name))
            else:
                value = _number(cell, integer=header.dataType == "INTEGER", loc=loc)
                readings.append(Reading(header.name, value, loc=loc))
        readings = [
            Reading(r.native_name, r.value, row_window, row_start, loc=r.loc) for r in readings
        ]
        results.append(
            entity_observations(
                readings,
                platform=Platform.YOUTUBE,
                api=ANALYTICS_API,
                context=context,
                entity_level=EntityLevel.VIDEO if video else EntityLevel.ACCOUNT,
                entity_id=video,
                content_type=context.content_type or ("video" if video else None),
                skipped=skipped,
                loc=("rows", i),
            )
        )
    return merge(results, context=context)


def youtube_statistics(payload: Any, *, context: ObservationContext) -> AdapterResult:
    """Lifetime counts from a Data API `videos.list` or `channels.list` response (`statistics`)."""
    response = ListResponse.model_validate(payload)
    if response.error is not None:
        raise PayloadError(
            f"YouTube API error {response.error.code}: {response.error.message}", loc=("error",)
        )
    results = []
    for i, item in enumerate(response.items):
        loc: Loc = ("items", i, "statistics")
        is_channel = item.kind == "youtube#channel"
        documented = _CHANNEL_STATS if is_channel else _VIDEO_STATS
        readings: list[Reading] = []
        skipped: list[Skipped] = []
        stats = item.statistics
        if stats is None:
            skipped.append(
                skip(loc, SkipKind.NO_VALUE, "no statistics part: request part=statistics")
            )
        else:
            for name in sorted(stats.model_fields_set | set(stats.model_extra or {})):
                value = getattr(stats, name)
                if name == "hiddenSubscriberCount":
                    continue  # a flag, not a count
                if name not in documented:
                    what = "channel" if is_channel else "video"
                    skipped.append(skip((*loc, name), SkipKind.UNMAPPED,
                                        f"not a documented {what} statistic", name))  # fmt: skip
                elif value is None:
                    skipped.append(
                        skip((*loc, name), SkipKind.NO_VALUE, "null: no value sent", name)
                    )
                else:
                    readings.append(Reading(name, Decimal(string_count(value)), loc=(*loc, name)))
        results.append(
            entity_observations(
                readings,
                platform=Platform.YOUTUBE,
                api=DATA_API,
                context=context,
                entity_level=EntityLevel.ACCOUNT if is_channel else EntityLevel.VIDEO,
                entity_id=None if is_channel else item.id,
                content_type=context.content_type or (None if is_channel else "video"),
                skipped=skipped,
                loc=("items", i),
            )
        )
    return merge(results, context=context)


def _day(cell: Any, *, loc: Loc) -> date:
    if not isinstance(cell, str):
        raise PayloadError(f"a day is a 'YYYY-MM-DD' string, not {cell!r}", loc=loc)
    try:
        return date.fromisoformat(cell)
    except ValueError as e:
        raise PayloadError(f"not a 'YYYY-MM-DD' day ({e}): {cell!r}", loc=loc) from None


def _video_id(cell: Any, *, loc: Loc) -> str:
    if not isinstance(cell, str) or not 0 < len(cell.strip()) <= 128:
        raise PayloadError(f"a video id is a non-empty string, not {cell!r}", loc=loc)
    return cell.strip()


def _number(cell: Any, *, integer: bool, loc: Loc) -> Decimal:
    if isinstance(cell, str) or (integer and not isinstance(cell, int)):
        kind = "an integer" if integer else "a number"
        raise PayloadError(f"a metric cell is {kind}, not {cell!r}", loc=loc)
    value = Decimal(repr(cell)) if isinstance(cell, float) else Decimal(cell)
    if not value.is_finite() or value < 0 or value > MAX_COUNT:
        raise PayloadError(f"not a count between 0 and {MAX_COUNT:,}: {cell!r}", loc=loc)
    return value
