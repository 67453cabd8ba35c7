"""The metric registry: canonical metric names, their vanity/behavioural tag, unit and plausible
range, and how each platform's native metric names (old, renamed and replaced) map onto them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Platform

Unit = Literal["count", "seconds", "ratio"]


class MetricTag(StrEnum):
    """Vanity = exposure or popularity; behavioural = a deliberate action by the audience."""

    VANITY = "vanity"
    BEHAVIOURAL = "behavioural"


class MetricKind(StrEnum):
    """How values of a metric combine over time windows (what a total may do with them)."""

    FLOW = "flow"  # events in a window; windows and entities add up
    UNIQUE = "unique"  # distinct accounts in a window; never sum windows (reach)
    STOCK = "stock"  # a level at a point in time; take the latest, never sum (followers)


# Plausibility bounds: a value above them is a corrupt payload, not a very popular post.
MAX_PLAUSIBLE_COUNT = Decimal(10**12)  # views, likes, clicks... of one entity in one window
MAX_PLAUSIBLE_AUDIENCE = Decimal(10**10)  # distinct accounts: more than people on Earth
MAX_PLAUSIBLE_SECONDS = Decimal(10**14)  # about three million years of watch time


class CanonicalMetric(BaseModel):
    """One metric as SocialOps stores it, whatever the platform called it."""

    model_config = ConfigDict(frozen=True)

    name: str
    tag: MetricTag
    unit: Unit = "count"
    kind: MetricKind = MetricKind.FLOW
    description: str
    max_value: Decimal = Field(
        default=MAX_PLAUSIBLE_COUNT,
        description="Largest plausible value of one entity over one window; above it the "
        "payload is refused with a reason.",
    )

    def implausible(self, value: Decimal) -> str | None:
        """Why a value cannot be a reading of this metric, or None when it is plausible."""
        if value < 0:
            return f"{self.name} cannot be negative"
        if value > self.max_value:
            return f"{self.name} {value} is beyond the plausible bound {self.max_value:,}"
        return None


class MetricSpec(BaseModel):
    """How one platform's native metric becomes a canonical metric."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    native_name: str
    metric: CanonicalMetric
    factor: Decimal = Decimal(1)
    per: str | None = None
    running_total: bool = False
    summed: bool = False
    renamed_to: str | None = None
    successor: str | None = Field(
        default=None,
        description="Canonical metric that replaced this one on the platform with another "
        "meaning (Meta impressions -> views). Never merged: a trend query may splice the two "
        "series explicitly, saying so.",
    )
    components: tuple[str, ...] = Field(
        default=(),
        description="For a platform-reported total: the canonical metrics it adds up. The "
        "total is stored only when none of them is in the same reading.",
    )
    basis: str | None = Field(default=None, description="What a platform total counts.")

    @property
    def name(self) -> str:
        """The canonical name."""
        return self.metric.name

    @property
    def tag(self) -> MetricTag:
        """Vanity or behavioural, from the canonical metric."""
        return self.metric.tag

    @property
    def unit(self) -> Unit:
        """Unit of the canonical value (after `factor`)."""
        return self.metric.unit

    def convert(self, native_value: Decimal) -> Decimal:
        """The canonical value of a native value (e.g. minutes x 60 = seconds)."""
        return native_value * self.factor


_V, _B = MetricTag.VANITY, MetricTag.BEHAVIOURAL

METRICS: dict[str, CanonicalMetric] = {
    m.name: m
    for m in (
        CanonicalMetric(name="views", tag=_V, description="Times content was shown or played."),
        CanonicalMetric(name="impressions", tag=_V, description="Times content was on screen."),
        CanonicalMetric(
            name="reach",
            tag=_V,
            kind=MetricKind.UNIQUE,
            description="Unique accounts reached.",
            max_value=MAX_PLAUSIBLE_AUDIENCE,
        ),
        CanonicalMetric(name="video_views", tag=_V, description="Video plays (Facebook video)."),
        CanonicalMetric(name="likes", tag=_V, description="Likes or reactions of any type."),
        CanonicalMetric(
            name="followers",
            tag=_V,
            kind=MetricKind.STOCK,
            description="Followers/subscribers.",
            max_value=MAX_PLAUSIBLE_AUDIENCE,
        ),
        CanonicalMetric(
            name="followers_gained",
            tag=_V,
            description="New follows in a window.",
            max_value=MAX_PLAUSIBLE_AUDIENCE,
        ),
        CanonicalMetric(
            name="followers_lost",
            tag=_V,
            description="Unfollows in a window.",
            max_value=MAX_PLAUSIBLE_AUDIENCE,
        ),
        CanonicalMetric(name="comments", tag=_B, description="Comments or replies."),
        CanonicalMetric(name="shares", tag=_B, description="Shares, reposts and quotes."),
        CanonicalMetric(name="saves", tag=_B, description="Saves or bookmarks."),
        CanonicalMetric(name="clicks", tag=_B, description="Link clicks."),
        CanonicalMetric(
            name="engagement",
            tag=_B,
            description="A platform-reported interaction total, stored only where its "
            "components are absent; the native metric's `basis` says what it counts.",
        ),
        CanonicalMetric(
            name="watch_time_s",
            tag=_B,
            unit="seconds",
            description="Total time watched.",
            max_value=MAX_PLAUSIBLE_SECONDS,
        ),
        CanonicalMetric(name="visits", tag=_B, description="Website visits from social."),
        CanonicalMetric(name="leads", tag=_B, description="Qualified leads from social."),
        CanonicalMetric(name="conversions", tag=_B, description="Sales or sign-ups from social."),
    )
}

# Carried in AnalyticsObserved's own fields (leads=, visits=, conversions=), not in `metrics`.
EVENT_FIELD_METRICS: frozenset[str] = frozenset({"leads", "visits", "conversions"})

_IG, _FB, _X = Platform.INSTAGRAM, Platform.FACEBOOK, Platform.X
_TT, _YT, _LI = Platform.TIKTOK, Platform.YOUTUBE, Platform.LINKEDIN
_MA, _GA = Platform.META_ADS, Platform.GOOGLE_ADS


def _n(
    platform: Platform,
    native_name: str,
    canonical_name: str,
    *,
    factor: str = "1",
    per: str | None = None,
    running_total: bool = False,
    summed: bool = False,
    renamed_to: str | None = None,
    successor: str | None = None,
    components: tuple[str, ...] = (),
    basis: str | None = None,
) -> MetricSpec:
    return MetricSpec(
        platform=platform,
        native_name=native_name,
        metric=METRICS[canonical_name],
        factor=Decimal(factor),
        per=per,
        running_total=running_total,
        summed=summed,
        renamed_to=renamed_to,
        successor=successor,
        components=components,
        basis=basis,
    )


# A renamed metric keeps both names here, mapped to one canonical name, so history continues
# across the rename (`renamed_to` records the new name). A replacement with another meaning
# keeps its own canonical metric and names the one that replaced it in `successor` (Meta's
# impressions counted times on screen; views count plays and displays, replays included).
# `running_total`: the platform reports a level (a follower count) whatever period it labels
# the value with. `summed`: several native metrics add up to the canonical one (X shares =
# retweets + quotes). `per`: the native value is an average per unit of another canonical
# metric; we store the total (average x that metric).
_NATIVE: tuple[MetricSpec, ...] = (
    # Instagram Graph API: media/account insights and IG User/Media fields.
    _n(_IG, "views", "views"),
    _n(_IG, "impressions", "impressions", successor="views"),
    # Reels `plays` and video `video_views` counted plays, which `views` counts for video media.
    _n(_IG, "plays", "views", renamed_to="views"),
    _n(_IG, "video_views", "views", renamed_to="views"),
    _n(_IG, "reach", "reach"),
    _n(_IG, "likes", "likes"),
    _n(_IG, "like_count", "likes"),
    _n(_IG, "comments", "comments"),
    _n(_IG, "comments_count", "comments"),
    _n(_IG, "shares", "shares"),
    _n(_IG, "saved", "saves"),
    # Platform totals, used only where the components are absent (issue 7 item 5); in one
    # payload the first listed wins.
    _n(
        _IG,
        "total_interactions",
        "engagement",
        components=("likes", "comments", "shares", "saves"),
        basis="likes + saves + comments + shares, minus unlikes, unsaves and deleted comments",
    ),
    _n(
        _IG,
        "engagement",
        "engagement",
        components=("likes", "comments"),
        basis="likes + comments (Instagram media `engagement`, before Graph API v18.0)",
    ),
    _n(_IG, "follows", "followers_gained"),
    # Insights `follower_count` is "new followers each day", a flow; the total is the IG User
    # field `followers_count`. Storing the flow as `followers` would corrupt the level series.
    _n(_IG, "follower_count", "followers_gained"),
    _n(_IG, "followers_count", "followers", running_total=True),
    _n(_IG, "ig_reels_video_view_total_time", "watch_time_s", factor="0.001"),  # milliseconds
    # Facebook Graph API: Page and Page post insights (Meta renamed impressions to media views).
    _n(_FB, "page_media_view", "views"),
    _n(_FB, "page_impressions", "impressions", successor="views"),
    _n(_FB, "post_media_view", "views"),
    _n(_FB, "post_impressions", "impressions", successor="views"),
    _n(_FB, "page_total_media_view_unique", "reach"),
    _n(_FB, "page_impressions_unique", "reach", renamed_to="page_total_media_view_unique"),
    _n(_FB, "post_total_media_view_unique", "reach"),
    _n(_FB, "post_impressions_unique", "reach", renamed_to="post_total_media_view_unique"),
    _n(_FB, "page_follows", "followers", running_total=True),
    _n(_FB, "page_fans", "followers", running_total=True, renamed_to="page_follows"),
    _n(_FB, "post_reactions_by_type_total", "likes"),  # {reaction: count}, summed
    _n(_FB, "post_clicks", "clicks"),
    _n(_FB, "post_video_views", "video_views"),
    _n(_FB, "page_video_views", "video_views"),
    # X API v2: tweet public_metrics / non_public_metrics, user public_metrics.
    _n(_X, "impression_count", "impressions"),
    _n(_X, "like_count", "likes"),
    _n(_X, "reply_count", "comments"),
    _n(_X, "retweet_count", "shares", summed=True),
    _n(_X, "quote_count", "shares", summed=True),
    _n(_X, "bookmark_count", "saves"),
    _n(_X, "url_link_clicks", "clicks"),
    _n(_X, "followers_count", "followers", running_total=True),
    # TikTok API v2: video object and user info.
    _n(_TT, "view_count", "views"),
    _n(_TT, "like_count", "likes"),
    _n(_TT, "comment_count", "comments"),
    _n(_TT, "share_count", "shares"),
    _n(_TT, "follower_count", "followers", running_total=True),
    # YouTube Analytics API (reports) and Data API (statistics).
    _n(_YT, "views", "views"),
    _n(_YT, "viewCount", "views"),
    _n(_YT, "likes", "likes"),
    _n(_YT, "likeCount", "likes"),
    _n(_YT, "comments", "comments"),
    _n(_YT, "commentCount", "comments"),
    _n(_YT, "shares", "shares"),
    _n(_YT, "estimatedMinutesWatched", "watch_time_s", factor="60"),
    _n(_YT, "averageViewDuration", "watch_time_s", per="views"),  # seconds per view
    _n(_YT, "subscribersGained", "followers_gained"),
    _n(_YT, "subscribersLost", "followers_lost"),
    _n(_YT, "subscriberCount", "followers", running_total=True),
    # LinkedIn: organizationalEntityShareStatistics totalShareStatistics.
    _n(_LI, "impressionCount", "impressions"),
    _n(_LI, "uniqueImpressionsCount", "reach"),
    _n(_LI, "clickCount", "clicks"),
    _n(_LI, "likeCount", "likes"),
    _n(_LI, "commentCount", "comments"),
    _n(_LI, "shareCount", "shares"),
    # Meta Marketing API ads insights (spend and leads go to the observation's own fields).
    _n(_MA, "impressions", "impressions"),
    _n(_MA, "reach", "reach"),
    _n(_MA, "inline_link_clicks", "clicks"),
    _n(_MA, "link_click", "clicks"),  # actions[link_click]: when inline_link_clicks is absent
    # Google Ads API GoogleAdsRow.metrics (REST JSON, lowerCamelCase).
    _n(_GA, "impressions", "impressions"),
    _n(_GA, "clicks", "clicks"),
)

_BY_NATIVE: dict[tuple[Platform, str], MetricSpec] = {
    (s.platform, s.native_name): s for s in _NATIVE
}
_RANK: dict[tuple[Platform, str], int] = {
    (s.platform, s.native_name): i for i, s in enumerate(_NATIVE)
}

# Ratios and aggregates platforms compute from components we already store. They are known, so
# not "unmapped", but never stored: we keep the components and compute ratios ourselves.
DERIVED: frozenset[tuple[Platform, str]] = frozenset(
    {
        (_IG, "ig_reels_avg_watch_time"),
        (_LI, "engagement"),  # a ratio: (clicks + likes + comments + shares) / impressions
        (_YT, "averageViewPercentage"),
        *((_MA, n) for n in ("ctr", "inline_link_click_ctr", "cpc", "cpm", "cpp", "frequency")),
        *((_GA, n) for n in ("ctr", "averageCpc", "averageCpm", "averageCost")),
    }
)


def canonical(platform: Platform, native_name: str) -> MetricSpec | None:
    """How a platform's native metric maps to a canonical metric; None if it has no mapping."""
    return _BY_NATIVE.get((platform, native_name))


def is_known(canonical_name: str) -> bool:
    """Whether a name is a canonical metric."""
    return canonical_name in METRICS


def is_derived(platform: Platform, native_name: str) -> bool:
    """Whether a native metric is a platform-computed ratio or aggregate we deliberately skip."""
    return (platform, native_name) in DERIVED


def metric(canonical_name: str) -> CanonicalMetric:
    """The canonical metric of that name; ValueError naming it if unknown."""
    try:
        return METRICS[canonical_name]
    except KeyError:
        raise ValueError(f"unknown metric '{canonical_name}'") from None


def precedence(spec: MetricSpec) -> tuple[bool, int]:
    """Sort key among native names of one canonical metric: current names before legacy ones."""
    return (spec.renamed_to is not None, _RANK[spec.platform, spec.native_name])


def successor(platform: Platform, canonical_name: str) -> str | None:
    """The canonical metric that replaced this one on a platform, with another meaning.

    A trend query may splice the two series at the switch, explicitly and saying so; storage
    and rollups never merge them (`impressions` is the denominator of CTR and ER by
    impressions, `views` is not).
    """
    for spec in _NATIVE:
        if spec.platform == platform and spec.name == canonical_name and spec.successor:
            return spec.successor
    return None


def native_names(platform: Platform, canonical_name: str) -> tuple[str, ...]:
    """Every native name (current and legacy) a platform uses for a canonical metric."""
    return tuple(
        s.native_name for s in _NATIVE if s.platform == platform and s.name == canonical_name
    )
