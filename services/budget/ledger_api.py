"""Ledger HTTP routes: manual entries (JSON, CSV), reversals, rate tables."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import InvalidOperation
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import ValidationError

from services.budget import entries as ledger_entries
from services.budget.api import (
    CsvBody,
    ReasonIn,
    Repo,
    RuntimeDep,
    find_budget,
    unprocessable,
)
from shared import pages
from shared.activity import activity
from shared.auth import Principal
from shared.envelope import Event
from shared.runtime import CurrentAgency, CurrentPrincipal, Runtime

router = APIRouter(tags=["budget ledger"])


def _entry_out(entry: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in entry.items() if k != "_id"}
    out["entry_id"] = entry["_id"]
    return out


def _logged(
    runtime: Runtime, principal: Principal, client_id: str, action: str
) -> Callable[[dict[str, Any]], Event]:
    """The activity-log entry of a ledger entry this key booked (the budget's entity)."""
    return lambda entry: activity(
        runtime, principal, entity="budget", entity_id=entry["budget_id"], client_id=client_id,
        action=action, before=None, after=_entry_out(entry),
    )  # fmt: skip


@router.post("/budgets/{budget_id}/entries", status_code=status.HTTP_201_CREATED)
async def add_entry(
    budget_id: str,
    body: ledger_entries.EntryIn,
    response: Response,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Repo,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Book a manual entry (tool, staff time, design invoice). The same `idempotency_key`
    again books nothing and answers 200 with the entry as booked. Another currency converts
    at your rate for `spent_on` (kept on the entry); no rate: 422."""
    budget = await find_budget(repo, agency.tenant_id, budget_id)
    try:
        entry = await ledger_entries.prepare(budget, body, repo=repo)
    except ledger_entries.RefusedEntryError as e:
        raise unprocessable(e.field, str(e).split(": ", 1)[1]) from e
    [booked] = await ledger_entries.book_manual(
        budget, [entry], cause=None, runtime=runtime, repo=repo,
        logged=_logged(runtime, principal, budget.client_id, "entry_booked"),
    )  # fmt: skip
    if not booked.new:
        response.status_code = status.HTTP_200_OK
    return _entry_out(booked.entry)


ENTRY_COLUMNS = ("idempotency_key", "spent_on", "amount", "currency", "category", "description")


def _read_csv(body: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(header, rows) of a CSV body; a 422 naming the line the csv module cannot read (a
    carriage return inside an unquoted cell, a cell past its field size limit)."""
    reader = csv.DictReader(io.StringIO(body, newline=""))
    try:
        rows = list(reader)
    except csv.Error as e:
        raise unprocessable(f"line {reader.reader.line_num}", f"not readable as CSV ({e})") from e
    return list(reader.fieldnames or []), rows


@router.post("/budgets/{budget_id}/entries.csv")
async def import_entries(
    budget_id: str,
    body: CsvBody,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Repo,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Book manual entries from CSV (header: idempotency_key,spent_on,amount,currency,
    category,description). All rows or none: any bad row is a 422 naming row and field."""
    budget = await find_budget(repo, agency.tenant_id, budget_id)
    header, rows = _read_csv(body)
    missing = set(ENTRY_COLUMNS[:4]) - set(header)
    if missing:
        raise unprocessable("header", f"missing column(s) {', '.join(sorted(missing))}")
    prepared: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        where = f"row {n}."
        try:
            entry_in = ledger_entries.EntryIn(
                idempotency_key=row["idempotency_key"],
                spent_on=row["spent_on"],
                amount={"amount": row["amount"], "currency": row["currency"]},
                category=row.get("category") or None,
                description=row.get("description") or None,
            )
            prepared.append(await ledger_entries.prepare(budget, entry_in, repo=repo, row=where))
        except ValidationError as e:
            err = e.errors(include_url=False)[0]
            field = ".".join(str(p) for p in err["loc"]) or "row"
            raise unprocessable(f"{where}{field}", err["msg"]) from e
        except ledger_entries.RefusedEntryError as e:
            raise unprocessable(e.field, str(e).split(": ", 1)[1]) from e
    if len({e["_id"] for e in prepared}) != len(prepared):
        raise unprocessable("idempotency_key", "repeats within the file")
    booked = await ledger_entries.book_manual(
        budget, prepared, cause=None, runtime=runtime, repo=repo,
        logged=_logged(runtime, principal, budget.client_id, "entry_booked"),
    )  # fmt: skip
    return {
        "rows": len(booked),
        "booked": sum(b.new for b in booked),
        "already_booked": sum(not b.new for b in booked),
    }


@router.get("/budgets/{budget_id}/entries")
async def list_entries(
    budget_id: str, agency: CurrentAgency, repo: Repo, limit: pages.Limit = pages.DEFAULT_PAGE
) -> list[dict[str, Any]]:
    """The ledger of a budget in booking order (append-only: corrections are reversals)."""
    await find_budget(repo, agency.tenant_id, budget_id)
    return [_entry_out(e) for e in await repo.entries(agency.tenant_id, budget_id, limit=limit)]


@router.post("/budgets/{budget_id}/entries/{entry_id}/reverse", status_code=201)
async def reverse_entry(
    budget_id: str,
    entry_id: str,
    body: ReasonIn,
    response: Response,
    agency: CurrentAgency,
    principal: CurrentPrincipal,
    repo: Repo,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Cancel an entry with a reversing entry (once; again answers 200 with it)."""
    budget = await find_budget(repo, agency.tenant_id, budget_id)
    original = await repo.entry(agency.tenant_id, entry_id)
    if original is None or original["budget_id"] != budget_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"entry '{entry_id}' not found")
    if original.get("kind") == "reversal":
        raise unprocessable("entry_id", "is itself a reversal")
    rev = ledger_entries.reversal(original, reason=body.reason)
    [booked] = await ledger_entries.book_manual(
        budget, [rev], cause=None, runtime=runtime, repo=repo,
        logged=_logged(runtime, principal, budget.client_id, "entry_reversed"),
    )  # fmt: skip
    if not booked.new:
        response.status_code = status.HTTP_200_OK
    return _entry_out(booked.entry)


@router.post("/rates")
async def put_rates(
    body: list[ledger_entries.RateIn], agency: CurrentAgency, repo: Repo
) -> dict[str, int]:
    """Supply exchange rates by date (1 base = rate quote); a day's rate can be replaced."""
    rows = [r.model_dump() for r in body]
    return {"stored": await repo.put_rates(agency.tenant_id, rows)}


@router.post("/rates.csv")
async def import_rates(body: CsvBody, agency: CurrentAgency, repo: Repo) -> dict[str, int]:
    """Import reference rates from CSV (header: date,base,quote,rate), all rows or none."""
    rows: list[dict[str, Any]] = []
    for n, row in enumerate(_read_csv(body)[1], start=1):
        try:
            rows.append(ledger_entries.RateIn.model_validate(row).model_dump())
        except (ValidationError, InvalidOperation) as e:
            detail = e.errors(include_url=False)[0] if isinstance(e, ValidationError) else None
            field = ".".join(str(p) for p in detail["loc"]) if detail else "rate"
            raise unprocessable(f"row {n}.{field}", detail["msg"] if detail else str(e)) from e
    return {"stored": await repo.put_rates(agency.tenant_id, rows)}
