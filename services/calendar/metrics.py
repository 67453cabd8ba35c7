"""Calendar domain metrics."""

from prometheus_client import Counter

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
