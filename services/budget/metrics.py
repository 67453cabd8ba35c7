"""Budget domain metrics."""

from prometheus_client import Counter

from shared.observability import registry

SPEND_BOOKED = Counter(
    "socialops_budget_spend_booked_total",
    "Spend booked on budgets, in the budget's currency units.",
    ["tenant", "currency"],
    registry=registry,
)
THRESHOLDS_CROSSED = Counter(
    "socialops_budget_thresholds_crossed_total",
    "Budget thresholds crossed (each published once).",
    ["tenant", "threshold_pct"],
    registry=registry,
)
