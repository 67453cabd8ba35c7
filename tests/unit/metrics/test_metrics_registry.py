"""The metric registry: DOMAIN.md's native-name table, renames, conversions and tags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.metrics.registry import (
    METRICS,
    MetricKind,
    MetricTag,
    canonical,
    is_derived,
    is_known,
    metric,
    native_names,
    successor,
)
from shared.events import MetricValue, Platform

IG, FB, X = Platform.INSTAGRAM, Platform.FACEBOOK, Platform.X
TT, YT, LI = Platform.TIKTOK, Platform.YOUTUBE, Platform.LINKEDIN

# DOMAIN.md "Platform analytics, as they really arrive", row by row.
DOMAIN_TABLE = [
    (IG, "views", "views"), (FB, "page_media_view", "views"), (TT, "view_count", "views"),
    (YT, "views", "views"),
    (IG, "reach", "reach"), (FB, "page_total_media_view_unique", "reach"),
    (FB, "post_total_media_view_unique", "reach"), (LI, "uniqueImpressionsCount", "reach"),
    (X, "impression_count", "impressions"), (LI, "impressionCount", "impressions"),
    (IG, "likes", "likes"), (FB, "post_reactions_by_type_total", "likes"),
    (X, "like_count", "likes"), (TT, "like_count", "likes"), (YT, "likeCount", "likes"),
    (IG, "comments", "comments"), (X, "reply_count", "comments"),
    (TT, "comment_count", "comments"), (YT, "commentCount", "comments"),
    (LI, "commentCount", "comments"),
    (IG, "shares", "shares"), (LI, "shareCount", "shares"), (TT, "share_count", "shares"),
    (X, "retweet_count", "shares"), (X, "quote_count", "shares"),
    (IG, "saved", "saves"), (X, "bookmark_count", "saves"),
    (X, "url_link_clicks", "clicks"), (FB, "post_clicks", "clicks"), (LI, "clickCount", "clicks"),
    (FB, "page_follows", "followers"), (TT, "follower_count", "followers"),
    (YT, "subscriberCount", "followers"),
    (YT, "estimatedMinutesWatched", "watch_time_s"), (YT, "averageViewDuration", "watch_time_s"),
]  # fmt: skip


@pytest.mark.parametrize(("platform", "native", "expected"), DOMAIN_TABLE)
def test_domain_table_native_names_map_to_their_canonical_metric(
    platform: Platform, native: str, expected: str
) -> None:
    spec = canonical(platform, native)
    assert spec is not None, f"{platform} {native} is not mapped"
    assert spec.name == expected
    assert spec.native_name == native


@pytest.mark.parametrize(
    ("platform", "old", "new"),
    [
        (IG, "plays", "views"),
        (FB, "page_fans", "page_follows"),
        (FB, "page_impressions_unique", "page_total_media_view_unique"),
        (FB, "post_impressions_unique", "post_total_media_view_unique"),
    ],
)
def test_renamed_metrics_keep_one_canonical_series(platform: Platform, old: str, new: str) -> None:
    old_spec, new_spec = canonical(platform, old), canonical(platform, new)
    assert old_spec is not None and new_spec is not None
    assert old_spec.name == new_spec.name
    assert old_spec.renamed_to == new
    assert new_spec.renamed_to is None


@pytest.mark.parametrize(("platform", "native"), [(IG, "impressions"), (FB, "page_impressions"),
                                                   (FB, "post_impressions")])  # fmt: skip
def test_meta_impressions_keep_their_meaning_with_views_as_documented_successor(
    platform: Platform, native: str
) -> None:
    # Meta replaced impressions (times on screen) by views (plays and displays, replays
    # included): another quantity, so its own series, linked but never merged.
    spec = canonical(platform, native)
    assert spec is not None and spec.name == "impressions"
    assert spec.renamed_to is None and spec.successor == "views"
    assert successor(platform, "impressions") == "views"
    assert successor(X, "impressions") is None  # X never replaced its impressions


def test_meta_follower_names_old_and_new_are_both_listed_for_followers() -> None:
    assert native_names(FB, "followers") == ("page_follows", "page_fans")
    assert set(native_names(IG, "views")) >= {"views", "plays"}
    assert "impressions" not in native_names(IG, "views")


def test_platform_engagement_totals_state_their_basis_and_components() -> None:
    legacy, current = canonical(IG, "engagement"), canonical(IG, "total_interactions")
    assert legacy is not None and current is not None
    assert legacy.name == current.name == "engagement"
    assert legacy.components == ("likes", "comments") and "likes + comments" in (legacy.basis or "")
    assert set(current.components) == {"likes", "comments", "shares", "saves"}


@pytest.mark.parametrize(
    ("name", "value", "plausible"),
    [
        ("likes", Decimal(10**12), True),
        ("likes", Decimal(10**12 + 1), False),
        ("reach", Decimal(10**10 + 1), False),
        ("followers", Decimal(8 * 10**9), True),
        ("watch_time_s", Decimal(10**13), True),
        ("clicks", Decimal(-1), False),
    ],
)
def test_plausibility_bounds_per_metric(name: str, value: Decimal, plausible: bool) -> None:
    reason = METRICS[name].implausible(value)
    assert (reason is None) is plausible
    if reason is not None:
        assert name in reason


def test_instagram_follower_count_insight_is_a_flow_not_the_follower_total() -> None:
    # IG insights `follower_count` is "new followers each day"; the total is `followers_count`.
    gained, total = canonical(IG, "follower_count"), canonical(IG, "followers_count")
    assert gained is not None and gained.name == "followers_gained"
    assert total is not None and total.name == "followers" and total.running_total


def test_conversions_to_canonical_units() -> None:
    minutes = canonical(YT, "estimatedMinutesWatched")
    millis = canonical(IG, "ig_reels_video_view_total_time")
    assert minutes is not None and minutes.convert(Decimal(3)) == Decimal(180)
    assert minutes.unit == "seconds"
    assert millis is not None and millis.convert(Decimal(1500)) == Decimal("1.5")
    average = canonical(YT, "averageViewDuration")
    assert average is not None and average.per == "views"


def test_unknown_native_names_are_not_guessed() -> None:
    assert canonical(FB, "page_views_total") is None
    assert canonical(LI, "view_count") is None  # TikTok's name means nothing on LinkedIn
    assert canonical(FB, "Page_Fans") is None


def test_is_known_only_for_canonical_names() -> None:
    assert is_known("views") and is_known("watch_time_s") and is_known("leads")
    assert not is_known("impression_count")
    assert not is_known("engagement_rate")
    assert not is_known("")


def test_metric_lookup_names_the_unknown_metric() -> None:
    assert metric("clicks").tag is MetricTag.BEHAVIOURAL
    with pytest.raises(ValueError, match="'story_vibes'"):
        metric("story_vibes")


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("reach", MetricTag.VANITY),
        ("likes", MetricTag.VANITY),
        ("followers", MetricTag.VANITY),
        ("clicks", MetricTag.BEHAVIOURAL),
        ("leads", MetricTag.BEHAVIOURAL),
        ("conversions", MetricTag.BEHAVIOURAL),
    ],
)
def test_vanity_and_behavioural_tags_follow_domain(name: str, tag: MetricTag) -> None:
    assert METRICS[name].tag is tag


def test_kinds_say_how_values_combine() -> None:
    assert METRICS["followers"].kind is MetricKind.STOCK
    assert METRICS["reach"].kind is MetricKind.UNIQUE
    assert METRICS["likes"].kind is MetricKind.FLOW


def test_every_unit_is_accepted_by_the_event_contract() -> None:
    for spec in METRICS.values():
        assert MetricValue(name=spec.name, value=Decimal(1), unit=spec.unit).unit == spec.unit


def test_platform_ratios_are_known_but_derived() -> None:
    assert is_derived(LI, "engagement")
    assert is_derived(IG, "ig_reels_avg_watch_time")
    assert is_derived(Platform.META_ADS, "ctr") and is_derived(Platform.GOOGLE_ADS, "averageCpc")
    assert canonical(LI, "engagement") is None
    assert not is_derived(FB, "page_views_total")
