"""LinkedIn adapter: `organizationalEntityShareStatistics` elements with `totalShareStatistics`,
per share/ugcPost (post level) or per organization (account level), lifetime or time-bound.

The organization URN in each element (`organizationalEntity`) is the account: it becomes the
observations' account id, and a payload about another organization than the context's account
(given as a URN or a numeric organization id) is refused.

Reference: learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/
share-statistics (schema: organizationalEntity, share, ugcPost, timeRange, totalShareStatistics).
"""

# Field names are the platform's own JSON names (lowerCamelCase), so a path names the field.
# ruff: noqa: N815

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field, Strict

from services.metrics.adapters.common import (
    WINDOW_LENGTH,
    AdapterResult,
    JsonCount,
    Loc,
    NativeId,
    ObservationContext,
    PayloadError,
    PayloadModel,
    SkipKind,
    count_readings,
    model_counts,
    skip,
)
from services.metrics.adapters.observations import entity_observations, merge
from shared.events import EntityLevel, Platform, TimeWindow

LINKEDIN_API = "linkedin_rest"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Epoch milliseconds up to 2200-01-01, the last instant we store.
EpochMillis = Annotated[int, Strict(), Field(ge=0, le=7_258_118_400_000)]
OrganizationUrn = Annotated[
    str, Strict(), Field(pattern=r"^urn:li:(organization|organizationBrand):[0-9]{1,20}$")
]
Ratio = Annotated[float, Field(ge=0, allow_inf_nan=False)]

COUNTS = (
    "impressionCount", "uniqueImpressionsCount", "clickCount", "likeCount", "commentCount",
    "shareCount", "shareMentionsCount", "commentMentionsCount",
)  # fmt: skip


class TimeRange(PayloadModel):
    start: EpochMillis
    end: EpochMillis


class ShareStatistics(PayloadModel):
    impressionCount: JsonCount | None = None
    uniqueImpressionsCount: JsonCount | None = None
    clickCount: JsonCount | None = None
    likeCount: JsonCount | None = None
    commentCount: JsonCount | None = None
    shareCount: JsonCount | None = None
    shareMentionsCount: JsonCount | None = None
    commentMentionsCount: JsonCount | None = None
    engagement: Ratio | None = None


class Element(PayloadModel):
    organizationalEntity: OrganizationUrn
    share: NativeId | None = None
    ugcPost: NativeId | None = None
    timeRange: TimeRange | None = None
    totalShareStatistics: ShareStatistics


class ShareStatisticsResponse(PayloadModel):
    elements: list[Element]


def linkedin_share_statistics(payload: Any, *, context: ObservationContext) -> AdapterResult:
    """Observations from a share statistics response, one per element."""
    response = ShareStatisticsResponse.model_validate(payload)
    account = _account(response.elements, context=context)
    results = []
    for i, element in enumerate(response.elements):
        loc: Loc = ("elements", i)
        window, window_start = _window(element.timeRange, loc=(*loc, "timeRange"))
        stats = element.totalShareStatistics
        where = (*loc, "totalShareStatistics")
        readings, skipped = count_readings(
            model_counts(stats, COUNTS), loc=where, window=window, window_start=window_start
        )
        if "engagement" in stats.model_fields_set:
            skipped.append(skip((*where, "engagement"), SkipKind.IGNORED,
                                "a ratio the platform computes: its components are stored",
                                "engagement"))  # fmt: skip
        skipped += [
            skip((*where, n), SkipKind.UNMAPPED, "not a documented share statistic", n)
            for n in stats.model_extra or {}
        ]
        post = element.share or element.ugcPost
        results.append(
            entity_observations(
                readings,
                platform=Platform.LINKEDIN,
                api=LINKEDIN_API,
                context=context,
                entity_level=EntityLevel.POST if post else EntityLevel.ACCOUNT,
                entity_id=post or account,
                account_id=account,
                skipped=skipped,
                loc=loc,
            )
        )
    return merge(results, context=context)


def _account(elements: list[Element], *, context: ObservationContext) -> str | None:
    """The organization URN the payload is about, checked against the context's account."""
    if not elements:
        return None
    urn = elements[0].organizationalEntity
    for i, element in enumerate(elements):
        if element.organizationalEntity != urn:
            raise PayloadError(
                f"elements about {urn} and {element.organizationalEntity} in one payload",
                loc=("elements", i, "organizationalEntity"),
            )
    given = context.account_id
    names_an_organization = given.startswith("urn:li:") or given.isdigit()
    if names_an_organization and given not in (urn, urn.rsplit(":", 1)[1]):
        raise PayloadError(
            f"the payload is about {urn}, the context's account is {given}",
            loc=("elements", 0, "organizationalEntity"),
        )
    return urn


def _window(time_range: TimeRange | None, *, loc: Loc) -> tuple[TimeWindow, datetime | None]:
    """The window of a `timeRange` in epoch milliseconds (DAY granularity); lifetime if none."""
    if time_range is None:
        return TimeWindow.LIFETIME, None
    start = _EPOCH + timedelta(milliseconds=time_range.start)
    end = _EPOCH + timedelta(milliseconds=time_range.end)
    for window, length in WINDOW_LENGTH.items():
        if end - start == length:
            return window, start
    raise PayloadError(f"a timeRange of {end - start} matches no supported window", loc=loc)
