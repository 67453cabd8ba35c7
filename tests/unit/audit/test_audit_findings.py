"""Findings one by one, from hand-made figures: strength, weakness, frequency gap, winning
content type, neglected platform; ranking; percentile and rank definitions checked against a
brute-force reference (numpy)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from services.audit.analysis.compare import compare, competition_rank, weak_percentile
from services.audit.analysis.figures import AccountFigures, account_figures
from services.audit.analysis.period import Period, too_long
from services.audit.findings.rules import neglected, rank, standing_findings, winning_type

D = Decimal


def acct(account: str, owned: bool, *, followers: int, posts: dict[str, tuple[int, int]],
         start: int | None = None, days: int = 28) -> AccountFigures:  # fmt: skip
    """Figures from one month bucket: posts = {type: (count, engagements)}."""
    bucket: dict[str, Any] = {
        "types": {t: {"posts": n, "engagements": D(e)} for t, (n, e) in posts.items()},
        "followers_first": D(start if start is not None else followers),
        "followers_first_at": date(2026, 10, 1), "followers_last": D(followers),
        "followers_last_at": date(2026, 10, 28),
    }  # fmt: skip
    return account_figures(platform="instagram", account_id=account, name=account, owned=owned,
                           days=days, buckets=[bucket])  # fmt: skip


def test_weak_percentile_and_competition_rank_match_a_brute_force_reference() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        values = [D(int(v)) for v in rng.integers(0, 6, size=int(rng.integers(1, 9)))]
        x = values[int(rng.integers(0, len(values)))]
        arr = np.array([int(v) for v in values])
        assert (
            weak_percentile(x, values)
            == D(100 * np.mean(arr <= int(x))).quantize(D("0.000001")).normalize()
        )
        assert competition_rank(x, values) == 1 + int(np.sum(arr > int(x)))


def test_a_strength_and_a_weakness_cite_their_figures() -> None:
    c = compare("instagram", [
        acct("me", True, followers=1000, start=800, posts={"photo": (4, 400)}),
        acct("r1", False, followers=2000, posts={"photo": (4, 200)}),
        acct("r2", False, followers=3000, posts={"photo": (4, 100)}),
    ])  # fmt: skip
    found = {(f.kind, f.metric): f for f in standing_findings(c)}
    weak = found[("weakness", "followers_end")]
    assert weak.impact == D("0.6")  # 1 - 1000 / 2500
    assert weak.figures == {"value": "1000", "competitor_median": "2500", "rank": "3", "of": "3",
                            "percentile": "33.333333"}  # fmt: skip
    strong = found[("strength", "engagement_rate")]  # 100/1000 vs median of 50/2000, 25/3000
    median = (D("0.025") + D("0.008333")) / 2
    assert strong.impact == (D("0.1") / median.quantize(D("0.000001")) - 1).quantize(D("0.000001"))
    assert found[("strength", "follower_growth")].impact == D("0.25")  # 0.25 - 0


def test_a_frequency_gap_only_below_three_quarters_of_the_median() -> None:
    def gap(own_posts: int) -> list[Any]:
        c = compare("instagram", [
            acct("me", True, followers=100, posts={"photo": (own_posts, 10)}),
            acct("r1", False, followers=100, posts={"photo": (8, 10)}),
        ])  # fmt: skip
        return [f for f in standing_findings(c) if f.kind == "frequency_gap"]

    assert gap(6) == []  # 6/week*... = 0.75 of the median: not a gap
    [f] = gap(4)
    assert f.impact == D("0.5")
    assert f.figures == {"posts_per_week": "1", "competitor_median": "2"}


def test_winning_content_type_needs_two_competitors_and_no_own_use() -> None:
    rivals = [
        acct("r1", False, followers=100, posts={"reel": (2, 200), "photo": (2, 20)}),
        acct("r2", False, followers=100, posts={"reel": (1, 80), "photo": (4, 40)}),
    ]
    c = compare("instagram", [acct("me", True, followers=100, posts={"photo": (3, 30)}), *rivals])
    f = winning_type(c)
    assert f is not None and f.figures["content_type"] == "reel"
    # reel medians: r1 100, r2 80 -> 90; all types per post: r1 55, r2 24 -> 39.5
    assert (f.figures["type_median"], f.figures["all_types_median"]) == ("90", "39.5")
    assert f.impact == (D(90) / D("39.5") - 1).quantize(D("0.000001"))
    used = compare("instagram", [acct("me", True, followers=100, posts={"reel": (1, 1)}), *rivals])
    assert winning_type(used) is None
    alone = compare("instagram", [acct("me", True, followers=100, posts={}), rivals[0]])
    assert winning_type(alone) is None  # one competitor is an anecdote, not a pattern


def test_neglected_platform_below_half_of_the_competitors() -> None:
    brands = {"A", "B", "C", "D"}
    f = neglected("youtube", brands, {"A"}, own_active=False)
    assert f is not None and f.impact == D("0.75")
    assert "only 1 of 4 competitors" in f.summary and "you are not there either" in f.summary
    assert neglected("youtube", brands, {"A", "B"}, own_active=True) is None
    assert neglected("youtube", set(), set(), own_active=False) is None


def test_findings_rank_by_impact_then_kind_platform_metric() -> None:
    a = neglected("x", {"A", "B"}, set(), own_active=False)
    b = neglected("facebook", {"A", "B"}, set(), own_active=False)
    c = neglected("tiktok", {"A", "B", "C", "D"}, {"A"}, own_active=False)
    assert a and b and c
    assert [f.platform for f in rank([c, a, b])] == ["facebook", "x", "tiktok"]


def test_period_limits_and_the_previous_period() -> None:
    assert not too_long(date(2024, 1, 1), date(2025, 12, 31))
    assert too_long(date(2024, 1, 1), date(2026, 1, 1))
    p = Period(start=date(2026, 1, 1), end=date(2026, 3, 31))
    assert p.previous() == Period(start=date(2025, 10, 1), end=date(2025, 12, 31))
    assert p.split() == (["2026-01", "2026-02", "2026-03"], [])
    q = Period(start=date(2026, 1, 30), end=date(2026, 3, 2))
    assert q.split() == (["2026-02"], ["2026-01-30", "2026-01-31", "2026-03-01", "2026-03-02"])
    assert q.previous() == Period(start=date(2025, 12, 29), end=date(2026, 1, 29))  # 32 days
