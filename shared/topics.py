"""Every Kafka topic name, in one place. Names carry a schema version suffix (`.v1`).

Each topic has a dead-letter twin `<topic>.dlq`. Tests and multi-environment clusters put a
prefix in front of every name (settings `topic_prefix`); see `Topics`.
"""

from __future__ import annotations

from dataclasses import dataclass

# calendar -> budget, audit, anyone: a client brand exists (services learn clients from it)
CLIENTS = "calendar.clients.v1"
# calendar -> metrics: a post exists and when it goes out
POSTS_SCHEDULED = "calendar.posts.scheduled.v1"
# calendar -> anyone: a post's later lifecycle (rescheduled, cancelled; publishing adds more)
POST_LIFECYCLE = "calendar.posts.lifecycle.v1"
# calendar -> anyone: a client's strategy got a new version
STRATEGIES = "calendar.strategies.v1"
# analytics pipelines -> metrics: normalized observations (high volume, batch-consumed)
ANALYTICS_OBSERVATIONS = "metrics.observations.v1"
# metrics -> budget, audit: a batch of observations was stored
METRICS_INGESTED = "metrics.ingested.v1"
# metrics -> anyone: goal status changes
GOAL_EVENTS = "metrics.goals.v1"
# budget -> calendar: a spend threshold was crossed
BUDGET_THRESHOLDS = "budget.thresholds.v1"
# budget -> calendar: a paused budget got money and was resumed (BudgetResumed)
BUDGET_RESUMPTIONS = "budget.resumptions.v1"
# budget -> anyone: allocation thresholds, pacing and underspend alerts, quarterly reviews
BUDGET_ALERTS = "budget.alerts.v1"
# calendar -> anyone: an agency's outgoing webhook subscription was disabled (failing deliveries)
WEBHOOKS = "calendar.webhooks.v1"
# calendar -> anyone: a client's plan adherence fell below its threshold
ADHERENCE = "calendar.adherence.v1"
# audit -> anyone: platform trials ended (keep or drop)
AUDIT_PLATFORMS = "audit.platforms.v1"
# audit -> anyone: a strategy platform's yearly re-evaluation date arrived (PlatformReviewDue)
AUDIT_PLATFORM_REVIEWS = "audit.platform-reviews.v1"
# calendar, budget -> calendar: a change made through the HTTP API, for the activity log
ACTIVITY = "tenancy.activity.v1"

ALL = (
    CLIENTS,
    POSTS_SCHEDULED,
    POST_LIFECYCLE,
    STRATEGIES,
    ANALYTICS_OBSERVATIONS,
    METRICS_INGESTED,
    GOAL_EVENTS,
    BUDGET_THRESHOLDS,
    WEBHOOKS,
    ADHERENCE,
    BUDGET_RESUMPTIONS,
    BUDGET_ALERTS,
    AUDIT_PLATFORMS,
    AUDIT_PLATFORM_REVIEWS,
    ACTIVITY,
)
DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return topic + DLQ_SUFFIX


@dataclass(frozen=True)
class Topics:
    """Topic names as one deployment sees them (with its prefix)."""

    prefix: str = ""

    def __call__(self, name: str) -> str:
        return self.prefix + name
