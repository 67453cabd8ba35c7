"""Golden suite: for every adapter, payloads laid out as each platform's API reference documents
its responses (values our own), and the canonical observations worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.metrics.adapters import (
    REGISTRY,
    AdapterResult,
    IngestRejectedError,
    ObservationContext,
    PayloadError,
    SkipKind,
    ingest,
)
from shared.events import AnalyticsObserved, EntityLevel, TimeWindow
from shared.money import Money

Load = Callable[[str], Any]
CONTEXT = {"client_id": "acme-coffee", "account_id": "acct-1",
           "observed_at": "2025-11-20T09:30:00+00:00"}  # fmt: skip


def run(name: str, payload: Any, context: ObservationContext, **options: Any) -> AdapterResult:
    return REGISTRY[name].run(payload, context=context, options=options)


def values(observation: AnalyticsObserved) -> dict[str, Decimal]:
    return {m.name: m.value for m in observation.metrics}


def natives(observation: AnalyticsObserved) -> dict[str, str | None]:
    return {m.name: m.native_name for m in observation.metrics}


def shape(o: AnalyticsObserved) -> tuple[Any, ...]:
    return (o.entity_level, o.entity_id, o.window, o.window_start, o.cumulative)


def skipped(result: AdapterResult) -> dict[str, tuple[SkipKind, str]]:
    return {s.path: (s.kind, s.reason) for s in result.skipped}


def rejected(name: str, payload: Any, **options: Any) -> list[dict[str, Any]]:
    with pytest.raises(IngestRejectedError) as caught:
        ingest(REGISTRY[name], tenant_id="agency-1", context=CONTEXT, payload=payload,
               options=options)  # fmt: skip
    return caught.value.errors


# --------------------------------------------------------------------------- Meta Marketing API


def test_meta_ads_daily_rows(payload: Load, context: ObservationContext) -> None:
    """Ads Insights rows with time_increment=1 (developers.facebook.com/documentation/
    ads-commerce/marketing-api/insights; fields: .../reference/adgroup/insights; actions:
    .../reference/ads-action-stats): counts and spend are numeric strings."""
    result = run("meta_ads_insights", payload("meta_ads_insights_daily"), context,
                 account_timezone="Europe/Berlin")  # fmt: skip

    first, second = result.observations
    ad = "120210000000000111"
    # Berlin midnight: UTC+1 on both days (EU summer time starts 2025-03-30 at 01:00 UTC).
    assert shape(first) == (EntityLevel.AD, ad, TimeWindow.DAY,
                            datetime(2025, 3, 28, 23, tzinfo=UTC), False)  # fmt: skip
    assert shape(second)[3] == datetime(2025, 3, 29, 23, tzinfo=UTC)
    # clicks = inline_link_clicks (link clicks), not `clicks` (all clicks) nor actions[link_click].
    assert values(first) == {"impressions": 4000, "reach": 3100, "clicks": 80}
    assert values(second) == {"impressions": 5210, "reach": 3890, "clicks": 101}
    assert first.spend == Money(amount=Decimal("12.34"), currency="EUR")
    assert second.spend == Money(amount=Decimal("15.07"), currency="EUR")
    assert (first.leads, second.leads) == (3, 5)
    assert first.platform == "meta_ads" and first.source.api == "meta_marketing"
    why = skipped(result)
    assert why["data.0.clicks"][0] is SkipKind.IGNORED
    assert why["data.0.ctr"][0] is SkipKind.IGNORED and why["data.0.cpc"][0] is SkipKind.IGNORED
    assert why["data.0.actions.0.value"] == (SkipKind.IGNORED, "superseded by 'inline_link_clicks'")
    assert why["data.0.actions.1.value"][0] is SkipKind.UNMAPPED  # post_engagement
    assert "lead sub-type" in why["data.0.actions.3.value"][1]


def test_meta_ads_campaign_week_in_yen(payload: Load, context: ObservationContext) -> None:
    """A campaign-level row over 7 days (time_increment=7), account in JPY; clicks from
    actions[link_click] when inline_link_clicks was not requested."""
    result = run("meta_ads_insights", payload("meta_ads_insights_campaign_week"), context)

    [week] = result.observations
    assert shape(week) == (EntityLevel.AD, "120210000000000002", TimeWindow.WEEK,
                           datetime(2025, 6, 2, tzinfo=UTC), False)  # fmt: skip
    assert values(week) == {"impressions": 88000, "clicks": 1500}
    assert natives(week)["clicks"] == "actions.link_click"
    assert week.spend == Money(amount=Decimal(45210), currency="JPY")


def test_meta_ads_refusals_name_the_field(context: ObservationContext) -> None:
    row = {"date_start": "2025-06-01", "date_stop": "2025-06-10", "impressions": "10"}
    with pytest.raises(PayloadError) as caught:
        run("meta_ads_insights", {"data": [row]}, context)
    assert caught.value.loc == ("data", 0, "date_stop")
    no_currency = {"date_start": "2025-06-01", "date_stop": "2025-06-01", "spend": "3.10"}
    assert rejected("meta_ads_insights", {"data": [no_currency]})[0]["loc"] == [
        "body", "payload", "data", 0, "spend"]  # fmt: skip
    float_count = {"date_start": "2025-06-01", "date_stop": "2025-06-01", "impressions": 96.5}
    assert rejected("meta_ads_insights", {"data": [float_count]})[0]["loc"] == [
        "body", "payload", "data", 0, "impressions"]  # fmt: skip


# --------------------------------------------------------------------------- Google Ads


def test_google_ads_search_stream_rows(payload: Load, context: ObservationContext) -> None:
    """googleAds:searchStream REST response: a JSON array of batches {results, fieldMask,
    requestId} (developers.google.com/google-ads/api/rest/reference/rest/v14/customers.googleAds/
    searchStream); int64 fields such as costMicros, clicks, impressions are JSON strings,
    conversions a double (GoogleAdsRow, Metrics, Segments in the API reference)."""
    result = run("google_ads_search_stream", payload("google_ads_search_stream"), context)

    first, second = result.observations
    # customer.timeZone America/New_York: EDT (UTC-4) at both midnights (DST ends 02:00 Nov 2).
    assert shape(first) == (EntityLevel.AD, "campaign:987654321", TimeWindow.DAY,
                            datetime(2025, 11, 1, 4, tzinfo=UTC), False)  # fmt: skip
    assert shape(second)[3] == datetime(2025, 11, 2, 4, tzinfo=UTC)
    assert values(first) == {"impressions": 1500, "clicks": 42}
    assert first.spend == Money(amount=Decimal("12.345678"), currency="USD")  # micros / 10^6
    assert second.spend == Money(amount=Decimal("20.000000"), currency="USD")
    assert first.conversions == 3
    assert second.conversions is None  # 2.5 attribution-weighted conversions are not a count
    why = skipped(result)
    assert why["0.results.1.metrics.conversions"][0] is SkipKind.IGNORED
    assert why["0.results.0.metrics.ctr"][0] is SkipKind.IGNORED


def test_google_ads_row_without_a_day_or_currency_is_refused() -> None:
    row = {"campaign": {"id": "1"}, "metrics": {"clicks": "3"}}
    assert rejected("google_ads_search_stream", {"results": [row]})[0]["loc"] == [
        "body", "payload", "results", 0, "segments"]  # fmt: skip
    row = {"segments": {"date": "2025-11-01"}, "metrics": {"costMicros": "1000"}}
    errors = rejected("google_ads_search_stream", {"results": [row]})
    assert errors[0]["loc"][-2:] == ["metrics", "costMicros"]
    assert "currency" in errors[0]["msg"]


# --------------------------------------------------------------------------- Instagram


def test_instagram_entity_level_comes_from_the_endpoint_shape(
    payload: Load, context: ObservationContext
) -> None:
    """/{ig-user-id}/insights has day/week/days_28 periods and total_value
    (developers.facebook.com/docs/instagram-platform/api-reference/instagram-user/insights);
    /{ig-media-id}/insights has undated lifetime values (.../instagram-media/insights)."""
    user = run("instagram_insights", payload("instagram_account_insights_day"), context)
    media = run("instagram_insights", payload("instagram_reel_insights"), context)

    assert {shape(o)[:2] for o in user.observations} == {(EntityLevel.ACCOUNT, "acct-1")}
    assert {shape(o)[:2] for o in media.observations} == {(EntityLevel.POST, "18031250123456789")}
    # A lifetime metric with dated values (online_followers-like) could be either: refused.
    dated = [{"value": 5, "end_time": "2025-11-01T07:00:00+0000"}]
    ambiguous = {"data": [{"name": "reach", "period": "lifetime", "values": dated}]}
    errors = rejected("instagram_insights", ambiguous)
    assert errors[0]["loc"] == ["body", "payload", "data"] and "entity_level" in errors[0]["msg"]
    # Options are coerced from JSON strings.
    result = ingest(REGISTRY["instagram_insights"], tenant_id="agency-1", context=CONTEXT,
                    payload=ambiguous, options={"entity_level": "account"})  # fmt: skip
    assert result.observations[0].entity_level is EntityLevel.ACCOUNT


def test_instagram_total_value_with_window_start_option(payload: Load) -> None:
    result = ingest(
        REGISTRY["instagram_insights"], tenant_id="agency-1", context=CONTEXT,
        payload=payload("instagram_account_insights_total_value"),
        options={"window_start": "2025-11-19T00:00:00+01:00"},
    )  # fmt: skip
    [obs] = result.observations
    assert shape(obs) == (EntityLevel.ACCOUNT, "acct-1", TimeWindow.DAY,
                          datetime(2025, 11, 18, 23, tzinfo=UTC), False)  # fmt: skip
    assert values(obs) == {"views": 4380, "reach": 2511}


def test_instagram_media_fields(payload: Load, context: ObservationContext) -> None:
    """IG Media node fields like_count, comments_count (developers.facebook.com/docs/
    instagram-platform/reference/instagram-media)."""
    result = run("instagram_fields", payload("instagram_media_fields"), context)

    [obs] = result.observations
    assert shape(obs) == (EntityLevel.POST, "17895695668004550", TimeWindow.LIFETIME, None, True)
    assert values(obs) == {"likes": 318, "comments": 27}
    # A misspelt field is listed, never read as another metric (follower_count is an insight).
    misspelt = run("instagram_fields", {"id": "1", "followers_count": 10, "follower_count": 9},
                   context)  # fmt: skip
    assert values(misspelt.observations[0]) == {"followers": 10}
    assert misspelt.unmapped == ("follower_count",)


# --------------------------------------------------------------------------- X


def test_x_organic_and_promoted_split_without_public_metrics(
    payload: Load, context: ObservationContext
) -> None:
    """docs.x.com/x-api/fundamentals/metrics: public/non-public metrics are totals, organic and
    promoted metrics split them by context; partial `errors` come next to `data`."""
    result = run("x_posts", payload("x_tweets_organic_promoted"), context)

    promoted, organic = result.observations
    assert values(promoted) == {
        "impressions": 5400 + 20000, "likes": 120 + 210, "comments": 8 + 4, "shares": 11 + 6,
        "clicks": 40 + 300,
    }  # fmt: skip
    assert natives(promoted)["likes"] == "organic_metrics.like_count+promoted_metrics.like_count"
    # Non-public totals win over the organic split for impressions and clicks.
    assert values(organic) == {"impressions": 2100, "likes": 64, "comments": 3, "shares": 2,
                               "clicks": 17}  # fmt: skip
    assert natives(organic)["clicks"] == "url_link_clicks"
    [error] = [s for s in result.skipped if s.kind is SkipKind.PLATFORM_ERROR]
    assert error.path == "errors.0" and error.native_name == "1860000000000000000"
    assert "Not Found" in error.reason


def test_x_implausible_and_lenient_counts_are_refused() -> None:
    huge = {"id": "1", "public_metrics": {"like_count": 10**13}}
    [error] = rejected("x_posts", huge)
    assert error["loc"] == ["body", "payload", "public_metrics", "like_count"]
    assert "plausible" in error["msg"]
    for bad in ("12", 96.5, 1e30, True):
        errors = rejected("x_posts", {"id": "1", "public_metrics": {"like_count": bad}})
        assert errors[0]["loc"] == ["body", "payload", "public_metrics", "like_count"]


# --------------------------------------------------------------------------- YouTube


def test_youtube_video_statistics_and_errors(payload: Load, context: ObservationContext) -> None:
    """videos.list part=statistics: counts are strings (developers.google.com/youtube/v3/docs/
    videos#statistics); errors are {"error": {code, message, errors}} (.../v3/docs/errors)."""
    result = run("youtube_statistics", payload("youtube_video_statistics"), context)

    [obs] = result.observations
    assert shape(obs) == (EntityLevel.VIDEO, "dQw4w9WgXcQ", TimeWindow.LIFETIME, None, True)
    assert values(obs) == {"views": 48120, "likes": 3012, "comments": 214}
    assert set(result.unmapped) == {"dislikeCount", "favoriteCount"}
    [error] = rejected("youtube_statistics", payload("youtube_error"))
    assert error["loc"] == ["body", "payload", "error"] and "quota" in error["msg"]


def test_youtube_malformed_reports_name_the_cell(payload: Load) -> None:
    report = payload("youtube_report_day")
    report["rows"][1][0] = "2025-13-01"
    [error] = rejected("youtube_report", report)
    assert error["loc"] == ["body", "payload", "rows", 1, 0]
    assert "month must be in 1..12" in error["msg"]
    del report["columnHeaders"][2]["name"]
    assert rejected("youtube_report", report)[0]["loc"] == [
        "body", "payload", "columnHeaders", 2, "name"]  # fmt: skip
    statistics = payload("youtube_video_statistics")
    del statistics["items"][0]["id"]
    assert rejected("youtube_statistics", statistics)[0]["loc"] == [
        "body", "payload", "items", 0, "id"]  # fmt: skip


# --------------------------------------------------------------------------- LinkedIn, TikTok


def test_linkedin_organization_urn_is_the_account(
    payload: Load, context: ObservationContext
) -> None:
    """organizationalEntityShareStatistics elements carry organizationalEntity (learn.microsoft
    .com/en-us/linkedin/marketing/community-management/organizations/share-statistics)."""
    result = run("linkedin_share_statistics", payload("linkedin_org_statistics_daily"), context)

    assert {o.account_id for o in result.observations} == {"urn:li:organization:2414183"}
    assert {o.entity_id for o in result.observations} == {"urn:li:organization:2414183"}
    same = context.model_copy(update={"account_id": "2414183"})
    assert run("linkedin_share_statistics", payload("linkedin_share_statistics"), same).observations
    other = context.model_copy(update={"account_id": "urn:li:organization:999"})
    with pytest.raises(PayloadError) as caught:
        run("linkedin_share_statistics", payload("linkedin_share_statistics"), other)
    assert caught.value.loc == ("elements", 0, "organizationalEntity")
    no_end = payload("linkedin_org_statistics_daily")
    del no_end["elements"][0]["timeRange"]["end"]
    assert rejected("linkedin_share_statistics", no_end)[0]["loc"] == [
        "body", "payload", "elements", 0, "timeRange", "end"]  # fmt: skip


def test_tiktok_error_as_string_and_undocumented_fields(payload: Load) -> None:
    """TikTok v2 responses carry error {code, message, log_id} (developers.tiktok.com/doc/
    tiktok-api-v2-error-handling); video fields per .../tiktok-api-v2-video-object."""
    assert rejected("tiktok_videos", {"data": {"videos": []}, "error": "boom"})[0]["loc"] == [
        "body", "payload", "error"]  # fmt: skip
    videos = payload("tiktok_videos")
    videos["data"]["videos"][0]["favourites_count"] = 7
    result = ingest(REGISTRY["tiktok_videos"], tenant_id="agency-1", context=CONTEXT,
                    payload=videos)  # fmt: skip
    assert result.unmapped == ("favourites_count",)
    assert result.skipped[0].path == "data.videos.0.favourites_count"


def test_insights_entry_without_name_and_entry_without_values(payload: Load) -> None:
    page = payload("facebook_page_insights")
    del page["data"][0]["name"]
    assert rejected("facebook_insights", page)[0]["loc"] == ["body", "payload", "data", 0, "name"]
    page = payload("facebook_page_insights")
    page["data"][1]["values"] = []
    result = ingest(REGISTRY["facebook_insights"], tenant_id="agency-1", context=CONTEXT,
                    payload=page)  # fmt: skip
    assert skipped(result)["data.1"] == (SkipKind.NO_VALUE, "the entry has no values")


def test_context_and_options_errors_are_blamed_on_their_part() -> None:
    errors = rejected("youtube_report", {"columnHeaders": []}, window="fortnight")
    assert errors[0]["loc"][:3] == ["body", "options", "window"]
    with pytest.raises(IngestRejectedError) as caught:
        ingest(REGISTRY["x_user"], tenant_id="agency-1", context={**CONTEXT, "tenant_id": "x"},
               payload={})  # fmt: skip
    assert caught.value.errors[0]["loc"] == ["body", "context", "tenant_id"]
