"""Outgoing webhook metrics (bounded labels: outcome, tenant; never a subscription or URL)."""

from prometheus_client import Counter, Histogram

from shared.observability import registry

ATTEMPTS = Counter(
    "socialops_calendar_webhook_attempts_total",
    "Webhook delivery attempts by outcome: delivered, retrying (failed, will retry), failed "
    "(failed, no attempt left).",
    ["outcome"],
    registry=registry,
)
ENQUEUED = Counter(
    "socialops_calendar_webhook_deliveries_enqueued_total",
    "Deliveries created (one per event and matching subscription).",
    registry=registry,
)
DISABLED = Counter(
    "socialops_calendar_webhook_subscriptions_disabled_total",
    "Subscriptions disabled after failing attempts in a row.",
    ["tenant"],
    registry=registry,
)
LAG = Histogram(
    "socialops_calendar_webhook_delivery_lag_seconds",
    "Delivery created (its event consumed) to delivered with a 2xx.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
    registry=registry,
)
