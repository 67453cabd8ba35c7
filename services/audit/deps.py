"""Dependencies of the audit routes: repositories and the agency's known clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.audit.accounts.repository import AccountRepository
from services.audit.readmodel.repository import ReadModel
from shared.known_clients import KnownClients


def get_accounts(request: Request) -> AccountRepository:
    repo: AccountRepository = request.app.state.accounts
    return repo


def get_known(request: Request) -> KnownClients:
    known: KnownClients = request.app.state.known
    return known


def get_read_model(request: Request) -> ReadModel:
    model: ReadModel = request.app.state.read_model
    return model


Accounts = Annotated[AccountRepository, Depends(get_accounts)]
Known = Annotated[KnownClients, Depends(get_known)]
Reads = Annotated[ReadModel, Depends(get_read_model)]
