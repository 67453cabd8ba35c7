"""Streaming CSV import of analytics observations, in wide format: one row is one observation of
one entity over one window, with one column per canonical metric. Bad rows are reported, not fatal.

Columns (header names, any order):
  required  client_id, platform, account_id, observed_at (ISO 8601 with zone)
  optional  entity_level (default account), entity_id (default: the account id), owned
            (true/false, default true), post_id, content_type, window (lifetime|hour|day|week|
            days_28, default lifetime), window_start (ISO 8601 with zone), cumulative (true/false,
            default true for lifetime, false otherwise), spend_amount + spend_currency,
            revenue_amount + revenue_currency, leads, visits, conversions (whole numbers)
  metrics   any canonical metric (views, reach, impressions, likes, ...); empty = not observed
Rows are CSV records numbered from 1 after the header (row 0); a quoted multi-line cell is one
record. Blank records are skipped but counted. Importing a file twice yields the same event ids.
Numbers are checked as text before they are converted (a cell such as `1e1000000` would take
the converter tens of seconds): at most MAX_NUMBER_CHARS characters, MAX_INTEGER_DIGITS digits
before the point and MAX_DECIMAL_PLACES after it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from services.metrics.adapters.common import observation_event_id
from services.metrics.registry import EVENT_FIELD_METRICS, METRICS
from shared.events import (
    AnalyticsObserved,
    EntityLevel,
    MetricValue,
    ObservationSource,
    Platform,
    SourceKind,
    TimeWindow,
)
from shared.money import Money

PRODUCER = "metrics.csv_import"
CSV_API = "csv"
REQUIRED = ("client_id", "platform", "account_id", "observed_at")
OPTIONAL = (
    "entity_level",
    "entity_id",
    "owned",
    "post_id",
    "content_type",
    "window",
    "window_start",
    "cumulative",
    "spend_amount",
    "spend_currency",
    "revenue_amount",
    "revenue_currency",
    "leads",
    "visits",
    "conversions",
)
METRIC_COLUMNS = tuple(name for name in METRICS if name not in EVENT_FIELD_METRICS)
_TRUE, _FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}
MAX_NUMBER_CHARS = 64
MAX_INTEGER_DIGITS = 16  # below 10**16: counts and amounts are bounded at 10**15 downstream
MAX_DECIMAL_PLACES = 12
MAX_ERRORS_LISTED = 10_000  # in an HTTP answer; all are counted

ProgressCallback = Callable[[int, int | None], None]
E = TypeVar("E", bound=StrEnum)


class CsvRowError(BaseModel):
    """Why one field of one row was rejected (row 0 is the header)."""

    model_config = ConfigDict(frozen=True)

    row: int
    field: str
    reason: str


class CsvImport(NamedTuple):
    events: list[AnalyticsObserved]
    errors: list[CsvRowError]


def import_csv(
    lines: Iterable[str],
    *,
    tenant_id: str,
    kind: SourceKind = SourceKind.BACKFILL,
    total_rows: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> CsvImport:
    """All valid rows as events and every rejected field as an error, in file order."""
    events: list[AnalyticsObserved] = []
    errors: list[CsvRowError] = []
    for item in iter_csv(
        lines, tenant_id=tenant_id, kind=kind, total_rows=total_rows, on_progress=on_progress
    ):
        if isinstance(item, CsvRowError):
            errors.append(item)
        else:
            events.append(item)
    return CsvImport(events, errors)


def iter_csv(
    lines: Iterable[str],
    *,
    tenant_id: str,
    kind: SourceKind = SourceKind.BACKFILL,
    total_rows: int | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 500,
) -> Iterator[AnalyticsObserved | CsvRowError]:
    """Events and errors one row at a time, reading `lines` once (e.g. an open file).

    `on_progress(rows_done, total_rows)` is called every `progress_every` rows and at the end;
    `total_rows` is passed through (None when unknown, for an indeterminate progress bar).
    """
    reader = csv.reader(lines)
    try:
        first = next(reader, [])
    except csv.Error as e:
        yield CsvRowError(row=0, field="row", reason=f"not CSV: {e}")
        return
    header = [name.strip().lstrip("\ufeff") for name in first]
    header_errors = list(_check_header(header))
    yield from header_errors
    if any(e.field in REQUIRED for e in header_errors):
        return
    metric_columns = [name for name in header if name in METRIC_COLUMNS]
    done = 0
    for done, cells in enumerate(_records(reader), start=1):
        if isinstance(cells, csv.Error):
            yield CsvRowError(row=done, field="row", reason=f"not CSV, import stopped: {cells}")
            break
        if not any(cell.strip() for cell in cells):
            pass  # a blank line or a spreadsheet's trailing ",,,": no observation
        elif len(cells) != len(header):
            reason = f"{len(cells)} cells but the header has {len(header)} columns"
            yield CsvRowError(row=done, field="row", reason=reason)
        else:
            row = _Row(dict(zip(header, cells, strict=True)), number=done)
            event = row.observation(tenant_id=tenant_id, kind=kind, metric_columns=metric_columns)
            yield from row.errors if event is None else (event,)
        if on_progress is not None and done % progress_every == 0:
            on_progress(done, total_rows)
    if on_progress is not None:
        on_progress(done, total_rows)


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | csv.Error]:
    """The reader's records, then the error that stopped it (e.g. a cell past the csv module's
    field size limit), if any."""
    try:
        yield from reader
    except csv.Error as e:
        yield e


def _check_header(header: list[str]) -> Iterator[CsvRowError]:
    known = {*REQUIRED, *OPTIONAL, *METRIC_COLUMNS}
    seen: set[str] = set()
    for name in header:
        if name in seen:
            yield CsvRowError(row=0, field=name, reason="duplicate column")
        elif name not in known:
            reason = f"unknown metric '{name}': not a column or canonical metric; column skipped"
            yield CsvRowError(row=0, field=name, reason=reason)
        seen.add(name)
    for name in REQUIRED:
        if name not in seen:
            yield CsvRowError(row=0, field=name, reason="required column missing")


class _Row:
    """One data row being parsed; every problem is collected, not just the first."""

    def __init__(self, cells: dict[str, str], *, number: int) -> None:
        self.cells = {name: value.strip() for name, value in cells.items()}
        self.row_number = number
        self.errors: list[CsvRowError] = []

    def observation(
        self, *, tenant_id: str, kind: SourceKind, metric_columns: list[str]
    ) -> AnalyticsObserved | None:
        """The row's event, or None with `errors` filled."""
        client_id = self.text("client_id", required=True)
        platform = self.choice("platform", Platform, default=None)
        account_id = self.text("account_id", required=True)
        observed_at = self.timestamp("observed_at", required=True)
        level = self.choice("entity_level", EntityLevel, default=EntityLevel.ACCOUNT)
        entity_id = self.text("entity_id", required=level is not EntityLevel.ACCOUNT)
        window = self.choice("window", TimeWindow, default=TimeWindow.LIFETIME)
        window_start = self.timestamp("window_start")
        if window is TimeWindow.LIFETIME and window_start is not None:
            self.fail("window_start", "a lifetime window has no start")
        cumulative = self.boolean("cumulative", default=window is TimeWindow.LIFETIME)
        owned = self.boolean("owned", default=True)
        metrics = [m for m in (self.metric(name) for name in metric_columns) if m is not None]
        counts = {name: self.whole(name) for name in ("leads", "visits", "conversions")}
        facts: dict[str, Any] = {
            "spend": self.money("spend_amount", "spend_currency"),
            "revenue": self.money("revenue_amount", "revenue_currency"),
            **{name: None if n is None else int(n) for name, n in counts.items()},
        }
        if not metrics and all(v is None for v in facts.values()) and not self.errors:
            self.fail("metrics", "no metric values")
        if self.errors:
            return None
        # Every missing required value was recorded as an error above.
        assert client_id and platform and account_id and observed_at and window and level
        entity_id = entity_id or account_id
        event_id = observation_event_id(
            tenant_id=tenant_id,
            client_id=client_id,
            platform=platform,
            api=CSV_API,
            entity_level=level,
            entity_id=entity_id,
            window=window,
            window_start=window_start,
            cumulative=bool(cumulative),
            observed_at=observed_at,
            metric_names=[m.name for m in metrics],
        )
        try:
            return AnalyticsObserved.new(
                producer=PRODUCER,
                event_id=event_id,
                occurred_at=observed_at,
                tenant_id=tenant_id,
                client_id=client_id,
                platform=platform,
                account_id=account_id,
                entity_level=level,
                entity_id=entity_id,
                owned=owned,
                post_id=self.text("post_id"),
                content_type=self.text("content_type"),
                window=window,
                window_start=window_start,
                cumulative=cumulative,
                observed_at=observed_at,
                source=ObservationSource(api=CSV_API, kind=kind),
                metrics=tuple(metrics),
                **facts,
            )
        except ValidationError as e:  # a bound of the event contract
            for err in e.errors(include_url=False, include_input=False):
                self.fail(_column(err["loc"]), err["msg"])
            return None

    def fail(self, field: str, reason: str) -> None:
        """Record a rejected field."""
        self.errors.append(CsvRowError(row=self.row_number, field=field, reason=reason))

    def text(self, field: str, *, required: bool = False) -> str | None:
        """A cell's text; None if empty (an error if required)."""
        value = self.cells.get(field, "")
        if not value and required:
            self.fail(field, "missing value")
        return value or None

    def choice(self, field: str, enum: type[E], *, default: E | None) -> E | None:
        """A cell naming one of an enum's values (case-insensitive)."""
        value = self.text(field, required=default is None)
        if value is None:
            return default
        try:
            return enum(value.lower())
        except ValueError:
            label = "platform" if enum is Platform else field
            self.fail(field, f"unknown {label} '{value}' (known: {', '.join(enum)})")
            return None

    def timestamp(self, field: str, *, required: bool = False) -> datetime | None:
        """An ISO 8601 timestamp that names its zone."""
        value = self.text(field, required=required)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(field, f"not an ISO 8601 timestamp: '{value}'")
            return None
        if parsed.tzinfo is None:
            self.fail(field, f"timestamp without time zone: '{value}'")
            return None
        return parsed

    def boolean(self, field: str, *, default: bool) -> bool | None:
        """true/false (also yes/no, 1/0)."""
        value = (self.text(field) or "").lower()
        if not value:
            return default
        if value in _TRUE | _FALSE:
            return value in _TRUE
        self.fail(field, f"not true/false: '{value}'")
        return None

    def number(self, field: str, *, what: str = "count") -> Decimal | None:
        """A finite, non-negative decimal of bounded size; empty means not observed."""
        value = self.text(field)
        if value is None:
            return None
        if len(value) > MAX_NUMBER_CHARS:  # checked as text: converting could take seconds
            self.fail(field, f"number of more than {MAX_NUMBER_CHARS} characters")
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        reason = _number_problem(number, value, what)
        if reason:
            self.fail(field, reason)
            return None
        return number

    def whole(self, field: str) -> Decimal | None:
        """A non-negative whole number (counts cannot be fractional)."""
        number = self.number(field)
        if number is not None and number != number.to_integral_value():
            self.fail(field, f"not a whole number: {number}")
            return None
        return number

    def metric(self, name: str) -> MetricValue | None:
        """A canonical metric cell as a MetricValue."""
        spec = METRICS[name]
        value = self.whole(name) if spec.unit == "count" else self.number(name)
        if value is None:
            return None
        try:
            return MetricValue(name=name, value=value, unit=spec.unit)
        except ValidationError as e:
            self.fail(name, e.errors(include_url=False)[0]["msg"])
            return None

    def money(self, amount_field: str, currency_field: str) -> Money | None:
        """An exact amount with its ISO 4217 currency; both or neither."""
        amount = self.number(amount_field, what="amount")
        currency = self.text(currency_field)
        if amount is None:
            if currency is not None and amount_field not in {e.field for e in self.errors}:
                self.fail(amount_field, f"missing value for {currency_field} {currency}")
            return None
        if currency is None:
            self.fail(currency_field, f"missing value for {amount_field} {amount}")
            return None
        try:
            return Money(amount=amount, currency=currency)
        except ValidationError as e:
            for err in e.errors(include_url=False):
                if err["loc"] and err["loc"][0] == "amount":
                    self.fail(amount_field, err["msg"])
                else:
                    self.fail(currency_field, f"not an ISO 4217 currency code: '{currency}'")
            return None


def _number_problem(number: Decimal, value: str, what: str) -> str | None:
    """Why a parsed cell is no acceptable number, if it is not (sign, size, places)."""
    if not number.is_finite():
        return f"bad number: '{value}'"
    if number < 0:
        return f"negative {what}: {value}"
    if number and number.adjusted() >= MAX_INTEGER_DIGITS:  # adjusted(): the exponent
        return f"too large: at most {MAX_INTEGER_DIGITS} digits before the point: '{value}'"
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        return f"at most {MAX_DECIMAL_PLACES} digits after the point: '{value}'"
    return None


def _column(loc: tuple[int | str, ...]) -> str:
    """The CSV column a validation error of the event names (metrics.0.value -> the metric)."""
    head = str(loc[0]) if loc else "row"
    if head in {"spend", "revenue"}:
        return f"{head}_{loc[1]}" if len(loc) > 1 else f"{head}_amount"
    return head
