"""Budget documents and request bodies: a budget is a total in one currency for a client and
period, planned as versioned allocations by category; spend is booked in an append-only
ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events import Platform
from shared.money import ExactDecimal, Money, minor_units


class Category(StrEnum):
    """Where social money goes (method step 8)."""

    PAID_ADS = "paid_ads"
    BOOSTED_POSTS = "boosted_posts"
    INFLUENCERS = "influencers"
    TOOLS = "tools"
    STAFF_HOURS = "staff_hours"
    DESIGN = "design"
    UGC_REWARDS = "ugc_rewards"
    TEST_BUDGET = "test_budget"


# Categories that ad spend from MetricsIngested books on (by the line's platform).
AD_CATEGORIES = (Category.PAID_ADS, Category.BOOSTED_POSTS)


def check_exact(field: str, money: Money, *, allow_zero: bool = True) -> None:
    """ValueError naming `field` when `money` is negative or finer than its currency's minor
    unit (1.005 EUR; any fraction of JPY)."""
    if money.amount < 0 or (not allow_zero and money.amount == 0):
        bound = "0 or more" if allow_zero else "greater than 0"
        raise ValueError(f"{field}: {money.amount} {money.currency} must be {bound}")
    places = minor_units(money.currency)
    if money.amount != money.amount.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(
            f"{field}: {money.amount} {money.currency} has more decimals than {money.currency} "
            f"has minor units ({places})"
        )


def _check_thresholds(field: str, thresholds: list[int]) -> None:
    if any(not 1 <= t <= 1000 for t in thresholds):
        raise ValueError(f"{field} must be between 1 and 1000")
    if len(set(thresholds)) != len(thresholds):
        raise ValueError(f"{field} must not repeat")


class AllocationIn(BaseModel):
    """A planned share of the budget: an amount, or for staff time hours x hourly rate."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Category
    amount: Money | None = Field(default=None, examples=[{"amount": "600.00", "currency": "EUR"}])
    hours: ExactDecimal | None = Field(default=None, description="staff_hours: hours planned.")
    hourly_rate: Money | None = None
    platform: Platform | None = None
    campaign: str | None = Field(default=None, max_length=200, pattern=r"^[^.$]+$")
    pillar: str | None = Field(default=None, max_length=200, pattern=r"^[^.$]+$")
    thresholds_pct: list[int] | None = Field(
        default=None, description="Default: the budget's thresholds."
    )

    @field_validator("amount", "hourly_rate")
    @classmethod
    def _exact(cls, v: Money | None, info: Any) -> Money | None:
        if v is not None:
            check_exact(info.field_name, v)
        return v

    @model_validator(mode="after")
    def _check(self) -> AllocationIn:
        if self.hours is not None or self.hourly_rate is not None:
            if self.hours is None or self.hourly_rate is None or self.amount is not None:
                raise ValueError("hours and hourly_rate go together, instead of amount")
            if self.hours <= 0:
                raise ValueError("hours must be greater than 0")
        elif self.amount is None:
            raise ValueError("amount (or hours and hourly_rate) is required")
        if self.thresholds_pct is not None:
            _check_thresholds("thresholds_pct", self.thresholds_pct)
        return self

    @property
    def allocation_id(self) -> str:
        """Stable across plan versions: category, then what it is tied to."""
        parts = [self.category.value, self.platform, self.campaign, self.pillar]
        return ":".join(p for p in parts if p) if any(parts[1:]) else self.category.value

    def planned(self) -> Money:
        """The allocated amount (hours x rate rounded half-even to the minor unit)."""
        if self.amount is not None:
            return self.amount
        assert self.hours is not None and self.hourly_rate is not None
        raw = Money(amount=self.hours * self.hourly_rate.amount, currency=self.hourly_rate.currency)
        return raw.rounded()


class Allocation(AllocationIn):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    planned_amount: Money


class PlanIn(BaseModel):
    """A new version of a budget's plan (limit and allocations)."""

    model_config = ConfigDict(extra="forbid")

    limit: Money
    allocations: list[AllocationIn] = Field(default_factory=list, max_length=100)
    overdraft: bool = Field(
        default=False, description="Allow allocations to add up to more than the limit."
    )
    note: str | None = Field(default=None, max_length=500)

    @field_validator("limit")
    @classmethod
    def _exact_limit(cls, v: Money) -> Money:
        check_exact("limit.amount", v, allow_zero=False)
        return v

    @model_validator(mode="after")
    def _check_plan(self) -> PlanIn:
        currency = self.limit.currency
        total = Decimal(0)
        ids: set[str] = set()
        for i, allocation in enumerate(self.allocations):
            planned = allocation.planned()
            if planned.currency != currency:
                raise ValueError(
                    f"allocations[{i}]: in {planned.currency}, but the budget is in {currency}"
                )
            if allocation.allocation_id in ids:
                raise ValueError(f"allocations[{i}]: {allocation.allocation_id} is planned twice")
            ids.add(allocation.allocation_id)
            total += planned.amount
        if total > self.limit.amount and not self.overdraft:
            raise ValueError(
                f"allocations: they add up to {total} {currency}, more than the limit "
                f"{self.limit.amount} {currency} (set overdraft: true for an overdraft plan)"
            )
        return self

    def allocations_out(self) -> list[Allocation]:
        return [
            Allocation(**a.model_dump(), id=a.allocation_id, planned_amount=a.planned())
            for a in self.allocations
        ]


class BudgetIn(PlanIn):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200, examples=["Q1 paid social"])
    limit: Money = Field(examples=[{"amount": "1500.00", "currency": "EUR"}])
    period_start: date
    period_end: date
    thresholds_pct: list[int] = Field(
        default=[50, 80, 100],
        min_length=1,
        description="Percentages of the limit that raise BudgetThresholdCrossed; "
        "100 or more pauses paid posts.",
    )
    underspend_check_pct: int = Field(
        default=50, ge=1, le=100, description="When this share of the period has elapsed..."
    )
    underspend_min_pct: int = Field(
        default=50,
        ge=1,
        le=100,
        description="...and spend is below this share of the linear expectation: BudgetUnderspent.",
    )

    @model_validator(mode="after")
    def _check(self) -> BudgetIn:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        _check_thresholds("thresholds_pct", self.thresholds_pct)
        return self


class Budget(BudgetIn):
    model_config = ConfigDict(extra="ignore", frozen=True)

    budget_id: str
    tenant_id: str
    spent: Money
    crossed_pct: list[int] = Field(default_factory=list)
    version: int = 1
    allocations: list[Allocation] = Field(default_factory=list)  # type: ignore[assignment]
    allocation_spent: dict[str, ExactDecimal] = Field(default_factory=dict)
    allocation_crossed: dict[str, list[int]] = Field(default_factory=dict)
    daily_spent: dict[str, ExactDecimal] = Field(default_factory=dict, description="Per day.")
    allocation_daily: dict[str, dict[str, ExactDecimal]] = Field(default_factory=dict)
    paced: list[str] = Field(default_factory=list, description="Pacing alerts raised.")
    underspent: bool = False
    generation: int = Field(default=0, description="Times resumed (thresholds re-armed).")
    warnings: list[str] = Field(default_factory=list)
    created_at: AwareDatetime
    updated_at: datetime | None = None

    def allocation_for(self, allocation_id: str) -> Allocation | None:
        return next((a for a in self.allocations if a.id == allocation_id), None)
