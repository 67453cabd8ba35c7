"""Manual ledger entries (tools, staff time, design invoices) and reversals: append-only,
one per idempotency key, converted into the budget's currency at the rate the agency
supplied for the entry's date (kept on the entry); a missing rate refuses the entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.budget.alerts import settle
from services.budget.models import Budget, Category, check_exact
from services.budget.repository import BudgetRepository
from services.budget.service import convert
from shared import mongo, topics
from shared.envelope import Event, utcnow
from shared.money import ExactDecimal, Money
from shared.runtime import Runtime


class EntryIn(BaseModel):
    """A manual spend entry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    idempotency_key: str = Field(min_length=1, max_length=200, examples=["invoice-2026-041"])
    spent_on: date
    amount: Money = Field(examples=[{"amount": "49.00", "currency": "USD"}])
    category: Category | None = None
    allocation_id: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=500)

    @field_validator("amount")
    @classmethod
    def _exact(cls, v: Money) -> Money:
        check_exact("amount", v, allow_zero=False)
        return v


class RateIn(BaseModel):
    """1 `base` = `rate` `quote` on `date` (e.g. 1 USD = 0.9215 EUR)."""

    model_config = ConfigDict(extra="forbid")

    date: date
    base: str = Field(min_length=3, max_length=3)
    quote: str = Field(min_length=3, max_length=3)
    rate: ExactDecimal = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> RateIn:
        Money(amount=Decimal(1), currency=self.base)  # ISO 4217 codes only
        Money(amount=Decimal(1), currency=self.quote)
        self.base, self.quote = self.base.upper(), self.quote.upper()
        return self


class RefusedEntryError(ValueError):
    """An entry that cannot be booked, naming the field and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class Booked:
    entry: dict[str, Any]
    new: bool
    raised: list[Event]


def entry_id(budget_id: str, key: str) -> str:
    return f"{budget_id}:manual:{key}"


async def prepare(
    budget: Budget, body: EntryIn, *, repo: BudgetRepository, row: str = ""
) -> dict[str, Any]:
    """The ledger entry for `body` (converted, allocation resolved), or RefusedEntryError."""
    currency = budget.limit.currency
    original = body.amount
    rate: Decimal | None = Decimal(1)
    if original.currency != currency:
        rate = await repo.rate(budget.tenant_id, body.spent_on, original.currency, currency)
        if rate is None:
            raise RefusedEntryError(
                f"{row}amount.currency",
                f"no {original.currency}->{currency} rate for {body.spent_on.isoformat()}; "
                "supply one (POST /rates or /rates.csv)",
            )
    assert rate is not None
    amount = convert(original, to=currency, rate=rate)
    allocation_id = body.allocation_id
    if allocation_id is not None and budget.allocation_for(allocation_id) is None:
        raise RefusedEntryError(f"{row}allocation_id", f"'{allocation_id}' is not in the plan")
    if allocation_id is None and body.category is not None:
        match = [a for a in budget.allocations if a.category == body.category]
        allocation_id = match[0].id if match else None
    if not budget.period_start <= body.spent_on <= budget.period_end:
        raise RefusedEntryError(f"{row}spent_on", "outside the budget's period")
    return {
        "_id": entry_id(budget.budget_id, body.idempotency_key),
        "tenant_id": budget.tenant_id,
        "budget_id": budget.budget_id,
        "kind": "manual",
        "idempotency_key": body.idempotency_key,
        "amount": amount.amount,
        "currency": currency,
        "original": original.model_dump(),
        "rate": rate,
        "rate_date": body.spent_on.isoformat() if original.currency != currency else None,
        "spent_on": body.spent_on.isoformat(),
        "category": body.category.value if body.category else None,
        "allocation_id": allocation_id,
        "description": body.description,
        "booked_at": utcnow(),
    }


async def book_manual(
    budget: Budget,
    entries: list[dict[str, Any]],
    *,
    cause: Event | None,
    runtime: Runtime,
    repo: BudgetRepository,
    logged: Callable[[dict[str, Any]], Event] | None = None,
) -> list[Booked]:
    """Book prepared entries in one transaction; entries whose key was booked before are
    returned as they were (not booked again). `logged` builds the activity-log entry of each
    entry booked now, staged in the same transaction."""
    async with mongo.transaction(runtime.mongo) as session:
        current = await repo.get(budget.tenant_id, budget.budget_id, session=session)
        assert current is not None
        fresh = await repo.book(entries, session=session)
        raised = await settle(
            current,
            fresh,
            cause=cause,
            today=utcnow().date(),
            session=session,
            runtime=runtime,
            repo=repo,
        )
        fresh_ids = {e["_id"] for e in fresh}
        if logged is not None and fresh:
            log_entries = [logged(e) for e in fresh]
            await runtime.outbox.stage(session, runtime.topics(topics.ACTIVITY), *log_entries)
        out = []
        for e in entries:
            stored = (
                e
                if e["_id"] in fresh_ids
                else await repo.entry(budget.tenant_id, e["_id"], session=session)
            )
            out.append(Booked(entry=stored or e, new=e["_id"] in fresh_ids, raised=raised))
    if raised or (logged is not None and fresh_ids):
        runtime.outbox.kick()
    return out


def reversal(original: dict[str, Any], *, reason: str | None) -> dict[str, Any]:
    """The entry cancelling `original` (same amount, negated; one per original)."""
    return {
        **{k: original.get(k) for k in ("tenant_id", "budget_id", "currency", "allocation_id")},
        "_id": f"{original['_id']}:reversal",
        "kind": "reversal",
        "reverses": original["_id"],
        "idempotency_key": f"reverse:{original['_id']}",
        "amount": -original["amount"],
        "spent_on": original.get("spent_on") or original["observed_at"].date().isoformat(),
        "description": reason,
        "booked_at": utcnow(),
    }
