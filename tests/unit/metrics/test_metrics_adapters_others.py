"""X, TikTok, YouTube and LinkedIn adapters against recorded payload shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from services.metrics.adapters import (
    ObservationContext,
    PayloadError,
    linkedin_share_statistics,
    tiktok_user,
    tiktok_videos,
    x_posts,
    x_user,
    youtube_report,
    youtube_statistics,
)
from shared.events import AnalyticsObserved, EntityLevel, TimeWindow

if TYPE_CHECKING:
    from decimal import Decimal

Load = Callable[[str], dict[str, Any]]


def values(observation: AnalyticsObserved) -> dict[str, Decimal]:
    return {m.name: m.value for m in observation.metrics}


def natives(observation: AnalyticsObserved) -> dict[str, str | None]:
    return {m.name: m.native_name for m in observation.metrics}


# --------------------------------------------------------------------------- X


def test_x_tweet_shares_are_retweets_plus_quotes(
    payload: Load, context: ObservationContext
) -> None:
    result = x_posts(payload("x_tweet"), context=context)

    [obs] = result.observations
    assert values(obs) == {
        "impressions": 12044, "likes": 187, "comments": 9, "shares": 14 + 3, "saves": 21,
        "clicks": 96,
    }  # fmt: skip
    assert natives(obs)["shares"] == "retweet_count+quote_count"
    assert natives(obs)["comments"] == "reply_count"
    assert (obs.entity_level, obs.entity_id) == (EntityLevel.POST, "1852736490876543210")
    assert obs.source.api == "x_api_v2"
    assert result.unmapped == ("user_profile_clicks",)
    # public_metrics wins over non_public_metrics (impression_count in both); organic_metrics
    # splits the same totals by context: each duplicate is listed, none is counted twice.
    assert set(result.ignored) == {
        "impression_count", "like_count", "reply_count", "retweet_count", "url_link_clicks",
    }  # fmt: skip
    organic = {s.path for s in result.skipped if s.path.startswith("data.organic_metrics")}
    assert "data.organic_metrics.like_count" in organic


def test_x_public_only_tweets_have_no_clicks_rather_than_zero(
    payload: Load, context: ObservationContext
) -> None:
    result = x_posts(payload("x_tweets"), context=context)

    first, second = result.observations
    assert (first.entity_id, second.entity_id) == ("1790011122233344556", "1791234567890123456")
    assert "clicks" not in values(first)
    assert values(second)["shares"] == 11 + 6
    assert first.event_id != second.event_id


def test_x_user_maps_followers_only(payload: Load, context: ObservationContext) -> None:
    result = x_user(payload("x_user"), context=context)

    [obs] = result.observations
    assert values(obs) == {"followers": 8421}  # not like_count: those are likes *given*
    assert obs.entity_level is EntityLevel.ACCOUNT and obs.cumulative
    [liked] = [s for s in result.skipped if s.native_name == "like_count"]
    assert liked.path == "data.public_metrics.like_count" and "liked" in liked.reason


def test_x_negative_count_is_an_error(context: ObservationContext) -> None:
    tweet = {"id": "1", "public_metrics": {"like_count": 3, "retweet_count": -2}}
    with pytest.raises(ValidationError, match=r"public_metrics\.retweet_count"):
        x_posts(tweet, context=context)


def test_x_spend_for_several_tweets_is_refused(payload: Load, context: ObservationContext) -> None:
    with pytest.raises(PayloadError, match="post_id"):
        x_posts(payload("x_tweets"), context=context.model_copy(update={"post_id": "p-1"}))


# --------------------------------------------------------------------------- TikTok


def test_tiktok_videos(payload: Load, context: ObservationContext) -> None:
    result = tiktok_videos(payload("tiktok_videos"), context=context)

    first, second = result.observations
    assert values(first) == {"views": 48210, "likes": 5320, "comments": 211, "shares": 390}
    assert values(second)["views"] == 9120
    assert natives(first)["views"] == "view_count"
    assert {o.entity_level for o in result.observations} == {EntityLevel.VIDEO}
    assert {o.content_type for o in result.observations} == {"video"}
    assert result.unmapped == ()


def test_tiktok_user_followers(payload: Load, context: ObservationContext) -> None:
    result = tiktok_user(payload("tiktok_user"), context=context)

    [obs] = result.observations
    assert values(obs) == {"followers": 23104}
    assert set(result.unmapped) == {"following_count", "likes_count", "video_count"}


def test_tiktok_error_response_is_an_error(context: ObservationContext) -> None:
    error = {
        "data": {},
        "error": {"code": "access_token_invalid", "message": "The access token is invalid."},
    }
    with pytest.raises(PayloadError, match="access_token_invalid"):
        tiktok_videos(error, context=context)


# --------------------------------------------------------------------------- YouTube


def test_youtube_day_report_in_pacific_days_across_dst(
    payload: Load, context: ObservationContext
) -> None:
    result = youtube_report(payload("youtube_report_day"), context=context)

    days = result.observations
    # US DST began 2025-03-09 02:00 local: midnight moves from 08:00 to 07:00 UTC after it.
    assert [o.window_start for o in days] == [
        datetime(2025, 3, 8, 8, tzinfo=UTC),
        datetime(2025, 3, 9, 8, tzinfo=UTC),
        datetime(2025, 3, 10, 7, tzinfo=UTC),
    ]
    assert all(o.window is TimeWindow.DAY and not o.cumulative for o in days)
    assert values(days[0]) == {
        "views": 1204, "watch_time_s": 3011 * 60, "likes": 88, "comments": 14, "shares": 9,
        "followers_gained": 12, "followers_lost": 3,
    }  # fmt: skip
    assert natives(days[0])["watch_time_s"] == "estimatedMinutesWatched"
    assert days[0].entity_level is EntityLevel.ACCOUNT and days[0].entity_id == "acct-1"
    assert result.unmapped == ("dislikes",)
    # The average is redundant next to the total minutes, so it is not stored twice.
    assert result.ignored == ("averageViewDuration",)


def test_youtube_video_report_derives_watch_time_from_average(
    payload: Load, context: ObservationContext
) -> None:
    result = youtube_report(payload("youtube_report_video"), context=context)

    first, second = result.observations
    assert (first.entity_level, first.entity_id) == (EntityLevel.VIDEO, "dQw4w9WgXcQ")
    assert values(first) == {"views": 5210, "watch_time_s": 212 * 5210, "likes": 402}
    assert natives(first)["watch_time_s"] == "averageViewDuration*views"
    assert values(second)["watch_time_s"] == 95 * 1880
    assert result.ignored == ("averageViewPercentage",)
    assert (first.window, first.cumulative) == (TimeWindow.LIFETIME, True)


def test_youtube_report_split_by_country_is_refused(context: ObservationContext) -> None:
    report = {
        "columnHeaders": [
            {"name": "country", "columnType": "DIMENSION", "dataType": "STRING"},
            {"name": "views", "columnType": "METRIC", "dataType": "INTEGER"},
        ],
        "rows": [["US", 10], ["DE", 4]],
    }
    with pytest.raises(PayloadError, match="country"):
        youtube_report(report, context=context)


def test_youtube_channel_statistics_parse_string_counts(
    payload: Load, context: ObservationContext
) -> None:
    result = youtube_statistics(payload("youtube_channel_statistics"), context=context)

    [obs] = result.observations
    assert values(obs) == {"views": 1284730, "followers": 10400}
    assert natives(obs)["followers"] == "subscriberCount"
    assert obs.entity_level is EntityLevel.ACCOUNT and obs.cumulative
    assert result.unmapped == ("videoCount",)


# --------------------------------------------------------------------------- LinkedIn


def test_linkedin_share_statistics_per_post(payload: Load, context: ObservationContext) -> None:
    result = linkedin_share_statistics(payload("linkedin_share_statistics"), context=context)

    share, ugc = result.observations
    assert share.entity_id == "urn:li:share:7123456789012345678"
    assert ugc.entity_id == "urn:li:ugcPost:7123999988887777666"
    assert values(share) == {
        "impressions": 2403, "reach": 1460, "clicks": 48, "likes": 61, "comments": 6,
        "shares": 12,
    }  # fmt: skip
    assert natives(share)["reach"] == "uniqueImpressionsCount"
    assert {o.entity_level for o in result.observations} == {EntityLevel.POST}
    assert result.ignored == ("engagement",)  # a ratio: we keep its components instead


def test_linkedin_daily_organization_statistics(payload: Load, context: ObservationContext) -> None:
    result = linkedin_share_statistics(payload("linkedin_org_statistics_daily"), context=context)

    first, second = result.observations
    assert first.window_start == datetime(2025, 3, 8, tzinfo=UTC)
    assert second.window_start == datetime(2025, 3, 9, tzinfo=UTC)
    assert all(o.window is TimeWindow.DAY and not o.cumulative for o in result.observations)
    assert first.entity_level is EntityLevel.ACCOUNT
    assert values(second)["impressions"] == 1020


def test_linkedin_monthly_range_is_refused(context: ObservationContext) -> None:
    month = {
        "elements": [
            {
                "organizationalEntity": "urn:li:organization:1",
                "timeRange": {"start": 1740787200000, "end": 1743465600000},
                "totalShareStatistics": {"impressionCount": 10},
            }
        ]
    }
    with pytest.raises(PayloadError, match="timeRange"):
        linkedin_share_statistics(month, context=context)
