"""Accounts under audit: a client's own and competitor accounts per platform, in named groups
(e.g. "local bakeries"). No cap on how many."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.bounds import Id, Name
from shared.events import Platform

AD_PLATFORMS = frozenset({Platform.META_ADS, Platform.GOOGLE_ADS})
AUDIENCE_PLATFORMS = tuple(p for p in Platform if p not in AD_PLATFORMS)
MAX_ACCOUNTS_PER_REQUEST = 5000
MAX_GROUPS_PER_ACCOUNT = 20


class AccountIn(BaseModel):
    """One account to audit."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    platform: Platform = Field(examples=["instagram"])
    account_id: Id = Field(description="The platform's account id or handle.", examples=["@rival"])
    name: str = Field(default="", max_length=200, examples=["Rival Bakery"])
    owned: bool = Field(description="True: the client's own account; false: a competitor.")
    groups: tuple[Name, ...] = Field(
        default=(),
        max_length=MAX_GROUPS_PER_ACCOUNT,
        description="Groups the account is compared within; a group needs an own account.",
        examples=[["local bakeries"]],
    )

    @field_validator("platform")
    @classmethod
    def _audience_platform(cls, platform: Platform) -> Platform:
        if platform in AD_PLATFORMS:
            raise ValueError(f"{platform.value} holds ads, not an audience account")
        return platform


class AccountsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: tuple[AccountIn, ...] = Field(min_length=1, max_length=MAX_ACCOUNTS_PER_REQUEST)


class Account(BaseModel):
    """An account under audit, as stored."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    platform: Platform
    account_id: str
    name: str
    owned: bool
    groups: tuple[str, ...]


def groups_without_own(accounts: list[Account]) -> set[str]:
    """The groups in which no account is the client's own (nothing to compare against)."""
    named = {g for a in accounts for g in a.groups}
    with_own = {g for a in accounts if a.owned for g in a.groups}
    return named - with_own
