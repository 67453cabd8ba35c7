"""Application service: book a MetricsIngested event's spend on budgets and stage one
BudgetThresholdCrossed per newly crossed threshold, all in one transaction.

Where a spend line goes (`route`), budgets being those of the event's tenant only:
- it names a budget (`budget_id`, from its paid post): that budget, if it is one of the line's
  client and in the line's currency; else it is refused (`unknown_budget`,
  `currency_mismatch`). A named budget takes spend outside its period (the post says so).
- else every budget of its client in its currency whose period contains the spend. A client
  with budgets, none in that currency, refuses it (`currency_mismatch`); with budgets in that
  currency but none for that day, too (`outside_period`).
- a client with no budget at all is organic or unmanaged spend: not booked, not refused (only
  counted, reason `no_budget`), since most clients of an agency have no paid budget.
A refused line is dead-lettered alone, the rest of its event booked: see `dead_letter_refused`.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiokafka import ConsumerRecord
from pymongo.asynchronous.client_session import AsyncClientSession

from services.budget.alerts import settle
from services.budget.metrics import SPEND_UNBOOKED
from services.budget.models import Budget
from services.budget.repository import BudgetRepository
from services.budget.service import ad_allocation, applies_to, convert
from shared import topics
from shared.broker import encode
from shared.envelope import derived_event_id, utcnow
from shared.events import BudgetThresholdCrossed, MetricsIngested, SpendLine
from shared.money import Money
from shared.runtime import Runtime


class Unbooked(StrEnum):
    """Why a spend line was booked on no budget (the bounded `reason` label)."""

    UNKNOWN_BUDGET = "unknown_budget"
    CURRENCY_MISMATCH = "currency_mismatch"
    OUTSIDE_PERIOD = "outside_period"
    NO_BUDGET = "no_budget"  # organic spend: counted, never dead-lettered


@dataclass(frozen=True)
class Refusal:
    line: SpendLine
    reason: Unbooked
    detail: str

    def describe(self) -> str:
        """The dead letter's x-dlq-reason: the reason code first, then the line and why."""
        line = self.line
        return (
            f"{self.reason.value}: spend line {line.observation_id} of client {line.client_id} "
            f"({line.amount} {line.currency}) {self.detail}"
        )[:900]


@dataclass(frozen=True)
class Booking:
    """What one event's spend did: the crossings staged and the lines refused."""

    crossings: list[BudgetThresholdCrossed] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    organic: int = 0  # lines of clients with no budget at all


def route(line: SpendLine, budgets: list[Budget]) -> list[Budget] | Refusal | None:
    """The budgets a line is booked on (of the tenant's `budgets`), a Refusal saying why none
    takes it, or None for a client with no budget at all (organic spend)."""
    own = [b for b in budgets if b.client_id == line.client_id]
    if line.budget_id is not None:
        return _named(line, own)
    if not own:
        return None
    taking = [b for b in own if applies_to(b, line)]
    if taking:
        return taking
    currencies = sorted({b.limit.currency for b in own})
    if line.currency not in currencies:
        detail = f"but the client's budgets are in {', '.join(currencies)}"
        return Refusal(line, Unbooked.CURRENCY_MISMATCH, detail)
    day = line.observed_at.date().isoformat()
    detail = f"on {day}, outside the period of each of the client's {line.currency} budgets"
    return Refusal(line, Unbooked.OUTSIDE_PERIOD, detail)


def _named(line: SpendLine, own: list[Budget]) -> list[Budget] | Refusal:
    named = [b for b in own if b.budget_id == line.budget_id]
    if not named:
        detail = f"names budget {line.budget_id}, which is no budget of this client"
        return Refusal(line, Unbooked.UNKNOWN_BUDGET, detail)
    if named[0].limit.currency != line.currency:
        detail = f"names budget {line.budget_id}, which is in {named[0].limit.currency}"
        return Refusal(line, Unbooked.CURRENCY_MISMATCH, detail)
    return named


async def book_spend(
    event: MetricsIngested,
    session: AsyncClientSession,
    *,
    runtime: Runtime,
    repo: BudgetRepository,
) -> Booking:
    """Book spend lines once per (budget, observation); stage the crossings; return them with
    the lines no budget takes (see the module doc)."""
    if not event.spend:
        return Booking()
    budgets = await repo.for_clients(
        event.tenant_id, {line.client_id for line in event.spend}, session=session
    )
    entries: list[dict[str, Any]] = []
    refused: list[Refusal] = []
    organic = 0
    for line in event.spend:
        routed = route(line, budgets)
        if routed is None:
            organic += 1
        elif isinstance(routed, Refusal):
            converted = None
            if routed.reason is Unbooked.CURRENCY_MISMATCH:
                converted = await _converted(event, line, budgets, repo=repo, session=session)
            if converted:
                entries.extend(converted)
            else:
                refused.append(routed)
        else:
            entries.extend(ledger_entry(event, b, line) for b in routed)
    fresh = await repo.book(entries, session=session)
    by_budget: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in fresh:
        by_budget[entry["budget_id"]].append(entry)
    crossings: list[BudgetThresholdCrossed] = []
    today = utcnow().date()
    for budget in budgets:
        if budget.budget_id in by_budget:
            raised = await settle(
                budget,
                by_budget[budget.budget_id],
                cause=event,
                today=today,
                session=session,
                runtime=runtime,
                repo=repo,
            )
            crossings += [e for e in raised if isinstance(e, BudgetThresholdCrossed)]
    return Booking(crossings=crossings, refused=refused, organic=organic)


def ledger_entry(event: MetricsIngested, budget: Budget, line: SpendLine) -> dict[str, Any]:
    """The ledger entry of an ad spend line on a budget (on its allocation for the platform),
    with the line's campaign and pillar when it has them (else the review counts the entry
    under its allocation's campaign and pillar, if any)."""
    allocation = ad_allocation(budget, line)
    entry = {
        "_id": f"{budget.budget_id}:{line.observation_id}",  # budget ids are unique per service
        "tenant_id": event.tenant_id,
        "budget_id": budget.budget_id,
        "observation_id": line.observation_id,
        "amount": line.amount,
        "currency": line.currency,
        "observed_at": line.observed_at,
        "spent_on": line.observed_at.date().isoformat(),
        "allocation_id": allocation.id if allocation else None,
        "platform": line.platform.value,
        "kind": "metrics",
        "booked_at": utcnow(),
        "event_id": event.event_id,
    }
    if line.campaign_id is not None:
        entry["campaign_id"] = line.campaign_id
    if line.pillar is not None:
        entry["pillar"] = line.pillar
    return entry


async def dead_letter_refused(
    refused: list[Refusal], *, event: MetricsIngested, source: Any, runtime: Runtime
) -> None:
    """Publish each refused line alone to the `.dlq` of the event's topic, as a MetricsIngested
    carrying only that line (its id derived from the event's and the line's, so a retry
    publishes the same id), with the shared dead-letter headers (reason, kind `permanent`,
    source topic, partition and offset). Replayed onto the topic once a budget takes the line
    (a budget in that currency, for that period), it is booked; audit ignores it (no totals).

    Called inside the booking transaction, before it commits: a failed publish rolls the
    booking back and the whole event is retried, so no refused line is lost."""
    record = _record(source, runtime)
    for refusal in refused:
        letter = MetricsIngested.new(
            producer="budget",
            cause=event,
            event_id=derived_event_id(
                "UnbookedSpend", event.tenant_id, event.event_id, refusal.line.observation_id
            ),
            observations=0,
            spend=(refusal.line,),
        )
        await runtime.dead_letters.send(
            dataclasses.replace(record, key=letter.partition_key(), value=encode(letter)),
            reason=refusal.describe(),
            kind="permanent",
            correlation_id=event.correlation_id,
        )


def count_unbooked(booking: Booking) -> None:
    """Count the lines no budget took, by reason (after the booking committed)."""
    for refusal in booking.refused:
        SPEND_UNBOOKED.labels(refusal.reason.value).inc()
    if booking.organic:
        SPEND_UNBOOKED.labels(Unbooked.NO_BUDGET.value).inc(booking.organic)


def _record(source: Any, runtime: Runtime) -> ConsumerRecord[Any, Any]:
    """The consumed Kafka record (its topic, partition and offset go into the headers)."""
    if isinstance(source, ConsumerRecord):
        return source
    return ConsumerRecord(  # not from a real consumer (in-memory test broker): no position
        topic=runtime.topics(topics.METRICS_INGESTED), partition=-1, offset=-1, timestamp=0,
        timestamp_type=0, key=None, value=None, checksum=None, serialized_key_size=-1,
        serialized_value_size=-1, headers=[],
    )  # fmt: skip


async def _converted(
    event: MetricsIngested,
    line: SpendLine,
    budgets: list[Budget],
    *,
    repo: BudgetRepository,
    session: AsyncClientSession,
) -> list[dict[str, Any]]:
    """Entries for a line in another currency than its budgets', converted at the agency's rate
    for the line's day (rate and date kept on the entry); none without such a rate."""
    day = line.observed_at.date()
    own = [
        b
        for b in budgets
        if b.client_id == line.client_id
        and (b.budget_id == line.budget_id or (
            line.budget_id is None and b.period_start <= day <= b.period_end))
    ]  # fmt: skip
    out = []
    for budget in own:
        currency = budget.limit.currency
        rate = await repo.rate(event.tenant_id, day, line.currency, currency, session=session)
        if rate is None:
            continue
        original = Money(amount=line.amount, currency=line.currency)
        entry = ledger_entry(event, budget, line)
        entry |= {
            "amount": convert(original, to=currency, rate=rate).amount,
            "currency": currency,
            "original": original.model_dump(),
            "rate": rate,
            "rate_date": day.isoformat(),
        }
        out.append(entry)
    return out
