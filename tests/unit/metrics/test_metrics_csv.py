"""CSV import of observations: valid rows kept, bad rows reported by row, field and reason."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from services.metrics.csv_import import CsvRowError, import_csv, iter_csv
from shared.events import AnalyticsObserved, EntityLevel, SourceKind, TimeWindow
from shared.money import Money

if TYPE_CHECKING:
    from collections.abc import Iterator

HEADER = (
    "client_id,platform,account_id,entity_level,entity_id,observed_at,window,window_start,"
    "views,likes,clicks,spend_amount,spend_currency,leads"
)
ROWS = [
    # 1: a boosted Instagram post, lifetime totals with spend and leads
    "acme,instagram,ig-1,post,1789,2025-03-01T09:00:00+01:00,,,4821,412,35,120.50,EUR,4",
    # 2: a LinkedIn page's day, no spend
    "acme,LinkedIn,li-1,,,2025-03-02T08:00:00Z,day,2025-03-01T00:00:00Z,903,17,11,,,",
    # 3: unknown platform
    "acme,myspace,ms-1,,,2025-03-02T08:00:00Z,,,10,,,,,",
    # 4: negative count and a bad currency
    "acme,x,x-1,post,18527,2025-03-02T08:00:00Z,,,-3,5,,9.99,EURO,",
    # 5: timestamp without zone
    "acme,tiktok,tt-1,video,731,2025-03-02T08:00:00,,,100,9,,,,",
    # 6: not a number, and a fractional count
    "acme,youtube,yt-1,video,dQw4,2025-03-02T08:00:00Z,,,12k,2.5,,,,",
]


def lines(*rows: str, header: str = HEADER) -> io.StringIO:
    return io.StringIO("\n".join([header, *rows]) + "\n", newline="")


def test_valid_rows_become_events_and_bad_rows_are_reported() -> None:
    events, errors = import_csv(lines(*ROWS), tenant_id="agency-1")

    assert [e.entity_id for e in events] == ["1789", "li-1"]
    reported = {(e.row, e.field, e.reason) for e in errors}
    assert reported == {
        (3, "platform", "unknown platform 'myspace' (known: instagram, facebook, x, linkedin, "
                        "tiktok, youtube, meta_ads, google_ads)"),
        (4, "views", "negative count: -3"),
        (4, "spend_currency", "not an ISO 4217 currency code: 'EURO'"),
        (5, "observed_at", "timestamp without time zone: '2025-03-02T08:00:00'"),
        (6, "views", "bad number: '12k'"),
        (6, "likes", "not a whole number: 2.5"),
    }  # fmt: skip


def test_a_valid_row_carries_every_value() -> None:
    events, _ = import_csv(lines(*ROWS[:2]), tenant_id="agency-1")
    post, page = events

    assert isinstance(post, AnalyticsObserved)
    assert (post.tenant_id, post.client_id, post.account_id) == ("agency-1", "acme", "ig-1")
    assert post.entity_level is EntityLevel.POST
    assert {m.name: m.value for m in post.metrics} == {"views": 4821, "likes": 412, "clicks": 35}
    assert post.spend == Money(amount=Decimal("120.50"), currency="EUR")
    assert post.leads == 4
    assert (post.window, post.cumulative) == (TimeWindow.LIFETIME, True)
    assert post.observed_at == datetime(2025, 3, 1, 9, tzinfo=timezone(timedelta(hours=1)))
    assert post.source.api == "csv" and post.source.kind is SourceKind.BACKFILL

    assert page.platform == "linkedin"  # names are case-insensitive
    assert (page.entity_level, page.entity_id) == (EntityLevel.ACCOUNT, "li-1")
    assert (page.window, page.cumulative) == (TimeWindow.DAY, False)
    assert page.window_start == datetime(2025, 3, 1, tzinfo=UTC)
    assert page.spend is None and page.leads is None


def test_unknown_metric_column_is_reported_once_and_skipped() -> None:
    header = "client_id,platform,account_id,observed_at,likes,vibes"
    events, errors = import_csv(
        lines("acme,x,x-1,2025-03-02T08:00:00Z,5,11", header=header), tenant_id="t"
    )

    assert errors == [CsvRowError(row=0, field="vibes", reason=errors[0].reason)]
    assert "unknown metric 'vibes'" in errors[0].reason
    assert [m.name for m in events[0].metrics] == ["likes"]


def test_missing_required_column_stops_before_any_row() -> None:
    events, errors = import_csv(
        lines("acme,x,2025-03-02T08:00:00Z,5", header="client_id,platform,observed_at,likes"),
        tenant_id="t",
    )
    assert events == []
    assert errors == [CsvRowError(row=0, field="account_id", reason="required column missing")]


def test_row_shape_and_consistency_errors() -> None:
    rows = [
        "acme,x,x-1,post,,2025-03-02T08:00:00Z,,,5,,,,,",  # 1: post without entity_id
        "acme,x,x-1,,,2025-03-02T08:00:00Z,,,5,,,10,,",  # 2: spend without currency
        "acme,x,x-1,,,2025-03-02T08:00:00Z,,,5",  # 3: too few cells
        "acme,x,x-1,,,2025-03-02T08:00:00Z,,,,,,,,",  # 4: nothing observed
        ",,,,,,,,,,,,,",  # 5: a spreadsheet's empty trailing row: skipped, not an error
    ]
    events, errors = import_csv(lines(*rows), tenant_id="t")

    assert events == []
    assert [(e.row, e.field) for e in errors] == [
        (1, "entity_id"),
        (2, "spend_currency"),
        (3, "row"),
        (4, "metrics"),
    ]


def test_import_twice_gives_the_same_event_ids() -> None:
    first, _ = import_csv(lines(*ROWS), tenant_id="agency-1")
    again, _ = import_csv(lines(*ROWS), tenant_id="agency-1")
    other, _ = import_csv(lines(*ROWS), tenant_id="agency-2")

    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert not {e.event_id for e in first} & {e.event_id for e in other}


def test_progress_callback_reports_rows_done_of_total() -> None:
    calls: list[tuple[int, int | None]] = []
    rows = [f"acme,x,x-1,post,{n},2025-03-02T08:00:00Z,,,{n},,,,," for n in range(5)]
    items = list(
        iter_csv(
            lines(*rows), tenant_id="t", total_rows=5, progress_every=2,
            on_progress=lambda done, total: calls.append((done, total)),
        )
    )  # fmt: skip

    assert len(items) == 5
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_rows_stream_one_at_a_time() -> None:
    pulled: list[str] = []

    def source() -> Iterator[str]:
        for line in [HEADER, ROWS[0], ROWS[1], ROWS[2]]:
            pulled.append(line)
            yield line

    stream = iter_csv(source(), tenant_id="t")
    first = next(stream)

    assert isinstance(first, AnalyticsObserved)
    assert len(pulled) == 2  # the header and the first row, nothing more


def test_byte_order_mark_in_header_is_ignored() -> None:
    events, errors = import_csv(lines(ROWS[0], header="\ufeff" + HEADER), tenant_id="t")
    assert errors == []
    assert len(events) == 1
