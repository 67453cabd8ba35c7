"""Plan adherence formulas, worked by hand (README "Plan adherence").

Three ISO weeks from Monday 4 January 2027. Instagram plans 3 a week, Facebook 2 (and one
reactive Instagram slot in week 1, which is no promise and is not counted).

    week        IG planned/published  FB planned/published  kept        met
    2027-W01    3 / 3                 2 / 1                 3+1 = 4/5   no (FB)
    2027-W02    3 / 4 (one extra)     2 / 2                 3+2 = 5/5   yes
    2027-W03    3 / 2                 2 / 0                 2+0 = 2/5   no

adherence = 11/15 = 0.7333; consistency = 1 of 3 weeks = 0.3333.
Instagram published 9 of 9 planned, but kept min() per week: 3+3+2 = 8/9 = 0.8889 (the extra
week-2 post does not make up for week 3); it met its plan in 2 of 3 weeks: 0.6667.
Facebook kept 1+2+0 = 3/6 = 0.5; met 1 of 3: 0.3333.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from services.calendar.adherence.score import (
    Planned,
    Published,
    iso_week,
    mix,
    monday,
    ratio,
    score,
    weeks_of,
)

W1 = date(2027, 1, 4)


def day(week: int, weekday: int) -> date:
    return W1 + timedelta(weeks=week - 1, days=weekday)


def plan() -> list[Planned]:
    slots = []
    for week in (1, 2, 3):
        slots += [Planned("instagram", day(week, d)) for d in (0, 2, 4)]
        slots += [Planned("facebook", day(week, d)) for d in (1, 3)]
    slots.append(Planned("instagram", day(1, 5), reactive=True))
    return slots


def published() -> list[Published]:
    counts = {(1, "instagram"): 3, (1, "facebook"): 1, (2, "instagram"): 4,
              (2, "facebook"): 2, (3, "instagram"): 2}  # fmt: skip
    return [
        Published(platform, day(week, i % 7))
        for (week, platform), n in counts.items()
        for i in range(n)
    ]


def test_weeks_platforms_and_totals_as_worked_by_hand() -> None:
    totals, weeks, platforms = score(weeks_of(W1, W1 + timedelta(weeks=3)), plan(), published())
    assert [w.week for w in weeks] == ["2027-W01", "2027-W02", "2027-W03"]
    assert [(w.planned, w.published, w.kept, w.met) for w in weeks] == [
        (5, 4, 4, False),
        (5, 6, 5, True),
        (5, 2, 2, False),
    ]
    assert [w.adherence for w in weeks] == [Decimal("0.8"), Decimal(1), Decimal("0.4")]
    assert (totals.planned, totals.published, totals.kept) == (15, 12, 11)
    assert totals.adherence == Decimal("0.7333")
    assert totals.consistency == Decimal("0.3333")
    assert (totals.weeks_met, totals.weeks_planned) == (1, 3)
    by = {p.platform: p for p in platforms}
    assert (by["instagram"].planned, by["instagram"].published, by["instagram"].kept) == (9, 9, 8)
    assert by["instagram"].adherence == Decimal("0.8889")
    assert by["instagram"].consistency == Decimal("0.6667")
    assert by["facebook"].adherence == Decimal("0.5")
    assert by["facebook"].consistency == Decimal("0.3333")
    w1_fb = next(p for p in weeks[0].platforms if p.platform == "facebook")
    assert (w1_fb.planned, w1_fb.published, w1_fb.met) == (2, 1, False)


def test_slots_still_ahead_are_not_judged() -> None:
    # the week so far: Monday's and Wednesday's Instagram slots passed (one published);
    # Friday's is ahead: 1 kept of 2 planned = 0.5, not 1 of 3
    slots = [Planned("instagram", day(1, 0)), Planned("instagram", day(1, 2)),
             Planned("instagram", day(1, 4), upcoming=True)]  # fmt: skip
    totals, weeks, platforms = score([W1], slots, [Published("instagram", day(1, 0))])
    assert (totals.planned, totals.kept, totals.upcoming) == (2, 1, 1)
    assert totals.adherence == Decimal("0.5") and weeks[0].met is False
    assert platforms[0].upcoming == 1
    # a week entirely ahead is not judged at all
    ahead = [Planned("facebook", day(2, d), upcoming=True) for d in (1, 3)]
    totals, weeks, _ = score([day(2, 0)], ahead, [])
    assert totals.adherence is None and weeks[0].met is None and weeks[0].upcoming == 2


def test_nothing_planned_is_not_defined_not_zero() -> None:
    totals, weeks, _ = score([W1], [], [Published("x", W1)])
    assert totals.adherence is None and totals.consistency is None
    assert weeks[0].met is None and weeks[0].published == 1
    assert ratio(0, 0) is None and ratio(0, 4) == 0


def test_mix_against_the_strategy_targets() -> None:
    # 12 published: Recipes 6, Team 3, Offers 2, one without a pillar.
    # Achieved 6/12 = 50 %, 3/12 = 25 %, 2/12 = 16.67 %, 1/12 = 8.33 %;
    # gaps against 50/30/20: 0, -5, -3.33 points.
    pillars = ["Recipes"] * 6 + ["Team"] * 3 + ["Offers"] * 2 + [None]
    posts = [Published("instagram", W1, pillar=p, stage="awareness") for p in pillars]
    result = mix(posts, pillars={"Recipes": Decimal(50), "Team": Decimal(30),
                                 "Offers": Decimal(20)},
                 content_types={}, stages={"awareness": Decimal(60),
                                           "conversion": Decimal(40)})  # fmt: skip
    rows = {r.name: (r.published, r.achieved_pct, r.target_pct, r.gap_pct) for r in result.pillar}
    assert rows == {
        "Recipes": (6, Decimal("50.00"), Decimal(50), Decimal("0.00")),
        "Team": (3, Decimal("25.00"), Decimal(30), Decimal("-5.00")),
        "Offers": (2, Decimal("16.67"), Decimal(20), Decimal("-3.33")),
        "(none)": (1, Decimal("8.33"), None, None),
    }
    stages = {r.name: (r.achieved_pct, r.gap_pct) for r in result.stage}
    assert stages == {"awareness": (Decimal("100.00"), Decimal("40.00")),
                      "conversion": (Decimal("0.00"), Decimal("-40.00"))}  # fmt: skip


def test_iso_weeks_at_year_ends() -> None:
    # ISO 8601: 1 January 2027 is a Friday of 2026-W53; 31 December 2024 is in 2025-W01
    assert iso_week(date(2027, 1, 1)) == "2026-W53"
    assert iso_week(date(2024, 12, 31)) == "2025-W01"
    assert monday(date(2027, 1, 1)) == date(2026, 12, 28)
    assert weeks_of(date(2026, 12, 28), date(2027, 1, 11)) == [date(2026, 12, 28), W1]
