"""Calendar domain metrics."""

from prometheus_client import Counter, Gauge, Histogram

from shared.observability import registry

POSTS_SCHEDULED = Counter(
    "socialops_calendar_posts_scheduled_total",
    "Posts scheduled.",
    ["tenant", "platform"],
    registry=registry,
)
POSTS_PAUSED = Counter(
    "socialops_calendar_posts_paused_total",
    "Paid posts paused because a budget threshold was crossed.",
    ["tenant"],
    registry=registry,
)
POSTS_RESUMED = Counter(
    "socialops_calendar_posts_resumed_total",
    "Paid posts scheduled again because the budget that paused them was resumed.",
    ["tenant"],
    registry=registry,
)

# --------------------------------------------------------------------------- publishing
# Labels stay bounded: platform (a fixed enum), outcome and status (a few values each); never a
# client or post id.
POSTS_CLAIMED = Counter(
    "socialops_calendar_posts_claimed_total",
    "Posts claimed by this process's dispatcher (due, or taken over after a lease expired).",
    registry=registry,
)
PUBLISH_ATTEMPTS = Counter(
    "socialops_calendar_publish_attempts_total",
    "Publication attempts by answer: published, transient (retried), permanent (failed).",
    ["platform", "outcome"],
    registry=registry,
)
PUBLISH_LAG = Histogram(
    "socialops_calendar_publish_lag_seconds",
    "Due instant to published (first attempt's success or after retries).",
    ["platform"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
    registry=registry,
)
POSTS_OVERDUE = Gauge(
    "socialops_calendar_posts_overdue",
    "Posts due more than the grace period ago and still not published, by status.",
    ["status"],
    registry=registry,
)
DISPATCH_SECONDS = Histogram(
    "socialops_calendar_dispatch_seconds",
    "Time the dispatcher spends per stage: scanning the due set (scan), one claim transaction"
    " (claim), one request to a platform (request), one group commit of answers (record).",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
