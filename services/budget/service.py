"""Budget domain logic (pure): which spend belongs to which budget, which thresholds it crosses."""

from __future__ import annotations

from decimal import Decimal

from services.budget.models import Budget
from shared.events import SpendLine


def applies_to(budget: Budget, line: SpendLine) -> bool:
    """Whether a spend line is booked on this budget: named explicitly, or the client's
    budget in that currency whose period contains the spend."""
    if line.budget_id is not None:
        return line.budget_id == budget.budget_id
    return (
        line.client_id == budget.client_id
        and line.currency == budget.limit.currency
        and budget.period_start <= line.observed_at.date() <= budget.period_end
    )


def newly_crossed(budget: Budget, spent: Decimal) -> list[int]:
    """Thresholds reached by `spent` that were not reached before, lowest first."""
    ratio_pct = spent * 100 / budget.limit.amount
    return sorted(
        t for t in budget.thresholds_pct if ratio_pct >= t and t not in budget.crossed_pct
    )
