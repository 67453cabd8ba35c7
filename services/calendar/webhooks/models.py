"""What an agency can subscribe to, and the request and response bodies of /webhooks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared import topics
from shared.envelope import Event
from shared.events import (
    POST_LIFECYCLE_EVENTS,
    AdherenceDropped,
    BudgetThresholdCrossed,
    GoalAchieved,
    GoalAtRisk,
    GoalMissed,
    GoalProgressed,
    PostScheduled,
)

# Every event an agency can receive, by type, and the topics they arrive on.
EVENTS: dict[str, type[Event]] = {
    PostScheduled.EVENT_TYPE: PostScheduled,
    **POST_LIFECYCLE_EVENTS,
    BudgetThresholdCrossed.EVENT_TYPE: BudgetThresholdCrossed,
    **{c.EVENT_TYPE: c for c in (GoalProgressed, GoalAtRisk, GoalAchieved, GoalMissed)},
    AdherenceDropped.EVENT_TYPE: AdherenceDropped,
}
TOPICS = (
    topics.POSTS_SCHEDULED,
    topics.POST_LIFECYCLE,
    topics.BUDGET_THRESHOLDS,
    topics.GOAL_EVENTS,
    topics.ADHERENCE,
)
EventType = StrEnum("EventType", {name: name for name in EVENTS})  # type: ignore[misc]


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # by N failed attempts in a row; POST .../enable turns it back on


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # every attempt failed
    SUSPENDED = "suspended"  # its subscription was disabled; resumes when it is enabled
    CANCELLED = "cancelled"  # its subscription was deleted


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    url: str = Field(
        min_length=1, max_length=2000, examples=["https://hooks.example.com/socialops"]
    )
    event_types: tuple[EventType, ...] = Field(
        min_length=1, max_length=len(EVENTS), examples=[["PostPublished", "PostFailed"]]
    )
    client_ids: tuple[str, ...] = Field(
        default=(), max_length=500, description="Only these clients' events (empty: all)."
    )
    description: str = Field(default="", max_length=500)


class Subscription(BaseModel):
    """A subscription as the agency sees it (never its secret, shown once)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subscription_id: str
    url: str
    event_types: tuple[str, ...]
    client_ids: tuple[str, ...] = ()
    description: str = ""
    status: SubscriptionStatus
    consecutive_failures: int = Field(description="Failed attempts in a row (any delivery).")
    disabled_reason: str | None = None
    secret_hint: str = Field(description="The first characters of the current secret.")
    created_at: datetime
    secret_rotated_at: datetime | None = None


class SubscriptionCreated(Subscription):
    secret: str = Field(description="Signing secret: shown only now; store it.")


class SecretRotated(BaseModel):
    subscription_id: str
    secret: str = Field(description="The new signing secret: shown only now.")
    previous_secret_valid_until: datetime = Field(
        description="Until then deliveries carry a second v1= signature under the old secret."
    )


class Attempt(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    at: datetime
    status_code: int | None = Field(description="The receiver's answer; null: no answer.")
    error: str | None = None
    duration_ms: int


class Delivery(BaseModel):
    """One event's delivery to one subscription, with every attempt."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    delivery_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    attempts: list[Attempt] = []
