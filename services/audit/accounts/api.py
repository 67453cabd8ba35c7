"""Routes: the accounts a client audits (own and competitors, grouped, no cap)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from services.audit.accounts.models import Account, AccountIn, AccountsIn, groups_without_own
from services.audit.deps import Accounts, Known
from services.audit.errors import unprocessable
from shared.events import Platform
from shared.runtime import CurrentAgency

router = APIRouter(tags=["audit accounts"])


@router.put("/clients/{client_id}/audit/accounts")
async def put_accounts(
    client_id: str, body: AccountsIn, agency: CurrentAgency, known: Known, accounts: Accounts
) -> list[Account]:
    """Add or update accounts under audit (own and competitors); answers the client's list.

    422 when an own account is already an own account of another agency's client, or when a
    group would have no own account of the client to compare against."""
    await known.require(agency.tenant_id, client_id)
    incoming = list(body.accounts)
    taken = await accounts.claimed_elsewhere(agency.tenant_id, incoming)
    for i, a in enumerate(incoming):
        if f"{a.platform.value}|{a.account_id}" in taken:
            raise unprocessable(
                "body", "accounts", i, "account_id",
                msg=f"{a.platform.value} account '{a.account_id}' is an own account of a "
                "client of another agency; an account belongs to one agency",
            )  # fmt: skip
    existing = await accounts.for_client(agency.tenant_id, client_id)
    merged = {(a.platform, a.account_id): a for a in existing}
    merged |= {(a.platform, a.account_id): stored(client_id, a) for a in incoming}
    empty = groups_without_own(list(merged.values()))
    for i, a in enumerate(incoming):
        lacking = sorted(set(a.groups) & empty)
        if lacking:
            raise unprocessable(
                "body", "accounts", i, "groups",
                msg=f"group '{lacking[0]}' has no own account of the client: add one of the "
                "client's own accounts to it, a group compares the client with its competitors",
            )  # fmt: skip
    await accounts.save(agency.tenant_id, client_id, incoming)
    return await accounts.for_client(agency.tenant_id, client_id)


@router.get("/clients/{client_id}/audit/accounts")
async def list_accounts(
    client_id: str, agency: CurrentAgency, known: Known, accounts: Accounts
) -> list[Account]:
    """Every account the client audits, by platform and account id."""
    await known.require(agency.tenant_id, client_id)
    return await accounts.for_client(agency.tenant_id, client_id)


@router.delete(
    "/clients/{client_id}/audit/accounts/{platform}/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_account(
    client_id: str,
    platform: Platform,
    account_id: str,
    agency: CurrentAgency,
    known: Known,
    accounts: Accounts,
) -> None:
    """Stop auditing an account (its observations stay in the read model)."""
    await known.require(agency.tenant_id, client_id)
    if not await accounts.delete(agency.tenant_id, client_id, platform.value, account_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"account '{account_id}' not found")


def stored(client_id: str, a: AccountIn) -> Account:
    return Account(
        client_id=client_id,
        platform=a.platform,
        account_id=a.account_id,
        name=a.name,
        owned=a.owned,
        groups=a.groups,
    )
