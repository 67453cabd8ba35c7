"""Budget documents and request bodies."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.money import Money


class BudgetIn(BaseModel):
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

    @model_validator(mode="after")
    def _check(self) -> BudgetIn:
        if self.limit.amount <= 0:
            raise ValueError("limit.amount must be greater than 0")
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        if any(not 1 <= t <= 1000 for t in self.thresholds_pct):
            raise ValueError("thresholds_pct must be between 1 and 1000")
        if len(set(self.thresholds_pct)) != len(self.thresholds_pct):
            raise ValueError("thresholds_pct must not repeat")
        return self


class Budget(BudgetIn):
    model_config = ConfigDict(extra="ignore", frozen=True)

    budget_id: str
    tenant_id: str
    spent: Money
    crossed_pct: list[int] = Field(default_factory=list)
    created_at: AwareDatetime
    updated_at: datetime | None = None
