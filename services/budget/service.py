"""Budget domain logic (pure): which spend belongs to which budget and allocation, which
thresholds it crosses, how spend is projected to the period end, currency conversion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.budget.models import AD_CATEGORIES, Allocation, Budget
from shared.events import SpendLine
from shared.money import Money


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
    return crossed_now(budget.thresholds_pct, budget.crossed_pct, spent, budget.limit.amount)


def crossed_now(
    thresholds: list[int], already: list[int], spent: Decimal, limit: Decimal
) -> list[int]:
    """Thresholds of `limit` reached by `spent`, not in `already`, lowest first."""
    if limit <= 0:
        return []
    ratio_pct = spent * 100 / limit
    return sorted(t for t in thresholds if ratio_pct >= t and t not in already)


def ad_allocation(budget: Budget, line: SpendLine) -> Allocation | None:
    """The allocation ad spend books on: a paid category tied to the line's platform, else a
    paid category tied to no platform; None when the plan has neither (unallocated)."""
    paid = [a for a in budget.allocations if a.category in AD_CATEGORIES]
    tied = [a for a in paid if a.platform == line.platform]
    untied = [a for a in paid if a.platform is None]
    found = tied or untied
    return found[0] if found else None


def convert(original: Money, *, to: str, rate: Decimal) -> Money:
    """`original` in currency `to` at `rate` (1 original unit = rate `to` units), rounded
    half-even to `to`'s minor unit."""
    return Money(amount=original.amount * rate, currency=to).rounded()


@dataclass(frozen=True)
class Projection:
    """Spend projected at period end by two run-rate models."""

    as_of: date
    spent: Decimal
    linear: Decimal
    day_of_week: Decimal


def as_of(budget: Budget, today: date) -> date:
    """`today` clamped into the budget's period."""
    return min(max(today, budget.period_start), budget.period_end)


def project(per_day: Mapping[str, Decimal], start: date, end: date, today: date) -> Projection:
    """Project spend at `end` from spend per day (ISO dates) elapsed in [start, today].

    linear: spent / elapsed days x period days.
    day_of_week: spent + for each remaining day, the average spend of its weekday so far
    (a weekday not seen yet: the overall daily average), so a client whose ads run on
    weekdays only is not projected to spend on Sundays."""
    today = min(max(today, start), end)
    elapsed = (today - start).days + 1
    total_days = (end - start).days + 1
    spent = sum((v for d, v in per_day.items() if d <= today.isoformat()), Decimal(0))
    daily = spent / elapsed
    linear = daily * total_days
    by_weekday: dict[int, Decimal] = {}
    seen: dict[int, int] = {}
    for i in range(elapsed):
        day = start + timedelta(days=i)
        w = day.weekday()
        seen[w] = seen.get(w, 0) + 1
        by_weekday[w] = by_weekday.get(w, Decimal(0)) + per_day.get(day.isoformat(), Decimal(0))
    rest = Decimal(0)
    for i in range(1, (end - today).days + 1):
        w = (today + timedelta(days=i)).weekday()
        rest += by_weekday[w] / seen[w] if w in seen else daily
    return Projection(as_of=today, spent=spent, linear=linear, day_of_week=spent + rest)


def underspent(budget: Budget, today: date) -> tuple[bool, Decimal]:
    """Whether, at its check point, the budget spent less than `underspend_min_pct` of the
    linear expectation; with that expectation (0 before the check point)."""
    total_days = (budget.period_end - budget.period_start).days + 1
    elapsed = (as_of(budget, today) - budget.period_start).days + 1
    if elapsed * 100 < budget.underspend_check_pct * total_days or today < budget.period_start:
        return False, Decimal(0)
    expected = (budget.limit.amount * elapsed / total_days).quantize(Decimal("0.0001"))
    return budget.spent.amount * 100 < expected * budget.underspend_min_pct, expected
