"""Ingestion logic: observation -> stored document, stored batch -> MetricsIngested events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.metrics import ingest
from services.metrics.ingest import MAX_SPEND_LINES_PER_EVENT, summarize, to_document
from shared.events import (
    AnalyticsObserved,
    EntityLevel,
    MetricValue,
    ObservationSource,
    Platform,
)
from shared.money import Money

AT = datetime(2026, 2, 10, 12, tzinfo=UTC)


def summarize_events(events: list[AnalyticsObserved], **kw: Any) -> list[Any]:
    """Summarize a batch as the pipeline does: contributions against no stored series."""
    added, _ = ingest.contributions(events, {})
    return summarize(added, **kw)


def obs(
    *,
    tenant_id: str = "acme",
    client_id: str = "c1",
    platform: Platform = Platform.INSTAGRAM,
    metrics: dict[str, str] | None = None,
    spend: str | None = None,
    **fields: Any,
) -> AnalyticsObserved:
    return AnalyticsObserved.new(
        producer="test",
        tenant_id=tenant_id,
        client_id=client_id,
        platform=platform,
        account_id="acc1",
        entity_level=fields.pop("entity_level", EntityLevel.POST),
        entity_id=fields.pop("entity_id", "e1"),
        observed_at=fields.pop("observed_at", AT),
        source=ObservationSource(api="csv"),
        metrics=tuple(MetricValue(name=n, value=Decimal(v)) for n, v in (metrics or {}).items()),
        spend=Money(amount=Decimal(spend), currency="EUR") if spend else None,
        **fields,
    )


# --------------------------------------------------------------------------- to_document


def test_document_is_keyed_by_event_id_with_flat_metrics_and_money() -> None:
    event = AnalyticsObserved.new(
        producer="pipeline",
        tenant_id="acme",
        client_id="c1",
        platform=Platform.META_ADS,
        account_id="acc1",
        entity_level=EntityLevel.AD,
        entity_id="ad9",
        observed_at=AT,
        source=ObservationSource(api="meta_marketing"),
        metrics=(
            MetricValue(name="views", value=Decimal(120), native_name="impressions"),
            MetricValue(name="clicks", value=Decimal(7)),
        ),
        spend=Money(amount=Decimal("12.30"), currency="EUR"),
    )
    stored_at = AT + timedelta(minutes=1)

    doc = to_document(event, stored_at=stored_at)

    assert doc["_id"] == event.event_id
    assert "event_id" not in doc
    assert {"event_type", "event_version", "producer", "spend", "revenue"}.isdisjoint(doc)
    assert doc["metrics"] == {"views": 120, "clicks": 7}
    assert all(type(v) is int for v in doc["metrics"].values())  # integral counts as int64
    assert doc["native"] == {"views": "impressions"}
    assert (doc["spend_amount"], doc["spend_currency"]) == (Decimal("12.30"), "EUR")
    assert "revenue_amount" not in doc and "post_id" not in doc  # absent facts are left out
    assert (doc["tenant_id"], doc["entity_id"], doc["observed_at"]) == ("acme", "ad9", AT)
    assert doc["stored_at"] == stored_at


def test_document_stored_at_defaults_to_now() -> None:
    before = datetime.now(UTC)

    stored_at = to_document(obs())["stored_at"]

    assert before <= stored_at <= datetime.now(UTC)


# --------------------------------------------------------------------------- summarize


def test_no_observations_no_events() -> None:
    assert summarize_events([], budgets_by_post={}) == []


def test_totals_per_client_and_platform() -> None:
    stored = [
        obs(client_id="c2", metrics={"views": "10", "likes": "1"}),
        obs(client_id="c1", platform=Platform.X, metrics={"views": "5"}),
        obs(client_id="c1", metrics={"views": "0.1"}, entity_id="e2"),
        obs(client_id="c1", metrics={"views": "0.2", "likes": "3"}, entity_id="e3"),
    ]

    [event] = summarize_events(stored, budgets_by_post={})

    assert event.tenant_id == "acme"
    assert event.producer == "metrics"
    assert event.observations == 4
    assert [(t.client_id, t.platform, t.observations, t.metrics) for t in event.totals] == [
        ("c1", Platform.INSTAGRAM, 2, {"views": Decimal("0.3"), "likes": Decimal(3)}),
        ("c1", Platform.X, 1, {"views": Decimal(5)}),
        ("c2", Platform.INSTAGRAM, 1, {"views": Decimal(10), "likes": Decimal(1)}),
    ]
    assert event.spend == ()


def test_one_spend_line_per_observation_with_spend_and_the_posts_budget() -> None:
    with_budget = obs(spend="12.30", post_id="p1", entity_id="ad1")
    unknown_post = obs(spend="1.00", post_id="p9", entity_id="ad2")
    no_post = obs(spend="2.00", entity_id="ad3")
    no_spend = obs(post_id="p1", entity_id="ad4")

    [event] = summarize_events(
        [with_budget, unknown_post, no_post, no_spend],
        budgets_by_post={("acme", "p1"): "b1", ("acme", "p2"): "b2", ("globex", "p9"): "b9"},
    )

    assert [
        (s.observation_id, s.post_id, s.budget_id, s.amount, s.currency) for s in event.spend
    ] == [
        (with_budget.event_id, "p1", "b1", Decimal("12.30"), "EUR"),
        (unknown_post.event_id, "p9", None, Decimal("1.00"), "EUR"),
        (no_post.event_id, None, None, Decimal("2.00"), "EUR"),
    ]
    assert event.spend[0].observed_at == AT
    assert event.spend[0].client_id == "c1"


def test_spend_is_chunked_and_only_the_first_event_carries_counts_and_totals() -> None:
    n = 2 * MAX_SPEND_LINES_PER_EVENT + 1
    stored = [obs(spend="1", metrics={"views": "1"}, entity_id=f"ad{i}") for i in range(n)]

    events = summarize_events(stored, budgets_by_post={})

    assert [len(e.spend) for e in events] == [
        MAX_SPEND_LINES_PER_EVENT,
        MAX_SPEND_LINES_PER_EVENT,
        1,
    ]
    assert [e.observations for e in events] == [n, 0, 0]
    assert events[0].totals[0].metrics == {"views": Decimal(n)}
    assert events[1].totals == events[2].totals == ()
    assert [s.observation_id for e in events for s in e.spend] == [o.event_id for o in stored]
    assert len({e.event_id for e in events}) == 3


def test_many_clients_split_the_totals_over_events_that_add_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 14 item 2: a batch of many clients never makes one oversized event."""
    monkeypatch.setattr(ingest, "MAX_TOTALS_PER_EVENT", 2)
    stored = [obs(client_id=f"c{i}", metrics={"views": "1"}, entity_id=f"e{i}") for i in range(5)]
    stored.append(obs(client_id="c0", metrics={"views": "2"}, entity_id="e9"))

    events = summarize_events(stored, budgets_by_post={})

    assert [len(e.totals) for e in events] == [2, 2, 1]
    assert [e.observations for e in events] == [3, 2, 1]  # c0 has two observations
    totals = {t.client_id: t.metrics["views"] for e in events for t in e.totals}
    assert totals == {"c0": 3, "c1": 1, "c2": 1, "c3": 1, "c4": 1}


def test_exactly_one_full_chunk_is_one_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_SPEND_LINES_PER_EVENT", 3)

    one = summarize_events(
        [obs(spend="1", entity_id=f"a{i}") for i in range(3)], budgets_by_post={}
    )
    two = summarize_events(
        [obs(spend="1", entity_id=f"a{i}") for i in range(4)], budgets_by_post={}
    )

    assert [len(e.spend) for e in one] == [3]
    assert [len(e.spend) for e in two] == [3, 1]


def test_each_tenant_gets_its_own_events() -> None:
    stored = [
        obs(tenant_id="acme", metrics={"views": "1"}, spend="5"),
        obs(tenant_id="globex", metrics={"views": "2"}),
        obs(tenant_id="acme", metrics={"views": "3"}, entity_id="e2"),
    ]

    events = summarize_events(stored, budgets_by_post={})

    by_tenant = {e.tenant_id: e for e in events}
    assert len(events) == 2
    assert by_tenant["acme"].observations == 2
    assert by_tenant["acme"].totals[0].metrics == {"views": Decimal(4)}
    assert len(by_tenant["acme"].spend) == 1
    assert by_tenant["globex"].observations == 1
    assert by_tenant["globex"].totals[0].metrics == {"views": Decimal(2)}
    assert by_tenant["globex"].spend == ()
    assert by_tenant["acme"].correlation_id != by_tenant["globex"].correlation_id


def test_running_totals_of_one_entity_are_not_added_up() -> None:
    first = obs(metrics={"views": "100"}, cumulative=True, observed_at=AT)
    later = obs(metrics={"views": "150"}, cumulative=True, observed_at=AT + timedelta(hours=1))

    [event] = summarize_events([first, later], budgets_by_post={})

    assert event.totals[0].metrics["views"] == Decimal(150)


# --------------------------------------------------------------------------- series state


def test_late_cumulative_reading_changes_no_total_and_keeps_latest() -> None:
    newer = obs(metrics={"views": "150"}, observed_at=AT + timedelta(hours=2))
    late = obs(metrics={"views": "120"}, observed_at=AT + timedelta(hours=1))
    stored_at = AT + timedelta(minutes=90)
    stored = {ingest.series_key(newer): ingest.SeriesState(stored_at, {"views": Decimal(130)})}

    added, changed = ingest.contributions([newer, late], stored)

    by_id = {c.event.event_id: c for c in added}
    assert by_id[newer.event_id].metrics == {"views": Decimal(20)}
    assert by_id[late.event_id].metrics == {}
    assert changed[ingest.series_key(newer)].metrics == {"views": Decimal(150)}
    assert changed[ingest.series_key(newer)].observed_at == AT + timedelta(hours=2)


def test_incremental_readings_add_up_and_touch_no_series_state() -> None:
    a = obs(metrics={"clicks": "3"}, cumulative=False, window="hour")
    b = obs(
        metrics={"clicks": "4"},
        cumulative=False,
        window="hour",
        observed_at=AT + timedelta(hours=1),
    )

    added, changed = ingest.contributions([a, b], {})

    assert sum(c.metrics["clicks"] for c in added) == Decimal(7)
    assert changed == {}


def test_cumulative_spend_is_booked_as_the_change_since_last_reading() -> None:
    first = obs(spend="10.00", entity_level=EntityLevel.AD, entity_id="ad1")
    second = obs(
        spend="25.50",
        entity_level=EntityLevel.AD,
        entity_id="ad1",
        observed_at=AT + timedelta(days=1),
    )

    [event] = summarize_events([first, second], budgets_by_post={})

    assert [line.amount for line in event.spend] == [Decimal("10.00"), Decimal("15.50")]


def test_fractional_values_stay_exact_decimals() -> None:
    doc = to_document(obs(metrics={"watch_time_s": "12.5", "views": "3"}))

    assert doc["metrics"] == {"watch_time_s": Decimal("12.5"), "views": 3}
    assert isinstance(doc["metrics"]["watch_time_s"], Decimal)


def test_state_survives_a_round_trip_through_the_stored_document() -> None:
    first = obs(metrics={"views": "100", "likes": "7"}, spend="4.00", entity_level=EntityLevel.AD)
    second = obs(
        metrics={"views": "130"}, observed_at=AT + timedelta(hours=1), entity_level=EntityLevel.AD
    )
    added, changed = ingest.contributions([first, second], {})
    doc = to_document(second, contribution=added[1])

    restored = ingest.state_from_document(doc)

    assert restored == changed[ingest.series_key(second)]
    assert restored.metrics == {"views": Decimal(130), "likes": Decimal(7)}
    assert restored.spend == Decimal("4.00")


def test_values_are_attributed_to_the_window_they_measure_not_the_day_read() -> None:
    """Issue 7 item 1: a 2020 daily insight read today files under its 2020 day."""
    day = datetime(2020, 3, 1, 8, tzinfo=UTC)  # a Pacific reporting day starts 08:00 UTC
    backfill = obs(window="day", window_start=day, cumulative=False, metrics={"views": "5"})
    doc = to_document(backfill)
    assert ingest.period_start(backfill) == day
    assert (doc["day"], doc["week"], doc["month"]) == ("2020-03-01", "2020-W09", "2020-03")
    assert doc["observed_at"] == AT  # freshness kept
    lifetime = obs(window_start=day, metrics={"likes": "5"})  # lifetime: when it was read
    assert ingest.period_start(lifetime) == AT


def test_a_lifetime_series_read_twice_with_dates_is_one_series() -> None:
    """Issue 7 item 3: a post's lifetime value read as 100 and later as 150 adds up to 150,
    whatever date each reading carries."""
    first = obs(metrics={"likes": "100"}, window_start=AT - timedelta(days=2))
    later = obs(
        metrics={"likes": "150"}, window_start=AT - timedelta(days=1),
        observed_at=AT + timedelta(hours=1),
    )  # fmt: skip
    assert ingest.series_key(first) == ingest.series_key(later)
    added, _ = ingest.contributions([first, later], {})
    assert sum(c.metrics["likes"] for c in added) == Decimal(150)


def test_a_platform_engagement_total_next_to_its_parts_adds_nothing() -> None:
    """Any way in (POST /observations, CSV) may send `engagement` with likes in one
    observation: the components win, the total contributes nothing (no double counting)."""
    both = obs(metrics={"engagement": "143", "likes": "120", "comments": "23"}, cumulative=False)
    [c], _ = ingest.contributions([both], {})
    assert c.metrics == {"likes": Decimal(120), "comments": Decimal(23)}
    alone = obs(metrics={"engagement": "143"}, cumulative=False, entity_id="e2")
    [c], _ = ingest.contributions([alone], {})
    assert c.metrics == {"engagement": Decimal(143)}
    # Legacy Instagram `engagement` counts likes + comments only: next to saves it stays.
    legacy = AnalyticsObserved.model_validate(
        obs(metrics={"saves": "24"}, cumulative=False, entity_id="e3").model_dump()
        | {"metrics": [{"name": "saves", "value": "24", "native_name": "saved"},
                       {"name": "engagement", "value": "143", "native_name": "engagement"}]}
    )  # fmt: skip
    [c], _ = ingest.contributions([legacy], {})
    assert c.metrics == {"saves": Decimal(24), "engagement": Decimal(143)}
