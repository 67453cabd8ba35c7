"""Goal series logic (pure parts of goal_store): metric kinds, buckets, summed contributions,
levels over time and KPIs over the goal window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.metrics.goal_store import (
    SeriesKind,
    Sums,
    bucket_for,
    components,
    group_stage,
    kpi_points,
    kpi_value,
    level_name,
    level_points,
    needs_level,
    series_kind,
    sums_of,
)

D = Decimal
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def bucket(hours: float, **sums: str) -> Sums:
    return Sums(at=at(hours), sums={k: D(v) for k, v in sums.items()}, seen=frozenset(sums))


@pytest.mark.parametrize(
    ("metric", "kind"),
    [
        ("followers", SeriesKind.STOCK),
        ("clicks", SeriesKind.FLOW),
        ("reach", SeriesKind.FLOW),
        ("ctr", SeriesKind.KPI),
        ("engagement_rate_followers", SeriesKind.KPI),
    ],
)
def test_series_kind_follows_the_registry(metric: str, kind: SeriesKind) -> None:
    assert series_kind(metric) is kind


def test_kpis_read_their_components_and_followers_need_a_starting_level() -> None:
    assert components("ctr") == ("clicks", "impressions")
    assert components("clicks") == ("clicks",)
    assert set(components("engagement_rate_impressions")) == {
        "likes",
        "comments",
        "shares",
        "saves",
        "impressions",
    }
    assert needs_level("followers") and level_name("followers") == "followers"
    assert needs_level("follower_growth") and level_name("follower_growth") == "followers"
    assert not needs_level("ctr")
    assert not needs_level("clicks")


@pytest.mark.parametrize(
    ("days", "size"), [(1, "hour"), (14, "hour"), (15, "day"), (365, "day"), (800, "week")]
)
def test_bucket_keeps_a_few_hundred_points(days: int, size: str) -> None:
    assert bucket_for(T0, T0 + timedelta(days=days)) == size


def test_group_stage_sums_and_marks_presence_and_money_currencies() -> None:
    stage = group_stage(["clicks", "spend"], "day")["$group"]
    assert stage["_id"] == {"$dateTrunc": {"date": "$observed_at", "unit": "day"}}
    assert stage["s_clicks"] == {"$sum": "$contrib.clicks"}
    assert stage["p_clicks"] == {"$max": "$contrib.clicks"}
    assert stage["s_spend"] == {"$sum": "$spend_contrib"}
    assert stage["c_spend"] == {"$addToSet": "$spend_currency"}
    assert group_stage(["clicks"], None)["$group"]["_id"] is None


def test_sums_of_a_row_tells_unreported_from_zero() -> None:
    row = {
        "at": at(1),
        "s_clicks": 0,
        "p_clicks": None,
        "s_impressions": D(40),
        "p_impressions": D(40),
        "s_spend": D("2.5"),
        "p_spend": D("2.5"),
        "c_spend": ["EUR", None],
    }
    sums = sums_of(row, ["clicks", "impressions", "spend"])
    assert sums.get("clicks") is None  # never reported: unknown, not 0
    assert sums.get("impressions") == 40
    assert sums.money("spend") is not None and str(sums.money("spend")) == "2.50 EUR"


def test_money_in_two_currencies_is_not_summed() -> None:
    sums = Sums(
        sums={"spend": D(5)},
        seen=frozenset({"spend"}),
        currencies={"spend": frozenset({"EUR", "USD"})},
    )
    assert sums.money("spend") is None


def test_adding_sums_merges_totals_presence_currencies_and_latest_time() -> None:
    a = Sums(
        at=at(1),
        sums={"clicks": D(2)},
        seen=frozenset({"clicks"}),
        currencies={"spend": frozenset({"EUR"})},
    )
    b = Sums(at=at(3), sums={"clicks": D(3), "impressions": D(0)}, seen=frozenset({"impressions"}))
    total = a + b
    assert total.at == at(3)
    assert total.sums == {"clicks": D(5), "impressions": D(0)}
    assert total.seen == {"clicks", "impressions"}
    assert total.currencies == {"spend": frozenset({"EUR"})}


def test_stock_level_builds_on_the_level_before_start() -> None:
    buckets = [bucket(1, followers="50"), bucket(5, followers="-10"), bucket(9, followers="70")]
    assert level_points(buckets, "followers", base=D(1000)) == [
        (at(1), D(1050)),
        (at(5), D(1040)),
        (at(9), D(1110)),
    ]


def test_flow_total_counts_from_zero() -> None:
    assert level_points([bucket(2, clicks="3"), bucket(4, clicks="4")], "clicks", base=D(0)) == [
        (at(2), D(3)),
        (at(4), D(7)),
    ]


def test_ctr_over_the_window_so_far_skips_points_where_it_is_not_defined() -> None:
    buckets = [bucket(1, clicks="5"), bucket(2, impressions="1000"), bucket(3, clicks="15")]
    # hour 1: no impressions yet -> not defined; then 5/1000, then 20/1000
    assert kpi_points("ctr", buckets, followers_start=None) == [
        (at(2), D("0.005")),
        (at(3), D("0.02")),
    ]


def test_zero_denominator_is_not_defined_never_zero() -> None:
    window = bucket(1, clicks="0", impressions="0")
    assert kpi_value("ctr", window, followers_start=None) is None


def test_engagement_rate_by_followers_uses_the_level_at_the_end_of_the_window() -> None:
    window = bucket(1, likes="30", comments="10", followers="200")
    value = kpi_value("engagement_rate_followers", window, followers_start=D(1800))
    assert value == D(40) / D(2000)


def test_follower_growth_needs_a_level_before_the_window() -> None:
    window = bucket(1, followers="100")
    assert kpi_value("follower_growth", window, followers_start=D(1000)) == D("0.1")
    assert kpi_value("follower_growth", window, followers_start=None) is None


def test_cost_kpis_use_the_single_spend_currency() -> None:
    window = Sums(
        at=at(1),
        sums={"spend": D("12.00"), "clicks": D(48)},
        seen=frozenset({"spend", "clicks"}),
        currencies={"spend": frozenset({"EUR"})},
    )
    assert kpi_value("cpc", window, followers_start=None) == D("0.25")
    mixed = Sums(
        at=at(1),
        sums=window.sums,
        seen=window.seen,
        currencies={"spend": frozenset({"EUR", "USD"})},
    )
    assert kpi_value("cpc", mixed, followers_start=None) is None


def test_roi_in_mixed_currencies_is_not_defined() -> None:
    window = Sums(
        sums={"spend": D(10), "revenue": D(30)},
        seen=frozenset({"spend", "revenue"}),
        currencies={"spend": frozenset({"EUR"}), "revenue": frozenset({"USD"})},
    )
    assert kpi_value("roi", window, followers_start=None) is None
    same = Sums(
        sums=window.sums,
        seen=window.seen,
        currencies={"spend": frozenset({"EUR"}), "revenue": frozenset({"EUR"})},
    )
    assert kpi_value("roi", same, followers_start=None) == D(2)
