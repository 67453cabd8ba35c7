"""Issue 14 items 8, 9, 11 (budget, pure): where a spend line goes or why it goes nowhere,
threshold event ids scoped by tenant, bounded metric labels."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.budget.alerts import threshold_event_id
from services.budget.ledger import Refusal, Unbooked, route
from services.budget.metrics import bucket
from shared.money import Money
from tests.unit.test_budget_logic import budget, line


def test_a_line_goes_to_its_clients_budget_in_its_currency_and_period() -> None:
    """Issue 14 item 11: the ordinary case books."""
    eur = budget()
    assert route(line(), [eur, budget(budget_id="b2", client_id="other")]) == [eur]


def test_a_client_without_any_budget_is_organic_spend_not_a_refusal() -> None:
    """Issue 14 item 11: most clients have no paid budget; their spend is not dead-lettered."""
    assert route(line(client_id="organic"), [budget()]) is None


def test_lines_no_budget_takes_are_refused_with_a_bounded_reason() -> None:
    """Issue 14 item 11: unknown budget, another currency, outside every period."""
    eur = budget()
    usd = route(line(currency="USD"), [eur])
    assert isinstance(usd, Refusal) and usd.reason is Unbooked.CURRENCY_MISMATCH
    assert "in EUR" in usd.describe() and usd.describe().startswith("currency_mismatch: ")

    ghost = route(line(budget_id="bu-ghost"), [eur])
    assert isinstance(ghost, Refusal) and ghost.reason is Unbooked.UNKNOWN_BUDGET

    # a budget of another client (same tenant) named by this client's line is unknown to it
    theirs = budget(budget_id="b-theirs", client_id="c2")
    stolen = route(line(budget_id="b-theirs"), [eur, theirs])
    assert isinstance(stolen, Refusal) and stolen.reason is Unbooked.UNKNOWN_BUDGET

    named_usd = route(line(budget_id="b1", currency="USD"), [eur])
    assert isinstance(named_usd, Refusal) and named_usd.reason is Unbooked.CURRENCY_MISMATCH

    late = route(line(observed_at=datetime(2027, 6, 1, tzinfo=UTC)), [eur])
    assert isinstance(late, Refusal) and late.reason is Unbooked.OUTSIDE_PERIOD


def test_a_named_budget_takes_its_lines_in_its_currency() -> None:
    eur = budget(limit=Money(amount=Decimal(10), currency="EUR"))
    assert route(line(budget_id="b1", observed_at=datetime(2027, 1, 1, tzinfo=UTC)), [eur]) == [eur]


def test_threshold_event_ids_are_stable_and_scoped_by_tenant() -> None:
    """Issue 14 item 9: the same budget id and threshold in two tenants are two events."""
    assert threshold_event_id("a", "bu-1", 100) == threshold_event_id("a", "bu-1", 100)
    assert threshold_event_id("a", "bu-1", 100) != threshold_event_id("b", "bu-1", 100)
    assert threshold_event_id("a", "bu-1", 80) != threshold_event_id("a", "bu-1", 100)


def test_threshold_label_is_a_bounded_bucket() -> None:
    """Issue 14 item 8: a user-chosen percentage never becomes a label value."""
    assert {bucket(p) for p in range(1, 1001)} == {"lt100", "ge100"}
    assert (bucket(99), bucket(100), bucket(250)) == ("lt100", "ge100", "ge100")
