"""Dependencies of the audit routes: repositories and the agency's known clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.audit.accounts.repository import AccountRepository
from services.audit.readmodel.repository import ReadModel
from shared.deps import Known, app_state

__all__ = ["Accounts", "Known", "Reads"]

Accounts = Annotated[AccountRepository, Depends(app_state("accounts"))]
Reads = Annotated[ReadModel, Depends(app_state("read_model"))]
