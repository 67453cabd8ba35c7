"""Budget domain metrics. Labels take bounded values only: tenant, currency, a threshold
bucket and a reason code, never a user-chosen value (a threshold percentage is one)."""

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
    "Budget thresholds crossed (each published once), by bucket: lt100 (a warning) or ge100 "
    "(paid posts are paused).",
    ["tenant", "bucket"],
    registry=registry,
)
SPEND_UNBOOKED = Counter(
    "socialops_budget_spend_unbooked_total",
    "Spend lines booked on no budget, by reason: unknown_budget, currency_mismatch, "
    "outside_period (each dead-lettered) and no_budget (organic: the client has no budget).",
    ["reason"],
    registry=registry,
)


def bucket(threshold_pct: int) -> str:
    """The bounded label of a threshold percentage."""
    return "ge100" if threshold_pct >= 100 else "lt100"
