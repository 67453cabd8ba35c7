"""Routes: run an audit over a period (JSON)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.audit.accounts.models import Account
from services.audit.analysis.audit import Audit, run_audit
from services.audit.analysis.period import MAX_MONTHS, Period, too_long
from services.audit.deps import Accounts, Known, Reads
from services.audit.errors import unprocessable
from shared.bounds import EARLIEST_YEAR, LATEST_YEAR
from shared.runtime import CurrentAgency

router = APIRouter(tags=["audit"])

Start = Annotated[date, Query(description="First day of the period (inclusive).")]
End = Annotated[date, Query(description="Last day of the period (inclusive).")]
Group = Annotated[str | None, Query(max_length=128, description="Compare within this group only.")]


def period_of(start: date, end: date) -> Period:
    """The period, or 422 naming `start` or `end` and why."""
    for name, day in (("start", start), ("end", end)):  # year 1 has no period before it
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise unprocessable(
                "query", name, msg=f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}"
            )
    if end < start:
        raise unprocessable("query", "end", msg="the period ends before it starts")
    if too_long(start, end):
        raise unprocessable(
            "query", "end", msg=f"the period is longer than {MAX_MONTHS} months; audit at most "
            f"{MAX_MONTHS} months at a time",
        )  # fmt: skip
    return Period(start=start, end=end)


def in_scope(accounts: list[Account], group: str | None) -> list[Account]:
    """The accounts of a group (422 when the group is unknown or has no own account)."""
    if group is None:
        return accounts
    members = [a for a in accounts if group in a.groups]
    if not members:
        raise unprocessable("query", "group", msg=f"the client has no group '{group}'")
    if not any(a.owned for a in members):
        raise unprocessable(
            "query", "group", msg=f"group '{group}' has no own account of the client to compare"
        )
    return members


async def audit_of(
    *,
    client_id: str,
    start: date,
    end: date,
    group: str | None,
    tenant_id: str,
    known: Any,
    accounts: Any,
    reads: Any,
) -> Audit:
    client = await known.require(tenant_id, client_id)
    period = period_of(start, end)
    scope = in_scope(await accounts.for_client(tenant_id, client_id), group)
    return await run_audit(
        reads=reads, tenant_id=tenant_id, client=client, accounts=scope, group=group,
        period=period,
    )  # fmt: skip


@router.get("/clients/{client_id}/audit")
async def get_audit(
    client_id: str,
    start: Start,
    end: End,
    agency: CurrentAgency,
    known: Known,
    accounts: Accounts,
    reads: Reads,
    group: Group = None,
) -> Audit:
    """The audit of the client's own accounts against its competitors over a period of at
    most 24 months: figures, ranks, percentiles, share of voice, trend, top posts, findings."""
    return await audit_of(
        client_id=client_id, start=start, end=end, group=group, tenant_id=agency.tenant_id,
        known=known, accounts=accounts, reads=reads,
    )  # fmt: skip
