"""Issue 7 item 2: each metric kind aggregates by its meaning; figures worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from services.metrics.aggregation import Part, combine
from shared.events import EntityLevel, TimeWindow

DAY, WEEK, D28, LIFE = TimeWindow.DAY, TimeWindow.WEEK, TimeWindow.DAYS_28, TimeWindow.LIFETIME
ACCOUNT, POST = EntityLevel.ACCOUNT, EntityLevel.POST


def part(window: TimeWindow, level: EntityLevel, *, peaks: dict[str, int] | None = None,
         **sums: int) -> Part:  # fmt: skip
    return Part(window, level, {k: Decimal(v) for k, v in sums.items()},
                {k: Decimal(v) for k, v in (peaks or {}).items()})  # fmt: skip


def test_a_pages_daily_weekly_and_28_day_reach_are_never_added() -> None:
    """Three days of page reach (100, 120, 90), its week (300) and 28 days (800): the sum
    410 or 1,410 would count people twice; the figure is the largest day, a lower bound."""
    parts = [
        part(DAY, ACCOUNT, reach=100 + 120 + 90, observations=3, peaks={"reach": 120}),
        part(WEEK, ACCOUNT, reach=300, observations=1, peaks={"reach": 300}),
        part(D28, ACCOUNT, reach=800, observations=1, peaks={"reach": 800}),
    ]
    figures = combine(parts, ["reach"])
    assert figures.sums["reach"] == 120
    assert figures.bases["reach"].startswith("largest day reach")
    assert "lower bound" in figures.bases["reach"]
    assert figures.sums["observations"] == 5


def test_per_post_lifetime_reach_is_the_stated_upper_bound() -> None:
    """Two posts reached 500 and 400 accounts over their lifetime: 900 at most distinct."""
    parts = [
        part(LIFE, POST, reach=500 + 400),
        part(DAY, ACCOUNT, reach=700, peaks={"reach": 700}),
    ]
    figures = combine(parts, ["reach"])
    assert figures.sums["reach"] == 900
    assert (
        figures.bases["reach"] == "sum of per-post lifetime reach (an upper bound of unique reach)"
    )


def test_only_rolling_reach_says_it_may_reach_past_the_period() -> None:
    figures = combine([part(D28, ACCOUNT, reach=800, peaks={"reach": 800})], ["reach"])
    assert figures.sums["reach"] == 800
    assert "largest 28 days reach" in figures.bases["reach"]
    assert "past the period" in figures.bases["reach"]


def test_flows_add_over_partitioning_windows_and_prefer_the_account_total() -> None:
    """A page's daily views (400 + 600) hold its posts' views (700 in all): 1,000, not 1,700;
    the weekly 5,000 overlaps the days and is never added."""
    parts = [
        part(DAY, ACCOUNT, views=400 + 600),
        part(WEEK, ACCOUNT, views=5000),
        part(LIFE, POST, views=700, likes=30),
    ]
    figures = combine(parts, ["views", "likes"])
    assert figures.sums["views"] == 1000
    assert figures.bases["views"].startswith("account totals")
    assert figures.sums["likes"] == 30  # no account-level likes: the posts' sum
    assert figures.bases["likes"].startswith("sum over posts")


def test_a_flow_seen_only_in_rolling_windows_is_not_summed_and_says_why() -> None:
    figures = combine([part(WEEK, ACCOUNT, views=5000), part(WEEK, ACCOUNT, views=5200)], ["views"])
    assert "views" not in figures.sums
    assert any("rolling" in n for n in figures.notes)
