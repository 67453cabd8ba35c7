"""Issue 14 item 3: CSV numbers are bounded as text before they are converted, so a cell such
as `1e1000000` is a row error naming the field, answered at once."""

from __future__ import annotations

import io
import time

import pytest

from services.metrics.csv_import import import_csv

HEADER = "client_id,platform,account_id,observed_at,likes,leads,spend_amount,spend_currency"


@pytest.mark.parametrize(
    ("cells", "field", "reason"),
    [
        ("5,1e1000000,,", "leads", "too large: at most 16 digits before the point"),
        ("1E+999999999,,,", "likes", "too large"),
        ("9" * 65 + ",,,", "likes", "more than 64 characters"),
        ("5,,1e-13,EUR", "spend_amount", "at most 12 digits after the point"),
        ("5,,1e20,EUR", "spend_amount", "too large"),
    ],
)
def test_huge_or_overly_precise_numbers_are_row_errors(cells: str, field: str, reason: str) -> None:
    """Issue 14 item 3: the row is refused, naming the field, in well under a second."""
    text = f"{HEADER}\ncl-1,instagram,a1,2026-11-02T10:00:00Z,{cells}\n"
    t0 = time.monotonic()
    result = import_csv(io.StringIO(text), tenant_id="t1")
    assert time.monotonic() - t0 < 0.5
    assert result.events == []
    assert [(e.row, e.field) for e in result.errors] == [(1, field)]
    assert reason in result.errors[0].reason


def test_numbers_within_bounds_still_import() -> None:
    text = f"{HEADER}\ncl-1,instagram,a1,2026-11-02T10:00:00Z,1e3,999999999999999,0.5,EUR\n"
    result = import_csv(io.StringIO(text), tenant_id="t1")
    assert result.errors == []
    assert result.events[0].leads == 999_999_999_999_999


def test_a_cell_past_the_csv_field_limit_is_a_row_error_not_a_crash() -> None:
    """Issue 14 item 3: the csv module's field size limit stops the import with a row error."""
    big = "x" * 200_000
    text = f"{HEADER}\ncl-1,instagram,a1,2026-11-02T10:00:00Z,1,,,\ncl-1,{big},a1,x,1,,,\n"
    result = import_csv(io.StringIO(text), tenant_id="t1")
    assert len(result.events) == 1
    assert result.errors[0].row == 2 and "field larger than field limit" in result.errors[0].reason
