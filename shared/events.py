"""Event contracts exchanged between services. Producers write them strictly; consumers read
tolerantly. Add fields, never change or remove them; bump EVENT_VERSION when the payload grows.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, field_validator

from shared.bounds import (
    MAX_METRICS_PER_OBSERVATION,
    BoundedDecimal,
    Count,
    Id,
    Instant,
    Name,
    StoredCount,
    StoredKey,
    bounded_decimal,
)
from shared.envelope import Contract, Event
from shared.money import ExactDecimal, Money


class Platform(StrEnum):
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    X = "x"
    LINKEDIN = "linkedin"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    META_ADS = "meta_ads"
    GOOGLE_ADS = "google_ads"


# --------------------------------------------------------------------------- calendar


class ClientEvent(Event):
    """Base of the events about one client: keyed by tenant and client, so one client's events
    keep their order."""

    client_id: Id

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


class ClientRegistered(ClientEvent):
    """An agency added a client brand. Other services learn which clients exist from this
    event (`shared.known_clients`), never from the calendar's database."""

    EVENT_TYPE: ClassVar[str] = "ClientRegistered"

    name: str = Field(max_length=200)
    timezone: Name = "UTC"


class PostScheduled(ClientEvent):
    """A post was put on a client's calendar."""

    EVENT_TYPE: ClassVar[str] = "PostScheduled"

    post_id: Id
    strategy_id: Id | None = None
    platform: Platform
    scheduled_at: Instant = Field(description="When the post goes out (zone-aware).")
    timezone: Name = Field(default="UTC", description="IANA zone the slot was planned in.")
    content_type: Name = Field(default="post", examples=["video", "story", "carousel"])
    pillar: Name | None = Field(default=None, description="Content pillar / series.")
    paid: bool = Field(default=False, description="Promoted with ad budget.")
    budget_id: Id | None = Field(default=None, description="Budget paying for promotion.")


class StrategyPersona(Contract):
    """A persona of a strategy, trimmed to what other services read: its name and the
    platforms it uses."""

    name: Name = Field(examples=["Busy parent"])
    platforms: tuple[Platform, ...] = Field(default=(), max_length=8, examples=[["instagram"]])


class PlatformReviewDate(Contract):
    """When a strategy platform is re-evaluated (yearly by default)."""

    platform: Platform
    review_on: date = Field(description="The re-evaluation date.", examples=["2028-01-01"])


class StrategyUpdated(ClientEvent):
    """A client's strategy got a new version (version 1: it was created). Event version 2 adds
    `personas` and `reviews`; a version 1 payload reads with both empty."""

    EVENT_TYPE: ClassVar[str] = "StrategyUpdated"
    EVENT_VERSION: ClassVar[int] = 2

    strategy_id: Id
    version: Annotated[int, StoredCount] = Field(ge=1, description="The new version.")
    previous_version: Annotated[int, Field(ge=1), StoredCount] | None = None
    period: Name = Field(examples=["quarter", "half_year", "year"])
    start: date = Field(description="First day of the period.")
    end: date = Field(description="First day after the period.")
    platforms: tuple[Platform, ...] = ()
    changes: tuple[str, ...] = Field(
        default=(),
        max_length=200,
        description="Readable changes from the previous version (the first 200).",
        examples=[["pillars[Recipes].share: 30 -> 25"]],
    )
    personas: tuple[StrategyPersona, ...] = Field(
        default=(),
        max_length=20,
        description="v2: the strategy's personas with the platforms each uses (the audit "
        "scores audience presence as the share of personas on a platform).",
    )
    reviews: tuple[PlatformReviewDate, ...] = Field(
        default=(),
        max_length=8,
        description="v2: each platform's re-evaluation date (the audit announces "
        "`PlatformReviewDue` when it arrives).",
    )


class PostRescheduled(ClientEvent):
    """A post moved to another instant (its wall time read in `timezone`)."""

    EVENT_TYPE: ClassVar[str] = "PostRescheduled"

    post_id: Id
    slot_id: Id | None = None
    platform: Platform
    previous_scheduled_at: Instant
    scheduled_at: Instant
    timezone: Name = "UTC"
    version: Annotated[int, StoredCount] = Field(
        ge=1, description="The post's version after the change."
    )


class PostCancelled(ClientEvent):
    """A post will not go out."""

    EVENT_TYPE: ClassVar[str] = "PostCancelled"

    post_id: Id
    slot_id: Id | None = None
    platform: Platform
    scheduled_at: Instant
    reason: str = Field(default="", max_length=500)
    version: Annotated[int, StoredCount] = Field(
        ge=1, description="The post's version after the change."
    )


class PostPublicationEvent(ClientEvent):
    """Base of the publishing lifecycle events (all on calendar.posts.lifecycle.v1, keyed by
    tenant and client so one client's events stay in order)."""

    post_id: Id
    slot_id: Id | None = None
    platform: Platform
    scheduled_at: Instant = Field(description="The post's due instant (UTC).")


class PostDue(PostPublicationEvent):
    """A post reached its due instant and was handed to a publisher."""

    EVENT_TYPE: ClassVar[str] = "PostDue"


class PostPublished(PostPublicationEvent):
    """A post went out; `platform_post_id` is the platform's own id, so analytics keyed by it
    join the calendar post."""

    EVENT_TYPE: ClassVar[str] = "PostPublished"

    platform_post_id: Id
    url: str | None = Field(default=None, max_length=2000)
    published_at: Instant
    attempts: Annotated[int, StoredCount] = Field(ge=1)
    strategy_id: Id | None = None
    content_type: Name = "post"
    pillar: Name | None = None
    stage: Name | None = Field(default=None, description="Customer-journey stage.")
    series: Name | None = None
    paid: bool = False
    budget_id: Id | None = None


class PostFailed(PostPublicationEvent):
    """A publication attempt failed. `permanent`: no retry will follow (the post is `failed`);
    otherwise `retry_at` says when the next attempt is due."""

    EVENT_TYPE: ClassVar[str] = "PostFailed"

    reason: str = Field(max_length=2000)
    attempts: Annotated[int, StoredCount] = Field(ge=1)
    permanent: bool
    retry_at: Instant | None = None


class PostPaused(PostPublicationEvent):
    """A post was held back (by hand, or a budget ran out for a paid post)."""

    EVENT_TYPE: ClassVar[str] = "PostPaused"

    reason: str = Field(default="", max_length=500)


class PostResumed(PostPublicationEvent):
    """A paused post is scheduled again."""

    EVENT_TYPE: ClassVar[str] = "PostResumed"


# --------------------------------------------------------------------------- metrics


class EntityLevel(StrEnum):
    ACCOUNT = "account"
    POST = "post"
    STORY = "story"
    VIDEO = "video"
    AD = "ad"
    COMPETITOR_ACCOUNT = "competitor_account"


class TimeWindow(StrEnum):
    LIFETIME = "lifetime"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    DAYS_28 = "days_28"


class SourceKind(StrEnum):
    POLL = "poll"
    WEBHOOK = "webhook"
    BACKFILL = "backfill"
    MANUAL = "manual"


class ObservationSource(Contract):
    api: Name = Field(examples=["instagram_graph", "x_api_v2", "csv"])
    api_version: Name | None = Field(default=None, examples=["v21.0"])
    kind: SourceKind = SourceKind.POLL


class MetricValue(Contract):
    name: Name = Field(description="Canonical metric name", examples=["views", "likes"])
    value: BoundedDecimal = Field(ge=0, description="Non-negative count or amount.")
    unit: Literal["count", "seconds", "ratio"] = "count"
    native_name: Name | None = Field(default=None, description="The platform's own name.")


class AnalyticsObserved(ClientEvent):
    """One normalized analytics observation of one entity over one window. Event version 2
    adds `campaign_id`; a version 1 payload reads with it null."""

    EVENT_TYPE: ClassVar[str] = "AnalyticsObserved"
    EVENT_VERSION: ClassVar[int] = 2

    platform: Platform
    account_id: Id
    entity_level: EntityLevel
    entity_id: Id = Field(description="Post/story/video/ad id, or the account id itself.")
    owned: bool = Field(default=True, description="False for a competitor's account.")
    post_id: Id | None = Field(default=None, description="SocialOps post id, when known.")
    content_type: Name | None = None
    window: TimeWindow = TimeWindow.LIFETIME
    window_start: Instant | None = None
    cumulative: bool = Field(
        default=True, description="True: values are running totals; False: increments."
    )
    observed_at: Instant
    source: ObservationSource
    metrics: tuple[MetricValue, ...] = Field(default=(), max_length=MAX_METRICS_PER_OBSERVATION)
    spend: Money | None = None
    leads: Count | None = None
    visits: Count | None = None
    conversions: Count | None = None
    revenue: Money | None = None
    campaign_id: Id | None = Field(
        default=None, description="The ad campaign of an ads observation, when the API says."
    )

    @field_validator("spend", "revenue")
    @classmethod
    def _input_amount(cls, money: Money | None) -> Money | None:
        if money is not None:
            bounded_decimal(money.amount)  # input: at most MAX_DECIMAL_PLACES places
        return money


class SpendLine(Contract):
    """Spend carried by one stored observation (so budget can book it exactly once)."""

    observation_id: Id
    client_id: Id
    platform: Platform
    budget_id: Id | None = None
    post_id: Id | None = None
    amount: ExactDecimal
    currency: str
    observed_at: datetime
    campaign_id: Id | None = Field(default=None, description="Ad campaign, when known.")
    pillar: Name | None = Field(default=None, description="Content pillar of the post, if known.")


class ClientPlatformTotals(Contract):
    client_id: Id
    platform: Platform
    observations: Annotated[int, StoredCount]
    metrics: dict[StoredKey, ExactDecimal] = Field(default_factory=dict)


class SegmentTotals(Contract):
    """Counts of one client/platform's observations with a given campaign and/or pillar (only
    observations that have one or both; null where unknown)."""

    client_id: Id
    platform: Platform
    campaign_id: Id | None = None
    pillar: Name | None = None
    observations: Annotated[int, StoredCount]
    metrics: dict[StoredKey, ExactDecimal] = Field(default_factory=dict)


class MetricsIngested(Event):
    """A batch of observations was stored (compact: totals per client/platform + spend).
    Event version 2 adds the spend lines' `campaign_id` and `pillar` and the `segments`
    (counts per campaign and pillar); a version 1 payload reads with them null and empty."""

    EVENT_TYPE: ClassVar[str] = "MetricsIngested"
    EVENT_VERSION: ClassVar[int] = 2

    observations: Annotated[int, StoredCount] = Field(
        ge=0, description="Observations newly stored in this batch."
    )
    totals: tuple[ClientPlatformTotals, ...] = ()
    spend: tuple[SpendLine, ...] = ()
    segments: tuple[SegmentTotals, ...] = Field(
        default=(), description="The totals' counts per campaign and pillar, where known."
    )


# --------------------------------------------------------------------------- budget


class BudgetThresholdCrossed(Event):
    """A budget's booked spend reached one of its thresholds (published once per threshold)."""

    EVENT_TYPE: ClassVar[str] = "BudgetThresholdCrossed"

    budget_id: Id
    client_id: Id
    threshold_pct: int = Field(ge=1, le=1000)
    spent: Money
    limit: Money
    pause_paid_posts: bool = Field(
        description="True when the crossing means paid promotion must stop (>= 100%)."
    )

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


class BudgetAllocationThresholdCrossed(Event):
    """Spend booked on one allocation of a budget reached one of its thresholds (published
    once per threshold; a warning: only the budget's total at 100 % pauses paid posts)."""

    EVENT_TYPE: ClassVar[str] = "BudgetAllocationThresholdCrossed"

    budget_id: Id
    client_id: Id
    allocation_id: Id
    threshold_pct: int = Field(ge=1, le=1000)
    spent: Money
    limit: Money

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


class BudgetPacingAlert(Event):
    """At the run rate so far, a budget (or one allocation) will exceed its amount before the
    period ends (published once per budget/allocation and model)."""

    EVENT_TYPE: ClassVar[str] = "BudgetPacingAlert"

    budget_id: Id
    client_id: Id
    allocation_id: Id | None = Field(default=None, description="None: the budget's total.")
    model: str = Field(examples=["day_of_week", "linear"])
    as_of: date
    spent: Money
    projected: Money = Field(description="Spend projected at period end.")
    limit: Money

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


class BudgetUnderspent(Event):
    """At the budget's check point in its period, spend is below the share it set."""

    EVENT_TYPE: ClassVar[str] = "BudgetUnderspent"

    budget_id: Id
    client_id: Id
    as_of: date
    spent: Money
    expected: Money = Field(description="Linear share of the limit elapsed at `as_of`.")
    limit: Money

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


class BudgetResumed(Event):
    """An agency added money to a budget whose paid posts were paused and resumed it: the
    calendar resumes that budget's paused paid posts."""

    EVENT_TYPE: ClassVar[str] = "BudgetResumed"

    budget_id: Id
    client_id: Id
    reason: str = Field(max_length=500)
    spent: Money
    limit: Money

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


class BudgetReviewed(Event):
    """A budget's periodic (quarterly) review: plan vs actual, and reallocation suggestions
    (each: move `amount` from one platform to another, with the costs that justify it)."""

    EVENT_TYPE: ClassVar[str] = "BudgetReviewed"

    budget_id: Id
    client_id: Id
    period_start: date
    period_end: date
    planned: Money
    spent: Money
    suggestions: Annotated[int, StoredCount] = Field(
        ge=0, description="How many reallocations are suggested."
    )

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


# --------------------------------------------------------------------------- goals


class GoalEvent(Event):
    """A SMART goal's evaluation; the concrete type says what changed."""

    goal_id: Id
    client_id: Id
    metric: str = Field(examples=["followers", "ctr"])
    platform: Platform
    state: Literal["on_track", "at_risk", "achieved", "missed"]
    previous_state: Literal["on_track", "at_risk", "achieved", "missed"] | None = None
    baseline: ExactDecimal
    target: ExactDecimal
    current: ExactDecimal
    progress: ExactDecimal | None = Field(description="0..1 of the way from baseline to target.")
    projected: ExactDecimal | None = Field(description="Trend value at the deadline.")
    deadline: AwareDatetime
    evaluated_at: AwareDatetime

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.client_id}".encode()


class GoalProgressed(GoalEvent):
    """Progress changed, state unchanged (or first evaluation on track)."""

    EVENT_TYPE: ClassVar[str] = "GoalProgressed"


class GoalAtRisk(GoalEvent):
    """The trend projection misses the target by the deadline."""

    EVENT_TYPE: ClassVar[str] = "GoalAtRisk"


class GoalAchieved(GoalEvent):
    EVENT_TYPE: ClassVar[str] = "GoalAchieved"


class GoalMissed(GoalEvent):
    """The deadline passed without reaching the target."""

    EVENT_TYPE: ClassVar[str] = "GoalMissed"


# --------------------------------------------------------------------------- outgoing webhooks


class WebhookSubscriptionDisabled(Event):
    """An agency's webhook subscription stopped receiving deliveries: its URL failed
    `consecutive_failures` attempts in a row (on calendar.webhooks.v1)."""

    EVENT_TYPE: ClassVar[str] = "WebhookSubscriptionDisabled"

    subscription_id: Id
    url: str = Field(max_length=2000)
    consecutive_failures: Annotated[int, StoredCount] = Field(ge=1)
    last_error: str = Field(default="", max_length=2000)

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.subscription_id}".encode()


# --------------------------------------------------------------------------- plan adherence


class AdherenceDropped(ClientEvent):
    """A client's plan adherence (published / planned posts over its last complete weeks) fell
    below its threshold; published once per drop (on calendar.adherence.v1)."""

    EVENT_TYPE: ClassVar[str] = "AdherenceDropped"

    adherence: ExactDecimal = Field(description="0..1: kept planned slots / planned slots.")
    threshold: ExactDecimal = Field(description="0..1: the client's threshold.")
    consistency: ExactDecimal | None = Field(
        default=None, description="0..1: share of weeks meeting the planned frequency."
    )
    weeks: tuple[str, ...] = Field(
        default=(), max_length=53, description="The ISO weeks evaluated (client's zone)."
    )
    planned: Annotated[int, StoredCount] = Field(ge=0)
    published: Annotated[int, StoredCount] = Field(ge=0)


# Every event type on calendar.posts.lifecycle.v1 (consumers of that topic read several).
POST_LIFECYCLE_EVENTS: dict[str, type[Event]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        PostRescheduled,
        PostCancelled,
        PostDue,
        PostPublished,
        PostFailed,
        PostPaused,
        PostResumed,
    )
}


# --------------------------------------------------------------------------- audit


class PlatformTrialEnded(ClientEvent):
    """A platform trial (step 4: try a platform before committing) reached its end date and was
    judged against its success criterion; published once per trial."""

    EVENT_TYPE: ClassVar[str] = "PlatformTrialEnded"

    trial_id: Id
    platform: Platform
    start: date = Field(description="First day of the trial.")
    end: date = Field(description="Last day of the trial (inclusive).")
    metric: Name = Field(examples=["followers_end", "engagement_rate", "posts_per_week"])
    target: ExactDecimal
    achieved: ExactDecimal | None = Field(description="None: not defined (no data).")
    recommendation: Literal["keep", "drop"]
    reason: str = Field(max_length=500)


class PlatformReviewDue(ClientEvent):
    """A strategy platform's yearly re-evaluation date arrived (step 4: re-evaluate every
    year); carries the platform's current platform-choice score and its parts so the review
    is informed. Published once per client, strategy, platform and review date."""

    EVENT_TYPE: ClassVar[str] = "PlatformReviewDue"

    strategy_id: Id
    platform: Platform
    review_on: date = Field(description="The re-evaluation date that arrived.")
    period_start: date = Field(description="First day of the audit period scored.")
    period_end: date = Field(description="Last day of the audit period scored (inclusive).")
    goal: Name = Field(description="The goal the score's goal fit used.", examples=["awareness"])
    score: ExactDecimal | None = Field(
        description="Platform-choice score, 0-100; None for an ad platform (not scored).",
        examples=["72.5"],
    )
    components: dict[str, ExactDecimal] = Field(
        default_factory=dict,
        description="Each component 0-1: audience, goal_fit, competitors, own_performance, cost.",
        examples=[{"audience": "0.666667", "goal_fit": "0.6", "competitors": "0.5",
                   "own_performance": "0.5", "cost": "1"}],
    )  # fmt: skip
    weights: dict[str, ExactDecimal] = Field(
        default_factory=dict, description="The weights used (sum 1)."
    )


# --------------------------------------------------------------------------- tenancy


class ActivityRecorded(Event):
    """A change made through the HTTP API (a strategy, post, budget or key), for the agency's
    append-only activity log: who (the key's public id and role, never the key), what, and the
    entity's fields before and after as JSON text (secrets left out, bounded in size)."""

    EVENT_TYPE: ClassVar[str] = "ActivityRecorded"

    key_id: str = Field(min_length=1, max_length=64, description="Public id of the key used.")
    role: Literal["admin", "editor", "analyst"]
    entity: Literal["strategy", "post", "budget", "key"]
    entity_id: Id
    client_id: Id | None = Field(default=None, description="The client; None for a key.")
    action: Name = Field(examples=["created", "updated", "rescheduled", "revoked"])
    before: str | None = Field(
        default=None, max_length=16_000, description="The entity before, JSON; None if new."
    )
    after: str | None = Field(
        default=None, max_length=16_000, description="The entity after, JSON; None if removed."
    )

    def partition_key(self) -> bytes:
        return f"{self.tenant_id}:{self.entity}:{self.entity_id}".encode()
